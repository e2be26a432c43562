// bert_hf.mjs: reference cases for the BERT normalizer and pre-tokenizer
// (ext/tokenizer/bert.c) from Hugging Face's own, tokenizers@0.23.2.
//
//   node test/bert/bert_hf.mjs NODE_MODULES | build/bert_hf_check
//
// Prints one JSON line per case: {"m": options, "hex": input (UTF-8),
// "words": [...] (each in hex, as words may hold U+0000)}, the words of BertPreTokenizer over BertNormalizer's
// output, with m's bits 1 clean_text, 2 handle_chinese_chars,
// 4 strip_accents, 8 lowercase.  The inputs: every code point (but the
// surrogates) of the 17.0 range, 256 to a line, each after an "x" and
// before a space; and 20,000 seeded random strings of letters, marks of
// every kind and class, decomposable characters, CJK and punctuation.
import { createRequire } from 'node:module';
const require = createRequire(process.argv[2] + '/');
const T = require('tokenizers');

const norms = [];
for (let m = 0; m < 16; m++) {
  norms.push(T.bertNormalizer({ cleanText: !!(m & 1), handleChineseChars: !!(m & 2),
                                stripAccents: !!(m & 4), lowercase: !!(m & 8) }));
}
const pre = T.bertPreTokenizer();
const out = [];
function emit(m, s) {
  const words = pre.preTokenizeString(norms[m].normalizeString(s))
    .map(w => Buffer.from(w[0], 'utf8').toString('hex'));
  out.push(JSON.stringify({ m, hex: Buffer.from(s, 'utf8').toString('hex'), words }));
  if (out.length >= 4096) { process.stdout.write(out.join('\n') + '\n'); out.length = 0; }
}
for (let lo = 0; lo <= 0x10FFFF; lo += 256) {
  let s = '';
  for (let c = lo; c < lo + 256; c++) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    s += 'x' + String.fromCodePoint(c) + ' ';
  }
  for (let m = 0; m < 16; m++) emit(m, s);
}
const pool = ['a', 'e', 'i', 'o', 'I', 'S', 'Z', 'ß', 'İ', 'ı', 'Σ', 'σ', 'ς', 'ǅ',
  '\u0301', '\u0300', '\u0323', '\u0327', '\u0345', '\u034F', '\u0307', '\u0308',
  '\u05B0', '\u0591', '\u0E48', '\u0F71', '\u0F72', '\u0F74', '\u1DCE', '\u20D2',
  '\u302A', '\u302E', '\u302F', '\u{1D165}', '\u{1D166}', '\u{1D16D}', '\u{1D172}',
  '\u{16FF0}', '\u08D4', '\u08D3', '\u1AB0', '\u1DF6', '\u0B3C', '\u0BCD',
  '\u1E69', '\u1E0B', '\u0344', '\u0F73', '\u0F75', '\u1F82', '\u01D5', '\u00C5',
  '\u212B', '\u2126', '\u0958', '\u{1109A}', '\u{11938}', '\uAC00', '\uD4DB', '\u1100',
  '\u1161', '\u11A8', '\uF900', '\u4E2D', '\u{2B820}', '\u{2B920}', '\u3042',
  '\u037E', '\u0387', '\u1FEF', '\u2000', '\u00A0', '\u3000', '\u0085', '\u200B',
  '\uFEFF', '\u00AD', '\uFFFD', '\u0000', '\u0001', '\t', '\n', '\u000B', ' ',
  '.', ',', '!', '#', '$', '¿', '\u2019', '\u00B7', '\uE000', '\u{E0041}',
  '\u1885', '\u1734', '\u07FD', 'ｈ', 'Ⅻ', '①', 'ﬁ', '\u{1F600}', '\u{1F3FD}'];
let seed = 12345;
const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed; };
for (let k = 0; k < 20000; k++) {
  const n = 1 + rnd() % 12;
  let s = '';
  for (let j = 0; j < n; j++) s += pool[rnd() % pool.length];
  emit(rnd() % 16, s);
}
process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
