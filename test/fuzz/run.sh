#!/usr/bin/env bash
# Runs every libFuzzer target in build/fuzz for SECONDS seconds each (default
# 60), on a corpus in build/fuzz/corpus/NAME seeded from test/fuzz/seeds/NAME
# (and, for the model loader, the test model).  Prints executions and
# coverage per target and "N passed, N failed": a target passes when it ran
# its time without a crash, a leak or a sanitizer report.
set -u
SECONDS_EACH=${1:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2
pass=0 fail=0
for t in fuzz_model fuzz_json fuzz_tokenize fuzz_wordpiece fuzz_sql; do
  bin=build/fuzz/$t
  corpus=build/fuzz/corpus/${t#fuzz_}
  mkdir -p "$corpus"
  [ -d "test/fuzz/seeds/${t#fuzz_}" ] && cp -n test/fuzz/seeds/"${t#fuzz_}"/* "$corpus"/ 2>/dev/null
  [ "$t" = fuzz_model ] && cp -n build/test/mini.emb "$corpus"/mini.emb 2>/dev/null
  [ "$t" = fuzz_model ] && cp -n build/test/m2v_tiny.emb "$corpus"/m2v_tiny.emb 2>/dev/null
  [ "$t" = fuzz_wordpiece ] && [ -d test/fuzz/seeds/tokenize ] \
    && cp -n test/fuzz/seeds/tokenize/* "$corpus"/ 2>/dev/null
  log=build/fuzz/$t.log
  if "$bin" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -max_len=65536 \
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
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
