#!/usr/bin/env bash
# The BERT normalizer and pre-tokenizer (ext/tokenizer/bert.c) against
# Hugging Face's own, tokenizers@0.23.2 (npm, the same install as
# bench/tokenize.sh's, in BUILD/hf): every code point and 20,000 random
# mixtures of marks, under all 16 option sets (bert_hf.mjs makes the cases,
# bert_hf_check.c checks them).  Skipped, saying why, without node or
# where npm cannot install tokenizers.  Prints "N passed, N failed[, N
# skipped]".
#
#   bash test/bert/run.sh [BUILD]
set -u
BUILD=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2
hf=$BUILD/hf
if ! command -v node >/dev/null; then
  echo "bert_hf: skipped: node not found"; echo "0 passed, 0 failed, 1 skipped"; exit 0
fi
if [ ! -d "$hf/node_modules/tokenizers" ]; then
  if [ -f ../shared/tools/package.json ]; then
    mkdir -p "$hf" && cp ../shared/tools/package.json "$hf/"
    (cd "$hf" && npm install --silent --no-audit --no-fund >/dev/null 2>&1)
  fi
  if [ ! -d "$hf/node_modules/tokenizers" ]; then
    echo "bert_hf: skipped: npm could not install tokenizers@0.23.2 (or ../shared is absent)"
    echo "0 passed, 0 failed, 1 skipped"; exit 0
  fi
fi
node test/bert/bert_hf.mjs "$root/$hf/node_modules" | "$BUILD/bert_hf_check"
