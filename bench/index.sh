#!/usr/bin/env bash
# make bench-index: embed_index measured, and beside sqlite-vec's vec0
# (npm sqlite-vec-linux-x64@0.1.9, fetched by test/fetch-vec0.sh), into
# bench/INDEX.md.
#
#   bash bench/index.sh [BUILD]            10k, 100k and 1M rows of 256 dims
#   BENCH_INDEX_ROWS="10000 100000" bash bench/index.sh   fewer sizes
#   BENCH_INDEX_REUSE=1 bash bench/index.sh   the report again, from build/
#
# Recall is measured on real text (../shared/data, the default model at 32,
# 64 and 100 dims); speed on clustered synthetic vectors (bench/index.c
# says how they are made), since no 256-dim model of real text is at hand.
set -u
BUILD=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
out=bench/INDEX.md
raw=build/bench_index.raw
shared=../shared
rows=${BENCH_INDEX_ROWS:-10000 100000 1000000}
vec0=$(bash test/fetch-vec0.sh) || vec0=-

# BENCH_INDEX_REUSE=1 rewrites the report from the last run's raw output.
if [ -z "${BENCH_INDEX_REUSE:-}" ]; then
: > "$raw"
if [ -d "$shared/data" ]; then
  for d in 32 64 100; do
    echo "bench-index: recall at $d dims" >&2
    "$BUILD/bench_index" recall "$BUILD/embed.so" models/default.emb "$d" \
      "$shared/data/stsb_sentences.txt" "$shared/data/wikitext2_sentences.txt" \
      "$shared/data/banking77_texts.txt" >> "$raw"
  done
fi
for n in $rows; do
  echo "bench-index: $n rows" >&2
  "$BUILD/bench_index" speed "$BUILD/embed.so" "$vec0" "$n" 256 >> "$raw"
done
fi

field() { sed -nE "s/.* $1 ([^ ]+).*/\1/p"; }
{
  echo "# embed_index benchmark"
  echo
  echo "Made by \`make bench-index\` (bench/index.sh, bench/index.c) on $(date +%Y-%m-%d)."
  echo "Machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; $("$BUILD/unit_kernels" | head -1 | sed 's/^unit_kernels: //'); SQLite $(sqlite3 --version | cut -d' ' -f1-2)."
  echo
  echo "## Recall@10 of quant=binary against exact search, real text"
  echo
  echo "Sentences of STS-B, WikiText-2 and Banking77 (distinct, with a known word),"
  echo "embedded by the default model at the first *dims* dimensions; every 25th"
  echo "held out as a query (1,000 queries)."
  echo
  echo "| dims | rows | oversample 1 | 2 | 4 | 8 | 16 | 32 | 64 | 128 | 256 | auto (oversample) |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  for d in 32 64 100; do
    lines=$(grep "^recall dims $d " "$raw")
    [ -n "$lines" ] || continue
    n=$(echo "$lines" | head -1 | field rows)
    cells=$(echo "$lines" | grep -v 'oversample auto' | field recall10 | tr '\n' '|' | sed 's/|$//; s/|/ | /g')
    auto=$(echo "$lines" | grep 'oversample auto' | field recall10)
    def=$(awk -v d=$d 'BEGIN{r=64*(100/d)^1.5; if(r<8)r=8; printf "%d", (r==int(r))?r:int(r)+1}')
    echo "| $d | $n | $cells | $auto ($def) |"
  done
  echo
  echo "## Speed at 256 dims (synthetic clustered vectors), one core"
  echo
  echo "Top-10 latency is the best of 3 passes of 50 queries, after a first query"
  echo "that builds our in-memory cache (its time is the last column; for"
  echo "quant=none at 1M rows that fills 1 GB of fresh memory, most of it the"
  echo "kernel zeroing pages).  ours_binary re-ranks k × 16, at least √rows,"
  echo "candidates, reading each one's vector from its shadow table."
  echo
  echo "| rows | index | insert rows/s | top-10 ms | vs vec0 float | first query ms |"
  echo "|---|---|---|---|---|---|"
  for n in $rows; do
    vf=$(grep "^speed vec0_float rows $n " "$raw" | field top10_ms)
    for ix in ours_binary ours_none vec0_float vec0_bit; do
      l=$(grep "^speed $ix rows $n " "$raw")
      [ -n "$l" ] || continue
      ms=$(echo "$l" | field top10_ms)
      ratio=""
      [ -n "$vf" ] && [ "$ix" != vec0_float ] && ratio=$(awk -v a="$vf" -v b="$ms" 'BEGIN{printf "%.1f× faster", a/b}')
      echo "| $n | $ix | $(echo "$l" | field insert_rows_per_s) | $ms | $ratio | $(echo "$l" | field first_query_ms) |"
    done
  done
  echo
  echo "Recall@10 of ours_binary against ours_none on the same synthetic vectors"
  echo "(50 queries).  Rows are spread over rows/100 centres, at most 1,000, so at"
  echo "1M rows each query has ~1,000 rows at about the same distance and its"
  echo "top-10 are near-ties: a hard case for 1-bit codes, harder than the real"
  echo "text above, which is why the default takes at least √rows candidates:"
  echo
  echo "| rows | oversample 1 | 4 | 16 | 64 | auto (16, ≥ √rows) |"
  echo "|---|---|---|---|---|---|"
  for n in $rows; do
    l=$(grep "^speed recall ours_binary rows $n " "$raw")
    [ -n "$l" ] || continue
    r() { echo "$l" | grep " oversample $1 " | field recall10; }
    echo "| $n | $(r 1) | $(r 4) | $(r 16) | $(r 64) | $(r auto) |"
  done
  echo
  echo "Raw output of this run:"
  echo
  echo '```'
  cat "$raw"
  echo '```'
} > "$out"
echo "bench-index: wrote $out" >&2
