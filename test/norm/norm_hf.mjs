// norm_hf.mjs: reference cases for the normalizer programs (ext/tokenizer/
// normalize.c, ext/convert/normalizer.c) from Hugging Face's own,
// tokenizers@0.23.2: each normalizer of the list below is put into a
// tokenizer.json, loaded with Tokenizer.fromString(), and its
// normalizeString() run over the inputs.
//
//   node test/norm/norm_hf.mjs NODE_MODULES [--small] | build/norm_hf_check
//
// Prints, for each normalizer k, a line {"cfg": k, "normalizer": {...}},
// then its cases {"cfg": k, "hex": input, "out": output} (UTF-8 in hex).
// The inputs: every code point (but the surrogates) of the 17.0 range, 256
// to a line, each between an "x" and a space (unless --small); 4,000 (with
// --small 150) seeded random strings of letters, marks, white space,
// punctuation and CJK; and the texts of ../shared/golden for the
// normalizers of ../shared/tokenizers (when it is there).
import { createRequire } from 'node:module';
import { readFileSync, existsSync, readdirSync, writeSync } from 'node:fs';
const require = createRequire(process.argv[2] + '/');
const T = require('tokenizers');
const small = process.argv.includes('--small');
const here = new URL('.', import.meta.url).pathname;
const shared = here + '../../../shared';

const cfgs = [
  { type: 'Lowercase' },
  { type: 'StripAccents' },
  { type: 'Strip', strip_left: true, strip_right: true },
  { type: 'Strip', strip_left: true, strip_right: false },
  { type: 'Strip', strip_left: false, strip_right: true },
  { type: 'Prepend', prepend: '\u2581' },
  { type: 'Replace', pattern: { String: 'ab' }, content: 'X' },
  { type: 'Replace', pattern: { String: 'aa' }, content: 'a' },
  { type: 'Replace', pattern: { String: '\u0301' }, content: '' },
  { type: 'Sequence', normalizers: [
    { type: 'Replace', pattern: { String: 'a' }, content: 'b' },
    { type: 'Replace', pattern: { String: 'b' }, content: 'cc' },
    { type: 'Replace', pattern: { String: 'c' }, content: '' },
    { type: 'Replace', pattern: { String: 'e' }, content: 'ea' },
    { type: 'Replace', pattern: { String: 'a' }, content: '\u00e9' },
    { type: 'Replace', pattern: { String: 'aa' }, content: 'a' },
    { type: 'Replace', pattern: { String: ' ' }, content: '  ' } ] },
  { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
  { type: 'Replace', pattern: { Regex: ' {2,}' }, content: '\u2581' },
  { type: 'Replace', pattern: { Regex: 'a+' }, content: '-' },
  { type: 'Replace', pattern: { Regex: '\\.' }, content: '!' },
  { type: 'Replace', pattern: { Regex: '\\s{3,}' }, content: '_' },
  { type: 'Replace', pattern: { Regex: 'ab' }, content: 'ba' },
  { type: 'Sequence', normalizers: [
    { type: 'Lowercase' }, { type: 'Prepend', prepend: '_' },
    { type: 'Sequence', normalizers: [ { type: 'StripAccents' },
      { type: 'Strip', strip_left: false, strip_right: true } ] } ] },
];
cfgs.push({ type: 'Nmt' },
  { type: 'Sequence', normalizers: [
    { type: 'Replace', pattern: { String: 'a' }, content: '\t' }, { type: 'Nmt' },
    { type: 'Replace', pattern: { String: ' ' }, content: '\u0001' }] });
cfgs.push({ type: 'NFD' }, { type: 'NFKD' }, { type: 'NFC' }, { type: 'NFKC' },
  { type: 'Sequence', normalizers: [{ type: 'NFKD' }, { type: 'StripAccents' },
    { type: 'Lowercase' }] },
  { type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'Lowercase' }, { type: 'NFC' }] });
for (let m = 0; m < 16; m++) {
  cfgs.push({ type: 'BertNormalizer', clean_text: !!(m & 1),
              handle_chinese_chars: !!(m & 2), strip_accents: !!(m & 4),
              lowercase: !!(m & 8) });
}
cfgs.push({ type: 'BertNormalizer', clean_text: true, handle_chinese_chars: false,
            strip_accents: null, lowercase: true });
cfgs.push({ type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true,
            strip_accents: null, lowercase: false });
// SentencePiece charsmaps (Precompiled): those of the shared tokenizers
const precompiled = [];
if (existsSync(shared + '/tokenizers')) {
  for (const f of ['t5_small_tokenizer.json', 'nmt_unigram_tokenizer.json']) {
    if (!existsSync(shared + '/tokenizers/' + f)) continue;
    const n = JSON.parse(readFileSync(shared + '/tokenizers/' + f, 'utf8')).normalizer;
    const pc = n.type === 'Precompiled' ? n : n.normalizers.find(m => m.type === 'Precompiled');
    cfgs.push(pc);
    precompiled.push(cfgs.length - 1);
  }
}
const perChar = cfgs.length;     // the normalizers above get every code point

// The normalizers of the project's shared tokenizers (those this code
// implements), over the golden texts
const texts = [];
const named = [];
const same = [];
if (existsSync(shared + '/tokenizers')) {
  for (const f of readdirSync(shared + '/tokenizers').sort()) {
    const j = JSON.parse(readFileSync(shared + '/tokenizers/' + f, 'utf8'));
    if (!j.normalizer) continue;
    const js = JSON.stringify(j.normalizer);
    const k = cfgs.findIndex(c => JSON.stringify(c) === js);
    if (k >= 0) { same.push(k); continue; }   // already in the list: add the texts
    named.push(j.normalizer);
  }
  for (const f of readdirSync(shared + '/golden').sort()) {
    if (!/_public(_random|_real)?\.jsonl$/.test(f)) continue;
    for (const l of readFileSync(shared + '/golden/' + f, 'utf8').split('\n')) {
      if (l.length) texts.push(JSON.parse(l).text);
    }
  }
}

const pool = ['a', 'b', 'c', 'e', 'aa', 'ab', 'A', 'B', 'I', 'S', 'Z', 'ß', 'İ', 'ı',
  'Σ', 'σ', 'ǅ', 'é', 'e\u0301', '\u0301', '\u0300', '\u0323', '\u0345', '\u034F',
  '\u0307', '\u05B0', '\u0E48', '\u0F71', '\u0F73', '\u1DCE', '\u302A', '\u08D4',
  '\u1CF2', '\u0898', '\u20DD', '\u0903', '\u1E69', '\u1F82', '\u01D5', '\u212B',
  '\uAC00', '\u4E2D', '\uF900', '\u3042', '\u{1F600}', '\u{1F3FD}', '\u200D',
  ' ', '  ', '\t', '\n', '\r', '\u000B', '\u000C', '\u001C', '\u0085', '\u00A0',
  '\u1680', '\u180E', '\u2000', '\u2009', '\u200B', '\u2028', '\u202F', '\u3000',
  '\uFEFF', '\u00AD', '\uFFFD', '\u0000', '\u0001', '\u007F', '.', ',', '!', '?',
  '"', "'", '#', '$', '%', '&', '(', ')', '*', '+', '-', '/', ':', ';', '<', '=',
  '>', '@', '[', '\\', ']', '^', '_', '`', '{', '|', '}', '~', '¿', '\u2581',
  '\uE000', 'ｈ', 'Ⅻ', '①', 'ﬁ', 'Hello', 'WORLD',
  // for Precompiled: characters its charsmaps map, and grapheme clusters
  'ª', '²', 'µ', 'Ａ', '＞', '\u0338', 'ｶ', 'ﾞ', '\u3099', 'カ', '\r\n', '\r',
  '\u1100', '\u1161', '\u11A8', '\uAC01', '\u{1F1E6}', '\u{1F1FA}', '\u{1F468}',
  '\u{1F469}', '\u{1F3FB}', '\u0915', '\u094D', '\u0937', '\u093F', '\u0958',
  '\u0600', '\u0903', '\u0E33', '\uFE0F', '\u2764', '\u00BD', '\u2160', '\u3000',
  '\u200C', '\u1160', '\u0CF3',
  // for NFC and NFKC: pieces of composites, blocked and not
  'A\u030A', 'o\u0308\u0301', '\u1E9B\u0323', '\u0344', '\u0F73', '\u0F75', 'ﬁ',
  '\u2126', '\u00C5', '\u0065\u0323\u0301', '\u0301\u0323', '\u05B8\u05B9',
  '\u0B47\u0B3E', '\u0B47\u0B57', '\u0CC6\u0CD5', '\u1025\u102E', '\u{11099}\u{110BA}',
  '\u{11131}\u{11127}', '\u{1D15F}\u{1D165}', '\uAC00\u11A8', '\u1100\u1161\u11A8',
  '\u3131', '\u1FBF', '\u0385', '\u00A8\u0301', '\u2FA1D', '\u{2F800}', '\u0958', '\u0915\u093C',
  '\u212B', '\u1E0A\u0323', '\u0064\u0307\u0323', '\uFDFA', '\u3300', '\u{1D400}',
  '\u00BD', '\u2474', '\u3250', '\u{1F100}', '\u08D3', '\u1AB0', '\u1DFA'];
let seed = 4242;
const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed; };
const randoms = [''];
for (let k = 0; k < (small ? 120 : 4000); k++) {
  const n = 1 + rnd() % 14;
  let s = '';
  for (let j = 0; j < n; j++) s += pool[rnd() % pool.length];
  randoms.push(s);
}
const chunks = [];
const probes = [];     // after a mapped character: does each code point join it?
for (let lo = 0; lo <= 0xFFFF; lo += 256) {
  let s = '';
  for (let c = lo; c < lo + 256; c++) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    s += '\u00AA' + String.fromCodePoint(c) + ' ';
  }
  if (!small || lo % 4096 === 0) probes.push(s);
}
if (!small) {
  for (let lo = 0; lo <= 0x10FFFF; lo += 256) {
    let s = '';
    for (let c = lo; c < lo + 256; c++) {
      if (c >= 0xD800 && c <= 0xDFFF) continue;
      s += 'x' + String.fromCodePoint(c) + ' ';
    }
    chunks.push(s);
  }
}

const out = [];
const flush = () => { writeSync(1, out.join('\n') + '\n'); out.length = 0; };
const hex = s => Buffer.from(s, 'utf8').toString('hex');
const all = cfgs.concat(named);
all.forEach((n, k) => {
  const tj = { version: '1.0', truncation: null, padding: null, added_tokens: [],
    normalizer: n, pre_tokenizer: null, post_processor: null, decoder: null,
    model: { type: 'WordLevel', vocab: { '[UNK]': 0 }, unk_token: '[UNK]' } };
  const norm = T.Tokenizer.fromString(JSON.stringify(tj)).getNormalizer();
  out.push(JSON.stringify({ cfg: k, normalizer: n }));
  let inputs = k < perChar ? randoms.concat(chunks) : randoms.concat(small ? texts.slice(0, 150) : texts);
  if (same.includes(k)) inputs = inputs.concat(small ? texts.slice(0, 150) : texts);
  if (JSON.stringify(n).includes('Precompiled')) inputs = inputs.concat(probes);
  for (const s of inputs) {
    out.push(JSON.stringify({ cfg: k, hex: hex(s), out: hex(norm.normalizeString(s)) }));
    if (out.length >= 4096) flush();
  }
});
flush();
