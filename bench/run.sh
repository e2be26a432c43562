#!/usr/bin/env bash
# make bench: every benchmark, side by side with its peer in the same run,
# written to bench/REPORT.md.  Needs the default model (make model) and, for
# the peers, npm (sqlite-vec-linux-x64@0.1.9); a missing peer is reported
# as such, never invented.
#
#   bash bench/run.sh [BUILD]
set -u
BUILD=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
out=bench/REPORT.md
raw=build/bench.raw
: > "$raw"
shared=../shared
vec0=$(bash test/fetch-vec0.sh) || vec0=

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
cores=$(nproc)
flags=$(grep -m1 -w -o -E 'avx2|avx512_vpopcntdq|f16c|popcnt' /proc/cpuinfo | sort -u | tr '\n' ' ')
kernels=$("$BUILD/unit_kernels" | head -1 | sed 's/^unit_kernels: //')

echo "bench: cold start" >&2
"$BUILD/bench" coldstart "$BUILD/embed.so" "$BUILD/test/mini.emb" models/default.emb \
  $( [ -f "$BUILD/test/l3.emb" ] && echo "$BUILD/test/l3.emb" ) >> "$raw"
echo "bench: embed()" >&2
"$BUILD/bench" embed "$BUILD/embed.so" models/default.emb "$shared/data/stsb_sentences.txt" >> "$raw"
if [ -n "$vec0" ]; then
  echo "bench: hamming() and cosine() vs sqlite-vec" >&2
  "$BUILD/bench" distance "$BUILD/embed.so" "$vec0" >> "$raw"
fi
echo "bench: memory bandwidth" >&2
"$BUILD/bench" bandwidth >> "$raw"

val() { awk -v k="$1" -v f="$2" '$0 ~ k { for(i=1;i<NF;i++) if($i==f){print $(i+1); exit} }' "$raw"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if(a>0 && b>0) printf "%.2f", a/b; else print "n/a" }'; }
model_bytes=$(stat -L -c %s models/default.emb)
mini_bytes=$(stat -L -c %s "$BUILD/test/mini.emb")

{
  echo "# sqlite-embed benchmark report"
  echo
  echo "Made by \`make bench\` (bench/run.sh, bench/bench.c) on $(date -u +%Y-%m-%d)."
  echo "Machine: $cpu, $cores cores, CPU features: ${flags:-none}; kernel $kernels; $(sqlite3 --version | cut -d' ' -f1-2 | sed 's/^/SQLite /')."
  echo "Each figure is the best of 5 runs (20 for cold start) in one process, ours and the peer's in the same run."
  echo
  echo "| figure | ours | peer | ratio | target |"
  echo "|---|---|---|---|---|"
  cs_mini=$(val "coldstart $BUILD/test/mini.emb" total_us)
  cs_big=$(val "coldstart models/default.emb" total_us)
  echo "| cold start: open + load extension + load model + first embed(), $mini_bytes-byte model | ${cs_mini} µs | | | < 1,000 µs |"
  echo "| cold start, the same with the $((model_bytes/1000000)) MB default model | ${cs_big} µs | | $(ratio "$cs_big" "$cs_mini")× the small model's | < 1,000 µs, flat in size |"
  er=$(val "^embed " rows_per_s)
  echo "| embed() over $(val '^embed ' rows) STS-B sentences, default model, one core | $er rows/s | WordLlama's claim: 8,000/s | $(ratio "$er" 8000)× | ≥ 200,000 rows/s |"
  if [ -n "$vec0" ]; then
    h=$(val "distance hamming " ns_per_row); vh=$(val "distance vec_distance_hamming" ns_per_row)
    c=$(val "distance cosine " ns_per_row); vc=$(val "distance vec_distance_cosine" ns_per_row)
    echo "| hamming() per row, 256-bit codes, 100,000 rows | $h ns | vec_distance_hamming $vh ns | $(ratio "$vh" "$h")× faster | ≥ 1× |"
    echo "| cosine() per row, 256 dims, 100,000 rows | $c ns | vec_distance_cosine $vc ns | $(ratio "$vc" "$c")× faster | ≥ 1× |"
    echo "| (reading the same rows with no function) | $(val 'distance scan' secs | awk '{printf "%.1f", $1*1e4}') ns | | | |"
  else
    echo "| hamming(), cosine() vs sqlite-vec | | npm unreachable: not measured | | |"
  fi
  echo "| memory bandwidth, a plain 64-bit read loop over 1 GiB | $(val bandwidth GB_per_s) GB/s | | | the limit for scans |"
  echo
  echo "Raw output of this run:"
  echo
  echo '```'
  cat "$raw"
  echo '```'
} > "$out"
cat "$out"
