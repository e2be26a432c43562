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

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
