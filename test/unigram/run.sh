#!/usr/bin/env bash
# The Unigram tokenizer's pre-tokenizers, byte fallback and prepend schemes
# against Hugging Face's tokenizers@0.23.2 (npm, the same install as
# test/norm/run.sh's, in BUILD/hf): variants.py makes Model2Vec folders
# whose tokenizer.json is a shared Unigram tokenizer with another
# pre_tokenizer; ../shared/tools/golden.mjs gives Hugging Face's ids for
# about 2,000 texts each; embed-convert converts each folder and
# `unit_golden --check` compares.  Skipped, saying why, without node,
# ../shared, or where npm cannot install tokenizers.  Prints "N passed,
# N failed[, N skipped]".
#
#   bash test/unigram/run.sh [BUILD]
set -u
BUILD=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2
hf=$BUILD/hf
skip() { echo "unigram_hf: skipped: $1"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
command -v node >/dev/null || skip "node not found"
[ -f ../shared/tools/golden.mjs ] || skip "../shared is absent"
if [ ! -d "$hf/node_modules/tokenizers" ]; then
  mkdir -p "$hf" && cp ../shared/tools/package.json "$hf/"
  (cd "$hf" && npm install --silent --no-audit --no-fund >/dev/null 2>&1)
  [ -d "$hf/node_modules/tokenizers" ] || skip "npm could not install tokenizers@0.23.2"
fi
out=$BUILD/unigram
rm -rf "$out"
names=$(/usr/bin/python3 test/unigram/variants.py "$out" ../shared) || { echo "FAIL: variants.py"; echo "0 passed, 1 failed"; exit 1; }
pass=0 fail=0
for n in $names; do
  if ! (cd "$hf" && node "$root/../shared/tools/golden.mjs" "$root/$out/$n/tokenizer.json" \
          "$root/$out/inputs.txt" "$root/$out/$n.jsonl") >/dev/null 2>"$out/$n.err"; then
    echo "FAIL: $n: golden.mjs: $(head -c 300 "$out/$n.err")"; fail=$((fail+1)); continue
  fi
  if ! "$BUILD/embed-convert" model2vec "$out/$n" -o "$out/$n.emb" 2>"$out/$n.err"; then
    echo "FAIL: $n: embed-convert: $(tail -1 "$out/$n.err")"; fail=$((fail+1)); continue
  fi
  if "$BUILD/unit_golden" --check "$out/$n.emb" "$out/$n.jsonl" > "$out/$n.log"; then
    pass=$((pass+1))
  else
    fail=$((fail+1))
  fi
  echo "$n: $(grep -E 'cases' "$out/$n.log" | tail -1)"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
