#!/usr/bin/env bash
# make bench-index: embed_index measured, and beside sqlite-vec's vec0
# (npm sqlite-vec-linux-x64@0.1.9, fetched by test/fetch-vec0.sh), into
# bench/INDEX.md and bench/index_recall.png.
#
#   bash bench/index.sh [BUILD]            10k, 100k and 1M rows of 256 dims
#                                          (speed), 1M (cold start), and the
#                                          real-text recall
#   BENCH_INDEX_ROWS="10000 100000" bash bench/index.sh   fewer sizes
#   bash bench/index.sh --recall-only [BUILD]   the real-text part alone
#       (about 5 minutes), keeping the speed lines of the last run (from
#       build/bench_index.raw, else from bench/INDEX.md's raw output)
#   BENCH_INDEX_REUSE=1 bash bench/index.sh   the report again, from build/
#
# Recall, and the top-10 latency that buys it, are measured on real text
# (../shared/data, the default model at 64 dims and its own) and drawn by
# gnuplot (if installed) into bench/index_recall.png; speed on clustered
# synthetic vectors (bench/index.c says how they are made), since no
# 256-dim model of real text is at hand, beside sqlite-vec 0.1.9 (npm) and
# 0.1.10 (built from ../shared/peers into build/peers).
set -u
recall_only=
if [ "${1:-}" = --recall-only ]; then recall_only=1; shift; fi
BUILD=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
out=bench/INDEX.md
png=bench/index_recall.png
raw=build/bench_index.raw
shared=../shared
if [ ! -x "$BUILD/bench_index" ] || [ ! -f "$BUILD/embed.so" ]; then
  echo "bench/index.sh: $BUILD/bench_index or $BUILD/embed.so is missing; run 'make bench-index'" >&2
  exit 2
fi
vec0=$(bash test/fetch-vec0.sh) || vec0=-
vec010=-
if [ -x "$shared/peers/sqlite-vec-0.1.10-alpha.3/build.sh" ]; then
  vec010=$(bash "$shared/peers/sqlite-vec-0.1.10-alpha.3/build.sh" build/peers) || vec010=-
fi
model_dims=$(sqlite3 :memory: ".load $BUILD/embed" \
  "SELECT dims FROM embed_models WHERE name='default'" 2>/dev/null)

kernels=$("$BUILD/unit_kernels" | head -1 | sed 's/^unit_kernels: variants: //')

# BENCH_INDEX_REUSE=1 rewrites the report from the last run's raw output.
if [ -z "${BENCH_INDEX_REUSE:-}" ]; then
today=$(date +%Y-%m-%d)
kept=
if [ -n "$recall_only" ]; then
  # The speed part of the last run, with the day it was made and the
  # kernels it used (from the report's header if the raw output does not
  # say).
  if grep -q '^speed ' "$raw" 2>/dev/null; then
    kept=$(grep -E '^(speed|date speed|kernels speed) ' "$raw")
  elif [ -f "$out" ]; then
    kept=$(sed -n '/^```$/,/^```$/p' "$out" | grep -E '^(speed|date speed|kernels speed) ')
  fi
  if [ -n "$kept" ] && ! echo "$kept" | grep -q '^date speed '; then
    day=$(sed -nE 's/^Made by .* on ([0-9-]+)\.$/\1/p' "$out" | head -1)
    kept=$(printf 'date speed %s\n%s' "${day:-unknown}" "$kept")
  fi
  if [ -n "$kept" ] && ! echo "$kept" | grep -q '^kernels speed '; then
    k=$(sed -nE 's/^Machine: .* cores(, L3 cache [^;]*)?; variants: (.*); SQLite .*/\2/p' "$out" | head -1)
    kept=$(printf 'kernels speed %s\n%s' "${k:-unknown}" "$kept")
  fi
fi
: > "$raw"
if [ -d "$shared/data" ]; then
  echo "date recall $today" >> "$raw"
  echo "kernels recall $kernels" >> "$raw"
  for d in ${BENCH_INDEX_DIMS:-64 ${model_dims:-128}}; do
    echo "bench-index: recall and latency at $d dims" >&2
    "$BUILD/bench_index" recall "$BUILD/embed.so" "$vec0" models/default.emb "$d" \
      "$shared/data/stsb_sentences.txt" "$shared/data/wikitext2_sentences.txt" \
      "$shared/data/banking77_texts.txt" >> "$raw"
  done
fi
if [ -n "$recall_only" ]; then
  if [ -n "$kept" ]; then echo "$kept" >> "$raw"; fi
else
  echo "date speed $today" >> "$raw"
  echo "kernels speed $kernels" >> "$raw"
  for n in ${BENCH_INDEX_ROWS:-10000 100000 1000000}; do
    echo "bench-index: $n rows" >&2
    "$BUILD/bench_index" speed "$BUILD/embed.so" "$vec0" "$vec010" "$n" 256 >> "$raw"
  done
  mkdir -p build/coldbench
  for n in ${BENCH_INDEX_COLD:-1000000}; do
    echo "bench-index: a new process's first query, $n rows" >&2
    "$BUILD/bench_index" cold "$BUILD/embed.so" "$vec010" build/coldbench "$n" 256 >> "$raw"
  done
fi
fi

field() { sed -nE "s/.* $1 ([^ ]+).*/\1/p"; }
# The value after each key of the lines on stdin, for keys $1 $2 ...
columns() {
  awk -v keys="$*" 'BEGIN{n=split(keys, k, " ")}
    {delete v; for(i=1;i<NF;i++) v[$i]=$(i+1)
     s=""; for(j=1;j<=n;j++) s=s (j>1?" ":"") v[k[j]]; print s}'
}
rows=$(grep '^speed ' "$raw" | field rows | awk '!seen[$0]++')
day_recall=$(sed -n 's/^date recall //p' "$raw")
day_speed=$(sed -n 's/^date speed //p' "$raw")
kernels_recall=$(sed -n 's/^kernels recall //p' "$raw")
kernels_speed=$(sed -n 's/^kernels speed //p' "$raw")
dims_run=$(grep '^recall dims .* top10_ms ' "$raw" | field dims | awk '!seen[$0]++')

# Recall@10 against top-10 ms, one line per dims through the oversample
# settings, exact search and vec0 float as markers, into $png.
plot() {
  local gp=build/index_recall.gp term xr first d ls cmd=""
  command -v gnuplot >/dev/null || { echo "bench-index: no gnuplot, no $png" >&2; return; }
  term="pngcairo noenhanced size 960,640 font 'Sans,10'"
  gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1 || term="png noenhanced size 960,640"
  # x from a little below the fastest to a little above the slowest
  xr=$(grep '^recall dims .* top10_ms ' "$raw" | columns top10_ms |
       awk 'NR==1{a=b=$1} {if($1<a)a=$1; if($1>b)b=$1} END{printf "%g:%g", a/1.4, b*1.4}')
  first=$(grep -m1 '^recall dims .* top10_ms ' "$raw")
  {
    for d in $dims_run; do
      echo "\$b$d << EOD"
      grep "^recall dims $d .* oversample [0-9]" "$raw" | columns top10_ms recall10 oversample
      echo "EOD"
      echo "\$auto$d << EOD"
      grep "^recall dims $d .* oversample auto " "$raw" | columns top10_ms recall10
      echo "EOD"
      for ix in ours_none vec0_float; do
        echo "\$$ix$d << EOD"
        grep "^recall dims $d .* index $ix " "$raw" | columns top10_ms recall10
        echo "EOD"
      done
    done
    echo "set terminal $term"
    echo "set output '$png'"
    echo "set title 'embed_index on real text: recall against latency ($(echo "$first" | columns rows) rows of the default model, $(echo "$first" | columns queries) held-out queries, one core)'"
    echo "set xlabel 'mean top-10 latency, ms (CPU time of one core; log scale)'"
    echo "set ylabel 'recall@10 against exact search'"
    echo "set logscale x"
    echo "set xrange [$xr]"
    echo "set xtics (0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50)"
    echo "set yrange [0.2:1.04]"
    echo "set ytics 0.1"
    echo "set grid xtics ytics mxtics"
    echo "set key bottom right box opaque spacing 1.2"
    echo "set style line 1 lc rgb '#1b9e77' lw 2 pt 7 ps 1.0"
    echo "set style line 2 lc rgb '#d95f02' lw 2 pt 7 ps 1.0"
    echo "set style line 3 lc rgb '#7570b3' lw 2 pt 7 ps 1.0"
    ls=0
    for d in $dims_run; do
      ls=$((ls + 1))
      [ -n "$cmd" ] && cmd="$cmd, \\"$'\n'"  "
      cmd="$cmd\$b$d using 1:2 with linespoints ls $ls title 'quant=binary, $d dims', \\"$'\n'"  "
      cmd="$cmd\$b$d using 1:2:3 with labels left offset char 0.6,-0.6 font ',8' tc ls $ls notitle, \\"$'\n'"  "
      cmd="$cmd\$auto$d using 1:2 with points ls $ls pt 6 ps 2.4 lw 1.5 notitle, \\"$'\n'"  "
      cmd="$cmd\$ours_none$d using 1:2 with points ls $ls pt 5 ps 1.5 notitle, \\"$'\n'"  "
      cmd="$cmd\$vec0_float$d using 1:2 with points ls $ls pt 9 ps 1.7 notitle"
    done
    echo "plot $cmd, \\"
    echo "  NaN with points lc rgb 'black' pt 6 ps 2.4 lw 1.5 title 'the default (oversample auto)', \\"
    echo "  NaN with points lc rgb 'black' pt 5 ps 1.5 title 'exact (quant=none)', \\"
    echo "  NaN with points lc rgb 'black' pt 9 ps 1.7 title 'sqlite-vec vec0 float[dims]', \\"
    echo "  NaN with dots lc rgb 'white' title 'numbers: oversample'"
  } > "$gp"
  if gnuplot "$gp"; then echo "bench-index: wrote $png" >&2
  else echo "bench-index: gnuplot failed on $gp" >&2; fi
}
[ -n "$dims_run" ] && plot

{
  echo "# embed_index benchmark"
  echo
  if [ -n "$day_speed" ] && [ "$day_speed" != "$day_recall" ]; then
    echo "Made by \`make bench-index\` (bench/index.sh, bench/index.c): the real-text part on ${day_recall:-unknown}, the speed part on $day_speed."
  else
    echo "Made by \`make bench-index\` (bench/index.sh, bench/index.c) on ${day_recall:-$day_speed}."
  fi
  machine="$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores"
  l3=$(lscpu | sed -nE 's/^L3 cache: *([^(]*[^ (]).*/\1/p' | head -1)
  [ -n "$l3" ] && machine="$machine, L3 cache $l3"
  sqlite="SQLite $(sqlite3 --version | cut -d' ' -f1-2)"
  if [ -n "$kernels_recall" ] && [ -n "$kernels_speed" ] && [ "$kernels_recall" != "$kernels_speed" ]; then
    echo "Machine: $machine; kernel variants: $kernels_recall for the real-text part, $kernels_speed for the speed part; $sqlite."
  else
    echo "Machine: $machine; variants: ${kernels_recall:-${kernels_speed:-$kernels}}; $sqlite."
  fi
  echo
  echo "## Recall@10 of quant=binary against exact search, real text"
  echo
  echo "Sentences of STS-B, WikiText-2 and Banking77 (distinct, with a known word),"
  echo "embedded by the default model at the first *dims* dimensions; every 25th"
  echo "held out as a query (1,000 queries).  Under each row of recall, the mean"
  echo "top-10 latency of the same queries in ms: CPU time of the one thread that"
  echo "runs them, each block of 50 queries at its best of 5 passes.  Beside them,"
  echo "exact search (quant=none: the reference), sqlite-vec's vec0 float[dims]"
  echo "(cosine), and a plain SQL scan (an ordinary table, ORDER BY cosine() DESC"
  echo "LIMIT 10), with how many times faster the default is than the scan."
  echo
  echo "| dims | rows | | oversample 1 | 2 | 3 | 4 | 8 | 16 | auto | exact (quant=none) | vec0 float | SQL scan | auto vs scan |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for d in $dims_run; do
    lines=$(grep "^recall dims $d " "$raw")
    [ -n "$lines" ] || continue
    n=$(echo "$lines" | head -1 | field rows)
    for f in recall10 top10_ms; do
      cells=$(echo "$lines" | grep ' oversample [0-9]' | field $f | tr '\n' '|' | sed 's/|$//; s/|/ | /g')
      auto=$(echo "$lines" | grep ' oversample auto ' | field $f)
      none=$(echo "$lines" | grep ' index ours_none ' | field $f)
      vf=$(echo "$lines" | grep ' index vec0_float ' | field $f)
      sq=$(echo "$lines" | grep ' index sql_scan ' | field $f)
      if [ $f = recall10 ]; then
        echo "| $d | $n | recall@10 | $cells | $auto | $none | $vf | | |"
      elif [ -n "$cells" ]; then
        ratio=$(awk -v a="$sq" -v b="$auto" 'BEGIN{if(a>0&&b>0) printf "%.0f×", a/b}')
        echo "| | | top-10 ms | $cells | $auto | $none | $vf | $sq | $ratio |"
      fi
    done
  done
  if [ -n "$dims_run" ] && [ -f "$png" ]; then
    echo
    echo "The same, drawn (bench/index_recall.png): one line per dims through"
    echo "the oversample settings (the numbers by the points); rings are the"
    echo "default (auto), squares exact search, triangles vec0 float."
    echo
    echo "![recall against latency](index_recall.png)"
  fi
  echo
  echo "## Speed at 256 dims (synthetic clustered vectors), one core, in memory"
  echo
  echo "Warm top-10 latency, the best of 3 passes of 50 queries (wall time);"
  echo "inserts in one transaction.  vec010 is sqlite-vec 0.1.10-alpha.3, its"
  echo "rescore(quantizer=bit, oversample=8) index and its plain float KNN; vec0"
  echo "is 0.1.9 from npm.  \"bits at bandwidth\" is the time to read every"
  echo "row's sign bits (dims/8 bytes) at the machine's memory bandwidth,"
  echo "measured in the same run (a read loop over 256 MB)."
  echo
  echo "| rows | index | insert rows/s | top-10 ms | vs vec010 rescore | vs vec010 float |"
  echo "|---|---|---|---|---|---|"
  for n in $rows; do
    vr=$(grep "^speed vec010_rescore rows $n " "$raw" | field top10_ms)
    vf=$(grep "^speed vec010_float rows $n " "$raw" | field top10_ms)
    for ix in ours_binary ours_none vec0_float vec0_bit vec010_rescore vec010_float; do
      l=$(grep "^speed $ix rows $n " "$raw")
      [ -n "$l" ] || continue
      ms=$(echo "$l" | field top10_ms)
      r1=""; r2=""
      [ -n "$vr" ] && [ "$ix" != vec010_rescore ] && r1=$(awk -v a="$vr" -v b="$ms" 'BEGIN{printf "%.1f× faster", a/b}')
      [ -n "$vf" ] && [ "$ix" != vec010_float ] && r2=$(awk -v a="$vf" -v b="$ms" 'BEGIN{printf "%.1f× faster", a/b}')
      echo "| $n | $ix | $(echo "$l" | field insert_rows_per_s) | $ms | $r1 | $r2 |"
    done
  done
  echo
  echo "| rows | memory bandwidth GB/s | bits at bandwidth, ms | ours_binary top-10 ms | ratio |"
  echo "|---|---|---|---|---|"
  for n in $rows; do
    l=$(grep "^speed bandwidth rows $n " "$raw")
    [ -n "$l" ] || continue
    ob=$(grep "^speed ours_binary rows $n " "$raw" | field top10_ms)
    bms=$(echo "$l" | field bits_read_ms)
    echo "| $n | $(echo "$l" | field gb_per_s) | $bms | $ob | $(awk -v a="$ob" -v b="$bms" 'BEGIN{if(b>0) printf "%.2f×", a/b}') |"
  done
  echo
  echo "The bandwidth loop reads 256 MB, past any cache; the sign bits of 1M"
  echo "rows are 32 MB, so a CPU whose last-level cache is that large (see"
  echo "Machine above) keeps part of them between queries, and the scan can"
  echo "beat the bandwidth figure.  Both figures vary from run to run on a"
  echo "shared host (12-17 GB/s on the same machine the same day)."
  echo
  echo "Recall@10 of ours_binary against ours_none on the same synthetic vectors"
  echo "(50 queries):"
  echo
  echo "| rows | oversample 1 | 2 | 4 | 8 | auto |"
  echo "|---|---|---|---|---|---|"
  for n in $rows; do
    l=$(grep "^speed recall ours_binary rows $n " "$raw")
    [ -n "$l" ] || continue
    r() { echo "$l" | grep " oversample $1 " | field recall10; }
    echo "| $n | $(r 1) | $(r 2) | $(r 4) | $(r 8) | $(r auto) |"
  done
  if grep -q '^cold ' "$raw"; then
    echo
    echo "## A new process, and a commit by another one (WAL file, in the OS cache)"
    echo
    echo "Five rounds, ours and vec010 rescore in turn within each: the file read"
    echo "into the OS cache, then a child process that opens it, loads the"
    echo "extension and runs one top-10 query (its time alone is *first query*;"
    echo "the median of the five, with the lowest and highest), a second (ours"
    echo "builds its cache there: the first keeps nothing of what it reads), then"
    echo "20 more (median: *warm*). Then a connection that stays open, warm, while"
    echo "another process (open for the whole run, told by a pipe when to write)"
    echo "commits one row, 11 times: its next query each time (median: *after"
    echo "commit*); and 11 times the same round trip to the writer with nothing"
    echo "committed (*after round trip*)."
    echo
    echo "| rows | index | first query ms (median) | lowest – highest | second query ms | warm ms | first vs vec010 rescore's first | first vs vec010 rescore's warm |"
    echo "|---|---|---|---|---|---|---|---|"
    grep '^cold .* first_query_ms ' "$raw" | while read -r line; do
      ix=$(echo "$line" | awk '{print $2}')
      n=$(echo "$line" | field rows)
      fq=$(echo "$line" | field first_query_ms)
      vr=$(grep "^cold vec010_rescore rows $n " "$raw" | field first_query_ms)
      vw=$(grep "^cold vec010_rescore rows $n " "$raw" | field warm_ms)
      ratio="" ratiow=""
      [ "$ix" != vec010_rescore ] && [ -n "$vr" ] && ratio=$(awk -v a="$fq" -v b="$vr" 'BEGIN{printf "%.2f", a/b}')
      [ "$ix" != vec010_rescore ] && [ -n "$vw" ] && ratiow=$(awk -v a="$fq" -v b="$vw" 'BEGIN{printf "%.2f", a/b}')
      echo "| $n | $ix | $fq | $(echo "$line" | field first_min_ms) – $(echo "$line" | field first_max_ms) | $(echo "$line" | field second_query_ms) | $(echo "$line" | field warm_ms) | $ratio | $ratiow |"
    done
    echo
    m=$(grep '^cold machine ' "$raw")
    if [ -n "$m" ]; then
      echo "The machine, in the same run: a new process's first touch of"
      echo "$(echo "$m" | field fresh_mb) MB of fresh memory in huge pages (what our cache of the sign"
      echo "bits takes) took $(echo "$m" | field touch_ms) ms just after other work and"
      echo "$(echo "$m" | field touch_after_idle_ms) ms after 3 s idle. This virtual machine's host may take"
      echo "back the guest's free memory (free page reporting); memory it took comes"
      echo "back through the host, many times slower (the second figure, when it"
      echo "did). The first query keeps nothing so as not to wait for that, and a"
      echo "second query's time varies with it."
      echo
    fi
    echo "rescore reads its codes from the database at every query, so its warm"
    echo "query is the fairer yardstick for our first one; its first adds its own"
    echo "start-up."
    echo
    echo "| rows | warm ms | after another process's 1-row commit, ms | ratio | after round trip, ms |"
    echo "|---|---|---|---|---|"
    grep '^cold ours_refresh ' "$raw" | while read -r line; do
      w=$(echo "$line" | field warm_ms); a=$(echo "$line" | field after_commit_ms)
      echo "| $(echo "$line" | field rows) | $w | $a | $(awk -v a="$a" -v b="$w" 'BEGIN{if(b>0) printf "%.2f×", a/b}') | $(echo "$line" | field after_roundtrip_ms) |"
    done
  fi
  echo
  echo "Raw output of this run:"
  echo
  echo '```'
  cat "$raw"
  echo '```'
} > "$out"
echo "bench-index: wrote $out" >&2
