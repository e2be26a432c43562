// types_bad.ts: misuses the declarations must refuse; tsc --strict must
// report an error on each line marked "error" (test/packages/run.sh counts).
import { load, getLoadablePath } from 'sqlite-embed';

load(42);                                   // error: not a database
load({ prepare: () => ({ get: () => 0 }) });  // error: no loadExtension()
load({ loadExtension: () => 0, prepare: () => ({ get: () => 0 }) }, { model: 7 });  // error: model is a string
const n: number = getLoadablePath();        // error: a string
void n;
