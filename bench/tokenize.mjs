// tokenize.mjs: the throughput of Hugging Face's tokenizers (npm
// tokenizers@0.23.2, its Rust core) on a text file, the peer of
// bench/tokenize.c.  Run with RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
// for one thread (bench/tokenize.sh does).
//
//   node bench/tokenize.mjs NODE_MODULES_DIR TOKENIZER.json TEXT.txt lines|whole
//
// lines: every non-empty line is a text, all encoded in one encodeBatch()
// call; whole: the file (less a final newline) is one text, one encode().
// add_special_tokens=false.  Prints one line: "hf TOKENIZER FILE MODE bytes
// N texts N tokens N idsum N secs S MB_per_s X", the best of 5 runs.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

const [,, nodeDir, tokPath, textPath, mode] = process.argv;
const require = createRequire(resolve(nodeDir) + '/');
const { Tokenizer } = require('tokenizers');
const tok = Tokenizer.fromFile(tokPath);
let text = readFileSync(textPath, 'utf8');
const bytes = Buffer.byteLength(text, 'utf8');
let texts;
if (mode === 'lines') {
  texts = text.split('\n').filter(l => l.length);
} else {
  if (text.endsWith('\n')) text = text.slice(0, -1);
  texts = [text];
}
let best = Infinity, nTok = 0, idSum = 0;
for (let r = 0; r < 5; r++) {
  const t0 = process.hrtime.bigint();
  const encs = mode === 'lines'
    ? await tok.encodeBatch(texts, { addSpecialTokens: false })
    : [await tok.encode(texts[0], null, { addSpecialTokens: false })];
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  if (dt < best) best = dt;
  nTok = 0; idSum = 0;
  for (const e of encs) {
    const ids = e.getIds();
    nTok += ids.length;
    for (const id of ids) idSum = (idSum + id) >>> 0;
  }
}
const nBytes = mode === 'lines' ? bytes : Buffer.byteLength(text, 'utf8');
console.log(`hf ${tokPath} ${textPath} ${mode} bytes ${nBytes} texts ${texts.length} ` +
  `tokens ${nTok} idsum ${idSum} secs ${best.toFixed(4)} MB_per_s ${(nBytes / best / 1e6).toFixed(2)}`);
