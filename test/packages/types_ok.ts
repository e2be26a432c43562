// types_ok.ts: uses of the npm package's declarations that must type-check
// (tsc --strict, in the fresh project of test/packages/run.sh).
import { load, getLoadablePath, getDefaultModelPath, version, ExtensionHost } from 'sqlite-embed';
import sqliteEmbed = require('sqlite-embed');

// A client shaped as better-sqlite3's Database is (its loadExtension
// returns this, prepare() a statement whose get() takes any parameters).
class Statement {
  get(...params: unknown[]): unknown { return params.length; }
}
class Database {
  loadExtension(path: string, entryPoint?: string): this { void path; void entryPoint; return this; }
  prepare(source: string): Statement { void source; return new Statement(); }
}

const db = new Database();
load(db);
load(db, { model: '/models/other.emb' });
sqliteEmbed.load(db, {});
const host: ExtensionHost = db;
const paths: string[] = [getLoadablePath(), getDefaultModelPath(), version, sqliteEmbed.version];
void host; void paths;
