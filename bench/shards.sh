#!/usr/bin/env bash
# make bench-shards: top-10 latency over 1, 2 and 4 shards (bench/shards.c),
# exact (quant=none) and binary, into bench/SHARDS.md; bench/run.sh runs it
# and folds its table into bench/REPORT.md.
#
#   bash bench/shards.sh [BUILD]                  1M rows of 256 dims
#   BENCH_SHARDS_ROWS=100000 bash bench/shards.sh  fewer rows
#   BENCH_SHARDS_REUSE=1 bash bench/shards.sh      the report again, from build/
#
# About 5 minutes at 1M rows on 2 idle cores (six builds of 1M rows; the shard
# files, up to 1.1 GB at a time, live in BUILD/shards and are removed as
# soon as each is measured).  Runs under nice.
set -u
BUILD=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
out=bench/SHARDS.md
raw=build/bench_shards.raw
rows=${BENCH_SHARDS_ROWS:-1000000}

if [ -z "${BENCH_SHARDS_REUSE:-}" ]; then
  if [ ! -x "$BUILD/bench_shards" ]; then
    echo "bench-shards: $BUILD/bench_shards is missing (make bench-shards builds it)" >&2
    exit 1
  fi
  mkdir -p "$BUILD/shards"
  echo "bench-shards: $rows rows, 1, 2 and 4 shards" >&2
  {
    echo "date $(date -u +%Y-%m-%d)"
    echo "kernels $("$BUILD/unit_kernels" | head -1 | sed 's/^unit_kernels: variants: //')"
    echo "load start $(cut -d' ' -f1-3 /proc/loadavg)"
  } > "$raw.tmp"
  if ! nice -n 10 "$BUILD/bench_shards" "$BUILD/embed.so" "$BUILD/shards" "$rows" 256 \
       none binary >> "$raw.tmp"; then
    echo "bench-shards: bench_shards failed; $raw and $out are left as they were" >&2
    rm -f "$raw.tmp" "$BUILD"/shards/*.db
    exit 1
  fi
  echo "load end $(cut -d' ' -f1-3 /proc/loadavg)" >> "$raw.tmp"
  mv "$raw.tmp" "$raw"
  rmdir "$BUILD/shards" 2>/dev/null
fi

# The value after key $1 on each line of stdin.
field() { awk -v k="$1" '{ for(i=1;i<NF;i++) if($i==k){ print $(i+1); next } }'; }
day=$(sed -n 's/^date //p' "$raw")
kern=$(sed -n 's/^kernels //p' "$raw")
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)

{
  echo "# Sharded top-k benchmark"
  echo
  echo "Made by \`make bench-shards\` (bench/shards.sh, bench/shards.c) on $day."
  echo "Machine: $cpu, $(nproc) cores (shared); kernel variants: $kern; $(sqlite3 --version | cut -d' ' -f1-2 | sed 's/^/SQLite /')."
  echo "Load average (1, 5, 15 min) at the start: $(sed -n 's/^load start //p' "$raw"); at the end: $(sed -n 's/^load end //p' "$raw")."
  echo "Other work on the machine slows the memory-bound scans even in CPU time, so"
  echo "compare the rows of one run with each other, not with other runs."
  echo
  echo "$rows synthetic clustered vectors of 256 dims (bench/index.c's generator), row r in"
  echo "shard r mod N, each shard a database file with an \`embed_index(dims=256)\`"
  echo "(binary, the default) or \`embed_index(dims=256, quant=none)\` (exact)."
  echo "Mean top-10 latency over 40 queries, each the best of 2 passes:"
  echo
  echo "- **attached**: one connection, the N files ATTACHed, one SQL query (each"
  echo "  shard's \`MATCH ... AND k = 10\`, \`UNION ALL\`, \`ORDER BY distance, id LIMIT 10\`):"
  echo "  the shards are searched one after the other; CPU time of the thread;"
  echo "- **parallel**: one connection and thread per shard, asked at once, the N"
  echo "  lists merged by the caller; wall time, so it depends on how many of this"
  echo "  machine's $(nproc) cores other work leaves free;"
  echo "- **slowest shard**: each shard's own top-10 alone, CPU time; the slowest"
  echo "  one's, which is a query's latency with a machine (a dqlite cluster) per"
  echo "  shard, before the network round trip and the merge of N × 10 rows."
  echo
  echo "\"= 1 shard\" counts the queries whose merged answer (rowids and distances)"
  echo "equals the 1-shard answer: for quant=none it must be all of them (the"
  echo "merge of exact per-shard answers is exact). Recall@10 is binary's against"
  echo "the exact answer. First query: the attached connection's first query,"
  echo "which builds every shard's in-memory cache."
  echo
  echo "| quant | shards | attached ms | parallel ms | slowest shard ms | slowest shard vs 1 shard | = 1 shard | recall@10 | insert rows/s | first query ms |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for q in none binary; do
    one=$(grep "^shards quant $q shards 1 " "$raw" | field slowest_shard_ms)
    for n in 1 2 4; do
      l=$(grep "^shards quant $q shards $n " "$raw")
      b=$(grep "^build quant $q shards $n " "$raw")
      [ -n "$l" ] || continue
      s=$(field slowest_shard_ms <<<"$l")
      ratio=$(awk -v a="$one" -v b="$s" 'BEGIN{ if(a>0 && b>0) printf "%.2f×", b/a; else print "n/a" }')
      rc=$(field recall10 <<<"$l")
      echo "| $q | $n | $(field attached_ms <<<"$l") | $(field parallel_ms <<<"$l") | $s | $ratio | $(field same_as_1_shard <<<"$l") | ${rc:--} | $(field insert_rows_per_s <<<"$b") | $(field first_ms <<<"$l") |"
    done
  done
  echo
  echo "Raw output of this run:"
  echo
  echo '```'
  cat "$raw"
  echo '```'
} > "$out"
cat "$out"
