#!/usr/bin/python3
"""Model2Vec folders whose tokenizer.json is one of the shared Unigram
tokenizers with another pre-tokenizer (and no normalizer, its own, or
another), for
test/unigram/run.sh: every pre-tokenizer and option the converter reads,
each checked against Hugging Face's own ids for the same folder.

usage: variants.py OUTDIR [SHARED]
Writes OUTDIR/NAME/{tokenizer.json, model.safetensors -> the shared
folder's} for each variant, and OUTDIR/inputs.txt (golden.mjs's input: the
texts of the shared t5_small, nmt_unigram and m2v_vocabq_unigram goldens,
some of the random and real ones, and a few made here).
"""
import json
import os
import sys

out = sys.argv[1]
S = sys.argv[2] if len(sys.argv) > 2 else "../shared"

inputs = []
for name, limit in (("t5_small_public", None), ("t5_small_public_random", 700),
                    ("t5_small_public_real", 700), ("nmt_unigram_public", None),
                    ("m2v_vocabq_unigram_public", None)):
    lines = [l for l in open("%s/golden/%s.jsonl" % (S, name)).read().split("\n") if l]
    for l in lines[:limit]:
        inputs.append(json.dumps({"hex": json.loads(l)["hex"]}))
for t in ["  hello   world ", "a\u2581b \u2581c", "Hey 123 friend!! 4,5", "x" * 300,
          "\u00fcber caf\u00e9 \u6771\u4eac \U0001F600 \U00010330\U00010331",
          "<unk> </s>x<pad>", "a\tb\nc", " ", "(phrasefix)(#0)x", "a  b",
          "\u2581\u2581a", "1a2b3c,,.;", "the other thing", "\u24b6\u00b2_x\u200d\u2082y",
          "-" * 64, "x" * 101]:
    inputs.append(json.dumps(t))
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "inputs.txt"), "w") as f:
    f.write("\n".join(inputs) + "\n")

models = {
    "t5": ("tokenizers/t5_small_tokenizer.json", "models/synthetic_m2v_t5_f16"),
    "nmt": ("tokenizers/nmt_unigram_tokenizer.json", "models/synthetic_m2v_nmt_i8"),
    "m2v": ("tokenizers/m2v_vocabq_unigram_tokenizer.json",
            "models/model2vec-rs/test-model-vocab-quantized"),
}


def meta(**k):
    return dict(type="Metaspace", replacement="\u2581", **k)


def split(pattern, behavior, invert=False):
    return {"type": "Split", "pattern": {"String": pattern}, "behavior": behavior,
            "invert": invert}


def seq(*a):
    return {"type": "Sequence", "pretokenizers": list(a)}


# name: (vocabulary, pre_tokenizer, byte_fallback[, normalizer]); without a
# normalizer the variant has none, "keep" keeps the tokenizer's own
VARIANTS = {
    "ws_meta_old": ("t5", seq({"type": "WhitespaceSplit"},
                              {"type": "Metaspace", "replacement": "\u2581",
                               "str_rep": "\u2581", "add_prefix_space": True}), False),
    "meta_always_split": ("nmt", meta(prepend_scheme="always", split=True), False),
    "meta_always_nosplit": ("m2v", meta(prepend_scheme="always", split=False), False),
    "meta_first": ("t5", meta(prepend_scheme="first", split=True), False),
    "whitespace_first": ("t5", seq({"type": "Whitespace"}, meta(prepend_scheme="first")), False),
    "punct_digits_never": ("t5", seq({"type": "Punctuation"},
                                     {"type": "Digits", "individual_digits": True},
                                     meta(prepend_scheme="never")), False),
    "split_previous": ("t5", seq(split(" ", "MergedWithPrevious"),
                                 meta(prepend_scheme="always")), False),
    "split_contiguous": ("t5", seq(split("e", "Contiguous", True),
                                   {"type": "Punctuation", "behavior": "MergedWithNext"},
                                   {"type": "Digits", "individual_digits": False},
                                   meta(prepend_scheme="first", split=False)), False),
    "byte_fallback": ("nmt", meta(prepend_scheme="always", split=True), True),
    "none": ("t5", None, False),
    "split_removed": ("m2v", seq(split("th", "Removed"), split("o", "MergedWithNext"),
                                 {"type": "Punctuation", "behavior": "Removed"},
                                 {"type": "Punctuation", "behavior": "Contiguous"},
                                 meta(prepend_scheme="always")), False),
    "meta_never_split_isolated": ("m2v", seq(meta(prepend_scheme="never", split=True),
                                             split("\u2581", "Isolated", True)), False),
    "nfkc_lower_first": ("t5", seq({"type": "Whitespace"}, meta(prepend_scheme="first")),
                         False, {"type": "Sequence", "normalizers": [
                             {"type": "NFKC"}, {"type": "Lowercase"}]}),
    "precompiled_digits": ("nmt", seq({"type": "Digits", "individual_digits": True},
                                      meta(prepend_scheme="always", split=True)),
                           True, "keep"),
    "m2v_first": ("m2v", seq({"type": "Punctuation"}, meta(prepend_scheme="first")),
                  False, "keep"),
    "t5_meta_first_added": ("t5", seq({"type": "WhitespaceSplit"},
                                      meta(prepend_scheme="first", split=True)),
                            False, "keep"),
}

for name, v in VARIANTS.items():
    m, pre, fallback = v[:3]
    norm = v[3] if len(v) > 3 else None
    tj, folder = models[m]
    d = json.load(open(os.path.join(S, tj)))
    if norm != "keep":
        d["normalizer"] = norm
    d["pre_tokenizer"] = pre
    if fallback:
        d["model"]["byte_fallback"] = True
    dst = os.path.join(out, name)
    os.makedirs(dst, exist_ok=True)
    with open(os.path.join(dst, "tokenizer.json"), "w") as f:
        json.dump(d, f, ensure_ascii=False)
    link = os.path.join(dst, "model.safetensors")
    if not os.path.lexists(link):
        os.symlink(os.path.abspath(os.path.join(S, folder, "model.safetensors")), link)
print(" ".join(VARIANTS))
