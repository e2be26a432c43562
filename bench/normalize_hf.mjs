// normalize_hf.mjs: Hugging Face's normalizer (tokenizers@0.23.2, Node) on
// the same text as bench/normalize.c, for bench/normalize.sh.
//
//   node bench/normalize_hf.mjs NODE_MODULES TOKENIZER.json TEXT [lines|doc]
//
// Prints "MB/s <input MB per second> out <output bytes> fnv <FNV-1a>" as
// normalize.c does (UTF-8 bytes; "lines": one normalizeString() call a
// line, which adds the binding's cost of a call to each line).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
const require = createRequire(process.argv[2] + '/');
const T = require('tokenizers');
const [,, , tokPath, textPath, mode] = process.argv;
const norm = T.Tokenizer.fromFile(tokPath).getNormalizer();
const text = readFileSync(textPath, 'utf8');
const items = mode === 'doc' ? [text.replace(/\n+$/, '')] : text.replace(/\n$/, '').split('\n');
const nIn = items.reduce((a, s) => a + Buffer.byteLength(s, 'utf8'), 0);
let h = 2166136261, nOut = 0;
for (const s of items) {
  const b = Buffer.from(norm.normalizeString(s), 'utf8');
  for (const x of b) { h ^= x; h = Math.imul(h, 16777619) >>> 0; }
  if (mode !== 'doc') { h ^= 10; h = Math.imul(h, 16777619) >>> 0; }
  nOut += b.length;
}
let passes = 0;
const t0 = process.hrtime.bigint();
let t = 0;
do {
  for (const s of items) norm.normalizeString(s);
  passes++;
  t = Number(process.hrtime.bigint() - t0) / 1e9;
} while (t < 1.0);
console.log(`MB/s ${(nIn * passes / t / 1e6).toFixed(1)} out ${nOut} fnv ${h.toString(16).padStart(8, '0')}`);
