#!/usr/bin/env bash
# make bench: every benchmark, side by side with its peer in the same run,
# written to bench/REPORT.md.  The tokenizer and embed_index benchmarks run
# first (bench/tokenize.sh, bench/index.sh: long) unless QUICK=1, and their
# tables are folded in.  Needs the default model (make model) and, for
# the peers, npm (sqlite-vec-linux-x64@0.1.9); a missing peer is reported
# as such, never invented.  The shard benchmark (bench/shards.sh) runs
# and is folded in the same way.
#
#   bash bench/run.sh [BUILD]
set -u
BUILD=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
for b in bench bench_index bench_tokenize nometrics/embed.so; do
  if [ ! -e "$BUILD/$b" ]; then
    echo "bench/run.sh: $BUILD/$b is missing; run 'make bench'" >&2
    exit 2
  fi
done
out=bench/REPORT.md
raw=build/bench.raw
: > "$raw"
shared=../shared
vec0=$(bash test/fetch-vec0.sh) || vec0=

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
cores=$(nproc)
flags=$(grep -m1 -w -o -E 'avx2|avx512_vpopcntdq|f16c|popcnt' /proc/cpuinfo | sort -u | tr '\n' ' ')
kernels=$("$BUILD/unit_kernels" | head -1 | sed 's/^unit_kernels: //')

if [ "${QUICK:-0}" != 1 ]; then
  bash bench/tokenize.sh "$BUILD" >&2 || echo "bench: tokenize benchmark failed" >&2
  bash bench/index.sh "$BUILD" >&2 || echo "bench: index benchmark failed" >&2
  bash bench/shards.sh "$BUILD" >&2 || echo "bench: shards benchmark failed" >&2
fi

# The default model is potion-base-4M-int8 (make model); GloVe's 145 MB
# file (make model-glove), where it is built, shows cold start flat in size.
glove=models/glove.emb
[ -f "$glove" ] || glove=
echo "bench: cold start" >&2
"$BUILD/bench" coldstart "$BUILD/embed.so" "$BUILD/test/mini.emb" models/default.emb \
  $( [ -f "$BUILD/test/l3.emb" ] && echo "$BUILD/test/l3.emb" ) $glove >> "$raw"
echo "bench: embed()" >&2
"$BUILD/bench" embed "$BUILD/embed.so" models/default.emb "$shared/data/stsb_sentences.txt" >> "$raw"
[ -n "$glove" ] && "$BUILD/bench" embed "$BUILD/embed.so" "$glove" "$shared/data/stsb_sentences.txt" >> "$raw"
echo "bench: quality (STS-B, Banking77)" >&2
qm="default=models/default.emb"
[ -n "$glove" ] && qm="$qm glove=$glove"
[ -f models/raw.emb ] && qm="$qm glove_raw=models/raw.emb"
"$BUILD/quality" --banking="$shared/data/banking77" "$BUILD/embed.so" \
  "$shared/data/stsb_test.tsv" $qm | sed 's/^/quality /' >> "$raw"
if [ -n "$vec0" ]; then
  echo "bench: hamming() and cosine() vs sqlite-vec" >&2
  "$BUILD/bench" distance "$BUILD/embed.so" "$vec0" >> "$raw"
fi
echo "bench: memory bandwidth" >&2
"$BUILD/bench" bandwidth >> "$raw"
echo "bench: the Hamming scan kernel" >&2
"$BUILD/bench" scan >> "$raw"
echo "bench: embed_dedup, embed_kmeans" >&2
"$BUILD/bench" toolkit "$BUILD/embed.so" "$BUILD/test/mini.emb" >> "$raw"
# The HTTP server's start to its first answer (bench/serve.sh: about 20 s),
# into bench/SERVE.md, folded in below.
echo "bench: python3 -m sqlite_embed serve, start to first answer" >&2
bash bench/serve.sh >&2 || echo "bench: serve benchmark failed" >&2

# What embed_metrics() counting costs embed(): instructions (callgrind,
# repeatable whatever else the machine does) of embed() over 3,000 STS-B
# sentences, with counting and with it compiled out, less the same query
# without embed().
metric_instr() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null sqlite3 :memory: \
    ".load $1" "CREATE TABLE t(x TEXT)" ".import $tmp3k t" "$2" 2>&1 \
    | sed -n 's/.*Collected : //p'
}
if command -v valgrind >/dev/null && [ -f "$BUILD/nometrics/embed.so" ]; then
  echo "bench: metrics overhead (callgrind)" >&2
  tmp3k=$(mktemp); head -3000 "$shared/data/stsb_sentences.txt" > "$tmp3k"
  base=$(SQLITE_EMBED_MODEL=models/default.emb metric_instr "$BUILD/embed" "SELECT sum(length(x)) FROM t")
  with=$(SQLITE_EMBED_MODEL=models/default.emb metric_instr "$BUILD/embed" "SELECT sum(length(embed(x))) FROM t")
  without=$(SQLITE_EMBED_MODEL=models/default.emb metric_instr "$BUILD/nometrics/embed" "SELECT sum(length(embed(x))) FROM t")
  echo "metrics instr_base $base instr_with $with instr_without $without" >> "$raw"
  if [ -n "$glove" ]; then
    gwith=$(SQLITE_EMBED_MODEL=$glove metric_instr "$BUILD/embed" "SELECT sum(length(embed(x))) FROM t")
    echo "metrics glove instr_with $gwith" >> "$raw"
  fi
  rm -f "$tmp3k"
fi

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
  echo "| cold start, the same with the default model (potion-base-4M-int8, $(awk -v b="$model_bytes" 'BEGIN{printf "%.1f", b/1e6}') MB) | ${cs_big} µs | | $(ratio "$cs_big" "$cs_mini")× the small model's | < 1,000 µs |"
  if [ -n "$glove" ]; then
    cs_g=$(val "coldstart $glove" total_us)
    echo "| cold start, the same with GloVe ($(( $(stat -L -c %s "$glove")/1000000 )) MB) | ${cs_g} µs | | $(ratio "$cs_g" "$cs_mini")× the small model's | flat in size |"
  fi
  er=$(val "^embed models/default.emb" rows_per_s)
  echo "| embed() over $(val '^embed ' rows) STS-B sentences, default model, one core | $er rows/s | WordLlama's claim: 8,000/s | $(ratio "$er" 8000)× | ≥ 400,000 rows/s |"
  if [ -n "$glove" ]; then
    eg=$(val "^embed $glove" rows_per_s)
    echo "| (the same with GloVe, in the same run) | $eg rows/s | | default $(ratio "$er" "$eg")× GloVe's | |"
  fi
  w=$(val "^metrics" instr_with); b=$(val "^metrics" instr_base); gw=$(val "^metrics glove" instr_with)
  if [ -n "$w" ]; then
    awk -v w="$w" -v b="$b" -v g="$gw" 'BEGIN{ printf "| embed() instructions a call, default model (callgrind, 3,000 STS-B sentences, less the same query without embed()) | %.0f | %s | %s | |\n", (w-b)/3000, g ? sprintf("GloVe: %.0f", (g-b)/3000) : "", g ? sprintf("%.2f× GloVe'"'"'s", (w-b)/(g-b)) : "" }'
  fi
  while read -r _ name what rest; do
    case "$what" in
      Spearman) sp=$(sed -E 's/.*= ([0-9.]+).*/\1/' <<<"$rest")
        bk=$(grep -E "^quality $name +Banking77" "$raw" | head -1 | sed -E 's/.*= ([0-9.]+)%.*/\1/')
        tgt=""; [ "$name" = default ] && tgt="≥ 74.0 and ≥ 87%"
        echo "| quality of $name: STS-B test Spearman ×100, Banking77 1-NN accuracy | $sp, ${bk}% | | | $tgt |" ;;
    esac
  done < <(grep -E '^quality [a-z_]+ +Spearman' "$raw")
  if [ -n "$vec0" ]; then
    h=$(val "distance hamming " ns_per_row); vh=$(val "distance vec_distance_hamming" ns_per_row)
    c=$(val "distance cosine " ns_per_row); vc=$(val "distance vec_distance_cosine" ns_per_row)
    echo "| hamming() per row, 256-bit codes, 100,000 rows | $h ns | vec_distance_hamming $vh ns | $(ratio "$vh" "$h")× faster | ≥ 1× |"
    echo "| cosine() per row, 256 dims, 100,000 rows | $c ns | vec_distance_cosine $vc ns | $(ratio "$vc" "$c")× faster | ≥ 1× |"
    echo "| (reading the same rows with no function) | $(val 'distance scan' secs | awk '{printf "%.1f", $1*1e4}') ns | | | |"
  else
    echo "| hamming(), cosine() vs sqlite-vec | | npm unreachable: not measured | | |"
  fi
  bw=$(val bandwidth GB_per_s)
  echo "| memory bandwidth, a plain 64-bit read loop over 1 GiB | $bw GB/s | | | the limit for scans |"
  best=$(grep '^scan ' "$raw" | tail -1)
  sname=$(awk '{print $2}' <<<"$best"); sgb=$(awk '{for(i=1;i<NF;i++) if($i=="GB_per_s") print $(i+1)}' <<<"$best")
  pgb=$(awk '$2=="portable"{for(i=1;i<NF;i++) if($i=="GB_per_s") print $(i+1)}' "$raw")
  echo "| Hamming scan of embed_index, 1M × 256-bit codes, kernel $sname | $sgb GB/s | portable kernel $pgb GB/s | $(ratio "$sgb" "$bw") of the bandwidth | ≥ 0.5 of the bandwidth |"
  for nb in 16 32 64; do
    w=$(grep "^scanwithin $sname bytes $nb " "$raw" | awk '{for(i=1;i<NF;i++) if($i=="GB_per_s") print $(i+1)}')
    wp=$(grep "^scanwithin portable bytes $nb " "$raw" | awk '{for(i=1;i<NF;i++) if($i=="GB_per_s") print $(i+1)}')
    [ -n "$w" ] && echo "| the index's scan as it runs (xHammingWithin, 512 rows a call), 32 MB of $((nb*8))-bit codes, kernel $sname | $w GB/s | portable kernel $wp GB/s | $(ratio "$w" "$bw") of the bandwidth | |"
  done
  w=$(val "^metrics" instr_with); wo=$(val "^metrics" instr_without); b=$(val "^metrics" instr_base)
  if [ -n "$w" ]; then
    awk -v w="$w" -v wo="$wo" -v b="$b" 'BEGIN{ printf "| embed_metrics() counting: instructions per embed() call, with / without (callgrind, 3,000 sentences) | %.0f | %.0f compiled out | +%.2f%% | not measurable |\n", (w-b)/3000, (wo-b)/3000, 100*(w-wo)/(wo-b) }'
  fi
  echo "| embed_dedup('t', 0.95) over 100,000 rows of 100 dims (5,000 planted near copies: $(val 'toolkit dedup' pairs) pairs found) | $(val 'toolkit dedup' secs) s | | | fast enough for 100,000 rows |"
  echo "| embed_kmeans('t', 16, 10) over the same rows | $(val 'toolkit kmeans' secs) s | | | |"
  echo
  echo "Tokenizers against Hugging Face's (from \`make bench-tokenize\`, bench/TOKENIZE.md):"
  echo
  [ -f bench/TOKENIZE.md ] && sed -n '/^| tokenizer/,/^$/p' bench/TOKENIZE.md
  echo "embed_index against sqlite-vec's vec0 at 256 dims (from \`make bench-index\`, bench/INDEX.md):"
  echo
  [ -f bench/INDEX.md ] && sed -n '/^| rows | index/,/^$/p' bench/INDEX.md
  echo
  echo "The HTTP server, python3 -m sqlite_embed serve, from its start to its first /embed answer (from \`make bench-serve\`, bench/SERVE.md):"
  echo
  [ -f bench/SERVE.md ] && sed -n '/^| figure | ours (median)/,/^$/p' bench/SERVE.md
  echo
  echo "embed_index over 1, 2 and 4 shards (from \`make bench-shards\`, bench/SHARDS.md):"
  echo
  [ -f bench/SHARDS.md ] && sed -n '/^| quant | shards/,/^$/p' bench/SHARDS.md
  echo
  echo "Raw output of this run:"
  echo
  echo '```'
  cat "$raw"
  echo '```'
} > "$out"
cat "$out"
