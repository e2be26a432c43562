#!/usr/bin/env bash
# The normalizer programs against Hugging Face's normalizers (npm
# tokenizers@0.23.2, Rust core, from Node, one thread), same normalizer
# (each tokenizer.json of ../shared/tokenizers that has one) and text:
# ../shared/data/wikitext2_sentences.txt, each line a text, and the same
# lines joined into one text.  Prints a Markdown table of MB/s, the ratio,
# and whether both made the same output (bytes and FNV-1a).
#
#   bash bench/normalize.sh [BUILD]
# Needs ../shared, node and npm (tokenizers is installed into $BUILD/hf on
# first use) and $BUILD/bench_normalize (make).
set -u
BUILD=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
shared=../shared
[ -d "$shared" ] || { echo "bench-normalize: ../shared absent"; exit 1; }
hf=$BUILD/hf
if [ ! -d "$hf/node_modules/tokenizers" ]; then
  mkdir -p "$hf" && cp "$shared/tools/package.json" "$hf/"
  (cd "$hf" && npm install --silent --no-audit --no-fund >/dev/null 2>&1) \
    || { echo "bench-normalize: npm install tokenizers failed"; exit 1; }
fi
export RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
wiki=$shared/data/wikitext2_sentences.txt
doc=$BUILD/bench-norm-doc.txt
tr '\n' ' ' < "$wiki" > "$doc"
echo "| tokenizer.json normalizer | text | ours MB/s | HF MB/s | ratio | same output |"
echo "|---|---|---|---|---|---|"
for t in "$shared"/tokenizers/*.json; do
  node -e "process.exit(JSON.parse(require('fs').readFileSync('$t','utf8')).normalizer?0:1)" || continue
  name=$(basename "$t" _tokenizer.json)
  for mode in lines doc; do
    f=$wiki; [ $mode = doc ] && f=$doc
    ours=$("$BUILD/bench_normalize" "$t" "$f" $mode) || { echo "| $name | $mode | error | | | |"; continue; }
    theirs=$(node bench/normalize_hf.mjs "$root/$hf/node_modules" "$t" "$f" $mode)
    a=$(echo "$ours" | awk '{print $2}'); b=$(echo "$theirs" | awk '{print $2}')
    same=no; [ "$(echo "$ours" | cut -d' ' -f3-)" = "$(echo "$theirs" | cut -d' ' -f3-)" ] && same=yes
    echo "| $name | $mode | $a | $b | $(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.1fx", a/b}') | $same |"
  done
done
