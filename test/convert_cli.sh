#!/usr/bin/env bash
# Tests of the embed-convert command line: usage, exit codes, and clear
# errors (never a crash) on broken input.  Prints "N passed, N failed".
#
#   bash test/convert_cli.sh BUILD
set -u
BUILD=${1:-build}
conv=$BUILD/embed-convert
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

# expect CODE PATTERN -- COMMAND...: exit status CODE and PATTERN (grep -E)
# in what it printed.
expect() {
  local code=$1 pat=$2 out rc; shift 3
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" -eq "$code" ] && grep -qE -- "$pat" <<<"$out"; then
    pass=$((pass+1))
  else
    fail=$((fail+1))
    echo "FAIL: $* -> exit $rc (want $code), output:"
    sed 's/^/    /' <<<"$out" | head -5
    echo "    (wanted /$pat/)"
  fi
}

fix=test/fixtures/mini_wink.json
expect 2 "usage: embed-convert" -- "$conv"
expect 2 "usage: embed-convert" -- "$conv" frobnicate
expect 0 "usage: embed-convert" -- "$conv" --help
expect 2 "-o" -- "$conv" glove-wink "$fix"
expect 2 "." -- "$conv" glove-wink "$fix" -o "$tmp/x.emb" --no-weight --sif-a 0.001
expect 1 "$tmp/missing.json" -- "$conv" glove-wink "$tmp/missing.json" -o "$tmp/x.emb"

# a good conversion, then info on it
expect 0 "28 tokens x 4 dims" -- "$conv" glove-wink "$fix" -o "$tmp/ok.emb"
expect 0 "vocab size +28" -- "$conv" info "$tmp/ok.emb"
expect 0 "tokenizer +word" -- "$conv" info "$tmp/ok.emb"

# broken inputs: truncated, a vector of the wrong length, a word without a
# vector, a wrong word index, not JSON at all
head -c 300 "$fix" > "$tmp/trunc.json"
expect 1 "trunc.json" -- "$conv" glove-wink "$tmp/trunc.json" -o "$tmp/x.emb"
sed 's/"cat": \[-1.0, -4.0, -0.5, 1.0, /"cat": [-1.0, -4.0, 1.0, /' "$fix" > "$tmp/short.json"
expect 1 "short.json.*cat" -- "$conv" glove-wink "$tmp/short.json" -o "$tmp/x.emb"
sed 's/"dog": \[[^]]*\], //' "$fix" > "$tmp/novec.json"
expect 1 "novec.json.*dog" -- "$conv" glove-wink "$tmp/novec.json" -o "$tmp/x.emb"
sed 's/\(\"mat\": \[[^]]*\)8\]/\19]/' "$fix" > "$tmp/index.json"
expect 1 "index.json" -- "$conv" glove-wink "$tmp/index.json" -o "$tmp/x.emb"
echo "not json" > "$tmp/text.json"
expect 1 "text.json" -- "$conv" glove-wink "$tmp/text.json" -o "$tmp/x.emb"
# a failed conversion leaves no output file behind
[ ! -e "$tmp/x.emb" ] && pass=$((pass+1)) || { fail=$((fail+1)); echo "FAIL: x.emb left behind"; }

# info on broken models: the loader's message, exit 1
head -c 1000 "$tmp/ok.emb" > "$tmp/trunc.emb"
expect 1 "trunc.emb.*truncated" -- "$conv" info "$tmp/trunc.emb"
expect 1 "is not a sqlite-embed model" -- "$conv" info "$fix"
expect 1 "No such file" -- "$conv" info "$tmp/none.emb"

# wordllama: usage errors, and a clear error for missing inputs (the
# details are in unit_wordllama)
expect 2 "needs WEIGHTS.safetensors and TOKENIZER.json" -- "$conv" wordllama
expect 2 "-o OUT.emb is missing" -- "$conv" wordllama "$tmp/w.st" "$tmp/t.json"
expect 2 "--dims needs a count" -- "$conv" wordllama "$tmp/w.st" "$tmp/t.json" -o "$tmp/x.emb" --dims 0
expect 1 "t.json': cannot open" -- "$conv" wordllama "$tmp/w.st" "$tmp/t.json" -o "$tmp/x.emb"

# model2vec: the default model's folder converts (also in the
# sentence-transformers layout, and cut to fewer dims); every broken or
# refused folder gives a clear error naming the file and what is wrong,
# and leaves no output behind.
m2v=models/potion-base-4m-int8
expect 2 "model2vec: needs the model's folder" -- "$conv" model2vec
expect 2 "-o OUT.emb is missing" -- "$conv" model2vec "$m2v"
expect 2 "--dims needs a count" -- "$conv" model2vec "$m2v" -o "$tmp/x.emb" --dims 0
expect 0 "29528 tokens, 29528 rows x 128 dims \(I8\)" -- "$conv" model2vec "$m2v" -o "$tmp/p.emb"
expect 0 "source +model2vec" -- "$conv" info "$tmp/p.emb"
expect 0 "tokenizer +wordpiece" -- "$conv" info "$tmp/p.emb"
expect 0 "rows x 64 dims" -- "$conv" model2vec "$m2v" -o "$tmp/p64.emb" --dims 64
expect 0 "^dims +64" -- "$conv" info "$tmp/p64.emb"
expect 1 "--dims 129 is more than the 128 dims" -- "$conv" model2vec "$m2v" -o "$tmp/x.emb" --dims 129
mkdir -p "$tmp/st/0_StaticEmbedding"
cp "$m2v/model.safetensors" "$m2v/tokenizer.json" "$tmp/st/0_StaticEmbedding/"
expect 0 "29528 tokens" -- "$conv" model2vec "$tmp/st" -o "$tmp/st.emb"
expect 1 "nowhere': No such file" -- "$conv" model2vec "$tmp/nowhere" -o "$tmp/x.emb"
expect 1 "not a folder" -- "$conv" model2vec "$m2v/config.json" -o "$tmp/x.emb"
mkdir -p "$tmp/empty"
expect 1 "no model.safetensors in the folder" -- "$conv" model2vec "$tmp/empty" -o "$tmp/x.emb"
mkdir -p "$tmp/notok" && cp "$m2v/model.safetensors" "$tmp/notok/"
expect 1 "no tokenizer.json beside model.safetensors" -- "$conv" model2vec "$tmp/notok" -o "$tmp/x.emb"
# m2vcase NAME PYTHON: a copy of the folder ($m2v, or $M2V_FROM when set),
# changed by PYTHON (d: the folder), for the next expect
m2vcase() {
  rm -rf "$tmp/$1"; mkdir -p "$tmp/$1"; cp "${M2V_FROM:-$m2v}"/* "$tmp/$1/"
  /usr/bin/python3 - "$tmp/$1" <<PY
import json, struct, sys
d = sys.argv[1]
def tok(f):
    t = json.load(open(d + "/tokenizer.json"))
    f(t)
    json.dump(t, open(d + "/tokenizer.json", "w"))
def st(f):
    b = open(d + "/model.safetensors", "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h, data = json.loads(b[8:8+n]), b[8+n:]
    h, data = f(h, data)
    hj = json.dumps(h).encode()
    hj += b" " * (-len(hj) % 8)
    open(d + "/model.safetensors", "wb").write(struct.pack("<Q", len(hj)) + hj + data)
$2
PY
}
if command -v /usr/bin/python3 >/dev/null; then
  m2vcase notjson 'open(d + "/tokenizer.json", "w").write("{not json")'
  expect 1 "tokenizer.json': not valid JSON" -- "$conv" model2vec "$tmp/notjson" -o "$tmp/x.emb"
  m2vcase unigram 'tok(lambda t: t["model"].update(type="Unigram"))'
  expect 1 "unsupported tokenizer feature: a Unigram model without unk_id" -- "$conv" model2vec "$tmp/unigram" -o "$tmp/x.emb"
  m2vcase bpe 'tok(lambda t: t["model"].update(type="BPE"))'
  expect 1 "unsupported tokenizer feature: model type 'BPE'" -- "$conv" model2vec "$tmp/bpe" -o "$tmp/x.emb"
  m2vcase lower 'tok(lambda t: t.update(normalizer={"type": "Lowercase"}))'
  expect 1 "unsupported tokenizer feature: normalizer type 'Lowercase'" -- "$conv" model2vec "$tmp/lower" -o "$tmp/x.emb"
  m2vcase ws 'tok(lambda t: t.update(pre_tokenizer={"type": "Whitespace"}))'
  expect 1 "unsupported tokenizer feature: pre_tokenizer type 'Whitespace'" -- "$conv" model2vec "$tmp/ws" -o "$tmp/x.emb"
  m2vcase nopre 'tok(lambda t: t.update(pre_tokenizer=None))'
  expect 1 "unsupported tokenizer feature: no pre_tokenizer" -- "$conv" model2vec "$tmp/nopre" -o "$tmp/x.emb"
  m2vcase lstrip 'tok(lambda t: t["added_tokens"][2].update(lstrip=True))'
  expect 1 "unsupported tokenizer feature: added token '\[CLS\]' has lstrip=true" -- "$conv" model2vec "$tmp/lstrip" -o "$tmp/x.emb"
  m2vcase normed 'tok(lambda t: t["added_tokens"][4].update(normalized=True))'
  expect 1 "added token '\[MASK\]' has normalized=true" -- "$conv" model2vec "$tmp/normed" -o "$tmp/x.emb"
  m2vcase unk 'tok(lambda t: t["model"].update(unk_token="<nope>"))'
  expect 1 "model.unk_token '<nope>' is not in model.vocab" -- "$conv" model2vec "$tmp/unk" -o "$tmp/x.emb"
  m2vcase strip 'tok(lambda t: t["normalizer"].update(strip_accents="yes"))'
  expect 1 "normalizer.strip_accents must be true or false" -- "$conv" model2vec "$tmp/strip" -o "$tmp/x.emb"
  m2vcase added 'tok(lambda t: t["added_tokens"].append({"id": 29528, "content": "<new>", "special": True}))'
  expect 1 "has 29528 rows, but the tokenizer .* has 29529 tokens \(29528 in model.vocab, 1 more added\)" -- "$conv" model2vec "$tmp/added" -o "$tmp/x.emb"
  m2vcase noemb 'st(lambda h, b: ({"other": h["embeddings"]}, b))'
  expect 1 "no tensor 'embeddings' or 'embedding.weight' \(it has 'other'\)" -- "$conv" model2vec "$tmp/noemb" -o "$tmp/x.emb"
  m2vcase u8 'st(lambda h, b: (h["embeddings"].update(dtype="U8") or h, b))'
  expect 1 "tensor 'embeddings' has dtype U8; it must be F32, F16, BF16 or I8" -- "$conv" model2vec "$tmp/u8" -o "$tmp/x.emb"
  m2vcase trunc 'st(lambda h, b: (h, b[:1000]))'
  expect 1 "model.safetensors': tensor 'embeddings' has data_offsets .*truncated" -- "$conv" model2vec "$tmp/trunc" -o "$tmp/x.emb"
  m2vcase badmap 'st(lambda h, b: (dict(h, mapping={"dtype": "I32", "shape": [29528], "data_offsets": [len(b), len(b) + 4*29528]}), b + struct.pack("<29528i", *([5]*29527 + [29528]))))'
  expect 1 "tensor 'mapping' maps token 29527 to row 29528, but the matrix has 29528 rows" -- "$conv" model2vec "$tmp/badmap" -o "$tmp/x.emb"
  m2vcase nanw 'st(lambda h, b: (dict(h, weights={"dtype": "F32", "shape": [29528], "data_offsets": [len(b), len(b) + 4*29528]}), b + struct.pack("<29528f", *([1.0]*100 + [float("nan")] + [1.0]*29427))))'
  expect 1 "tensor 'weights' holds nan for token 100" -- "$conv" model2vec "$tmp/nanw" -o "$tmp/x.emb"
  m2vcase shortw 'st(lambda h, b: (dict(h, weights={"dtype": "F64", "shape": [7], "data_offsets": [len(b), len(b) + 56]}), b + bytes(56)))'
  expect 1 "tensor 'weights' must have shape \[29528\]" -- "$conv" model2vec "$tmp/shortw" -o "$tmp/x.emb"
  m2vcase config 'open(d + "/config.json", "w").write("[1, 2")'
  expect 1 "config.json': not valid JSON" -- "$conv" model2vec "$tmp/config" -o "$tmp/x.emb"
  # weights and mapping that are right convert, and embed() uses them
  m2vcase good 'st(lambda h, b: (dict(h, weights={"dtype": "F16", "shape": [29528], "data_offsets": [len(b), len(b) + 2*29528]}, mapping={"dtype": "I64", "shape": [29528], "data_offsets": [len(b) + 2*29528, len(b) + 10*29528]}), b + struct.pack("<29528e", *([0.5]*29528)) + struct.pack("<29528q", *range(29528))))'
  expect 0 "29528 rows x 128 dims \(I8\), weights, mapping" -- "$conv" model2vec "$tmp/good" -o "$tmp/good.emb"
  expect 0 "token.weight +F32" -- "$conv" info "$tmp/good.emb"
else
  echo "skipped: /usr/bin/python3 is absent; the broken model2vec folders are not made"
fi

# model2vec with a Unigram tokenizer: model2vec-rs's vocabulary-quantized
# model converts, in the older spelling too (no model type); what is not
# implemented is refused by name, what Hugging Face would not read either
# is called malformed.
vq=../shared/models/model2vec-rs/test-model-vocab-quantized
if [ -d "$vq" ] && command -v /usr/bin/python3 >/dev/null; then
  expect 0 "29524 tokens, 128 rows x 64 dims \(F32\), weights, mapping, tokenizer unigram" -- "$conv" model2vec "$vq" -o "$tmp/vq.emb"
  expect 0 "tokenizer +unigram" -- "$conv" info "$tmp/vq.emb"
  expect 0 "unigram.trie +U32" -- "$conv" info "$tmp/vq.emb"
  export M2V_FROM=$vq
  m2vcase vqold 'tok(lambda t: t["model"].pop("type"))'
  expect 0 "tokenizer unigram" -- "$conv" model2vec "$tmp/vqold" -o "$tmp/vqold.emb"
  m2vcase vqbl 'tok(lambda t: t.update(pre_tokenizer={"type": "ByteLevel"}))'
  expect 1 "unsupported tokenizer feature: pre_tokenizer type 'ByteLevel'" -- "$conv" model2vec "$tmp/vqbl" -o "$tmp/x.emb"
  m2vcase vqre 'tok(lambda t: t.update(pre_tokenizer={"type": "Split", "pattern": {"Regex": "a+"}, "behavior": "Isolated", "invert": False}))'
  expect 1 "unsupported tokenizer feature: pre_tokenizer Split with a Regex pattern \('a\+'\)" -- "$conv" model2vec "$tmp/vqre" -o "$tmp/x.emb"
  m2vcase vqinv 'tok(lambda t: t.update(pre_tokenizer={"type": "Split", "pattern": {"String": "a"}, "behavior": "Isolated"}))'
  expect 1 "malformed pre_tokenizer: Split has no 'invert'" -- "$conv" model2vec "$tmp/vqinv" -o "$tmp/x.emb"
  m2vcase vqaps 'tok(lambda t: t.update(pre_tokenizer={"type": "Metaspace", "replacement": "_", "add_prefix_space": False}))'
  expect 1 "malformed pre_tokenizer: Metaspace has add_prefix_space false but prepend_scheme 'always'" -- "$conv" model2vec "$tmp/vqaps" -o "$tmp/x.emb"
  m2vcase vqrep 'tok(lambda t: t["pre_tokenizer"].update(replacement="ab"))'
  expect 1 "Metaspace.replacement 'ab' is not one character" -- "$conv" model2vec "$tmp/vqrep" -o "$tmp/x.emb"
  m2vcase vqseq 'tok(lambda t: t.update(pre_tokenizer={"type": "Sequence", "pretokenizers": [{"type": "Digits"}] * 17}))'
  expect 1 "pre_tokenizer with more than 16 steps" -- "$conv" model2vec "$tmp/vqseq" -o "$tmp/x.emb"
  m2vcase vqunk 'tok(lambda t: t["model"].update(unk_id=None))'
  expect 1 "unsupported tokenizer feature: a Unigram model without unk_id" -- "$conv" model2vec "$tmp/vqunk" -o "$tmp/x.emb"
  m2vcase vqunk2 'tok(lambda t: t["model"].update(unk_id=29524))'
  expect 1 "model.unk_id 29524 is not below the 29524 pieces" -- "$conv" model2vec "$tmp/vqunk2" -o "$tmp/x.emb"
  m2vcase vqpair 'tok(lambda t: t["model"]["vocab"].__setitem__(3, ["x"]))'
  expect 1 "model.vocab entry 3 is not \[piece, score\]" -- "$conv" model2vec "$tmp/vqpair" -o "$tmp/x.emb"
  m2vcase vqdup 'tok(lambda t: t["model"]["vocab"].__setitem__(3, [t["model"]["vocab"][4][0], -3.0]))'
  expect 1 "vocabulary: " -- "$conv" model2vec "$tmp/vqdup" -o "$tmp/x.emb"
  m2vcase vqnorm 'tok(lambda t: t.update(normalizer={"type": "Nope"}))'
  expect 1 "unsupported tokenizer feature: normalizer type 'Nope'" -- "$conv" model2vec "$tmp/vqnorm" -o "$tmp/x.emb"
  unset M2V_FROM
else
  echo "skipped: ../shared or /usr/bin/python3 is absent; the Unigram folders are not made"
fi
[ ! -e "$tmp/x.emb" ] && pass=$((pass+1)) || { fail=$((fail+1)); echo "FAIL: x.emb left behind by model2vec"; }

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
