#!/usr/bin/env bash
# Runs every libFuzzer target in build/fuzz for SECONDS seconds each (default
# 60), on a corpus in build/fuzz/corpus/NAME seeded from test/fuzz/seeds/NAME
# (and, for the model loader, the test model).  Prints executions and
# coverage per target and "N passed, N failed": a target passes when it ran
# its time without a crash, a leak or a sanitizer report.
#
# Known bugs (test/fuzz/known.txt: TARGET FUNCTION REPRODUCER NOTE) are
# expected to fail until they are fixed: a target with one runs in
# libFuzzer's fork mode, which goes on fuzzing after a crash and keeps each
# crashing input; each is then run again and passes as XFAIL when its first
# stack frame in ext/ is a known bug's FUNCTION, and fails otherwise.  The
# REPRODUCER of each known bug is run too, and fails the run once it no
# longer crashes there (the bug is fixed: remove its line).
set -u
SECONDS_EACH=${1:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2
pass=0 fail=0
known=test/fuzz/known.txt

# The function of the first stack frame in ext/ of the sanitizer report
# that running target $1 on input $2 prints, or nothing.
crash_function() {
  "$1" "$2" 2>&1 | grep -E '^ +#[0-9]+ .* in [A-Za-z_0-9]+ .*/ext/' | head -n 1 \
    | sed -E 's/.* in ([A-Za-z_0-9]+) .*/\1/'
}

for t in fuzz_model fuzz_json fuzz_tokenize fuzz_wordpiece fuzz_unigram fuzz_sql fuzz_shadow fuzz_norm; do
  bin=build/fuzz/$t
  corpus=build/fuzz/corpus/${t#fuzz_}
  mkdir -p "$corpus"
  [ -d "test/fuzz/seeds/${t#fuzz_}" ] && cp -n test/fuzz/seeds/"${t#fuzz_}"/* "$corpus"/ 2>/dev/null
  [ "$t" = fuzz_model ] && cp -n build/test/mini.emb "$corpus"/mini.emb 2>/dev/null
  [ "$t" = fuzz_model ] && cp -n build/test/m2v_tiny.emb "$corpus"/m2v_tiny.emb 2>/dev/null
  [ "$t" = fuzz_model ] && cp -n build/test/m2v_vocabq.emb "$corpus"/m2v_vocabq.emb 2>/dev/null
  if [ "$t" = fuzz_unigram ] && [ ! -f build/test/m2v_vocabq.emb ]; then
    echo "$t: skipped: build/test/m2v_vocabq.emb is absent (../shared)"; continue
  fi
  [ "$t" = fuzz_unigram ] && [ -d test/fuzz/seeds/tokenize ] \
    && cp -n test/fuzz/seeds/tokenize/* "$corpus"/ 2>/dev/null
  [ "$t" = fuzz_wordpiece ] && [ -d test/fuzz/seeds/tokenize ] \
    && cp -n test/fuzz/seeds/tokenize/* "$corpus"/ 2>/dev/null
  log=build/fuzz/$t.log
  knownFns=$(grep -E "^$t " "$known" 2>/dev/null | awk '{print $2}')
  if [ -n "$knownFns" ]; then
    art=build/fuzz/artifacts/$t
    rm -rf "$art" && mkdir -p "$art"
    "$bin" -fork=1 -ignore_crashes=1 -max_total_time="$SECONDS_EACH" \
      -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$art/" "$corpus" \
      > "$log" 2>&1
    nKnown=0 nNew=0
    for f in "$art"/*; do
      [ -f "$f" ] || continue
      fn=$(crash_function "$bin" "$f")
      if [ -n "$fn" ] && grep -qx "$fn" <<<"$knownFns"; then
        nKnown=$((nKnown+1))
      else
        nNew=$((nNew+1))
        echo "FAIL: $t: a new crash (${fn:-no frame in ext/}), input $f"
      fi
    done
    cov=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1 | sed -E 's/^#([0-9]+): cov: ([0-9]+) ft: ([0-9]+).*/\1 executions, cov \2, features \3/')
    if [ "$nNew" -eq 0 ] && grep -q 'INFO: fuzzed for' "$log"; then
      pass=$((pass+1))
      xf=""
      [ "$nKnown" -gt 0 ] && xf="; $nKnown crashing inputs of known bugs (XFAIL, $known)"
      echo "$t: ok, ${cov:-?}, corpus $(ls "$corpus" | wc -l) inputs$xf"
    else
      fail=$((fail+1))
      [ "$nNew" -eq 0 ] && echo "FAIL: $t did not run its time (log: $log)"
    fi
  elif "$bin" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -max_len=65536 \
       -print_final_stats=1 "$corpus" > "$log" 2>&1; then
    pass=$((pass+1))
    execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    cov=$(grep -E '#[0-9]+.*(DONE|pulse|NEW|REDUCE).*cov:' "$log" | tail -1 | sed -E 's/.*cov: ([0-9]+).*ft: ([0-9]+).*/cov \1, features \2/')
    echo "$t: ok, ${execs:-?} executions in ${SECONDS_EACH}s, ${cov:-coverage ?}, corpus $(ls "$corpus" | wc -l) inputs"
  else
    fail=$((fail+1))
    echo "FAIL: $t (log: $log)"
    grep -E 'ERROR|SUMMARY|==[0-9]+==' "$log" | head -5
  fi
done

# Each known bug must still reproduce, or its line must go.
while read -r t fn input note; do
  case "$t" in ''|'#'*) continue ;; esac
  got=$(crash_function "build/fuzz/$t" "$input")
  if [ "$got" = "$fn" ]; then
    echo "XFAIL: $t: $note"
  else
    fail=$((fail+1))
    echo "FAIL: the known bug of $t in $fn no longer reproduces with $input" \
         "(fixed? remove its line from $known)"
  fi
done < "$known"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
