#!/usr/bin/env bash
# The normalizer programs (ext/convert/normalizer.c, ext/tokenizer/
# normalize.c) against Hugging Face's own normalizers, tokenizers@0.23.2
# (npm, the same install as test/bert/run.sh's, in BUILD/hf): every code
# point and 4,000 random strings through each normalizer of
# norm_hf.mjs's list, and the golden texts of ../shared through the
# normalizers of ../shared/tokenizers (norm_hf.mjs makes the cases,
# BUILD/unit_norm - checks them).  Skipped, saying why, without node or
# where npm cannot install tokenizers.  Prints "N passed, N failed[, N
# skipped]".
#
#   bash test/norm/run.sh [BUILD]
set -u
BUILD=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2
hf=$BUILD/hf
if ! command -v node >/dev/null; then
  echo "norm_hf: skipped: node not found"; echo "0 passed, 0 failed, 1 skipped"; exit 0
fi
if [ ! -d "$hf/node_modules/tokenizers" ]; then
  if [ -f ../shared/tools/package.json ]; then
    mkdir -p "$hf" && cp ../shared/tools/package.json "$hf/"
    (cd "$hf" && npm install --silent --no-audit --no-fund >/dev/null 2>&1)
  fi
  if [ ! -d "$hf/node_modules/tokenizers" ]; then
    echo "norm_hf: skipped: npm could not install tokenizers@0.23.2 (or ../shared is absent)"
    echo "0 passed, 0 failed, 1 skipped"; exit 0
  fi
fi
node test/norm/norm_hf.mjs "$root/$hf/node_modules" | "$BUILD/unit_norm" -
