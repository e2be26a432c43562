#!/usr/bin/env bash
# Adds up the "suite ...: N passed, N failed, N skipped" lines of the logs
# given (one per pass of test/run.sh) into the one closing line of make test.
# A log without its suite line (a build that broke, a runner that died)
# counts as a failure.  Exits 1 when anything failed.
set -u
passed=0 failed=0 skipped=0
for log in "$@"; do
  line=$(grep -E '^suite [^:]+: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" 2>/dev/null | tail -n 1)
  if [ -z "$line" ]; then
    echo "FAIL: $log has no suite summary (did the build or a runner fail?)"
    failed=$((failed+1)); continue
  fi
  read -r p f s < <(sed -E 's/^suite [^:]+: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped$/\1 \2 \3/' <<<"$line")
  passed=$((passed+p)); failed=$((failed+f)); skipped=$((skipped+s))
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
