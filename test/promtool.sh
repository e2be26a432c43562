#!/usr/bin/env bash
# embed_metrics()'s output after some work, checked by Prometheus' own
# linter (`promtool check metrics`, Debian package prometheus).  Skipped,
# saying so, where promtool is not installed.  Prints "N passed, N failed".
#
#   bash test/promtool.sh BUILD
set -u
BUILD=${1:-build}
if ! command -v promtool >/dev/null; then
  echo "promtool not found (apt-get install prometheus): skipped"
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
fi
if nm -D "$BUILD/embed.so" 2>/dev/null | grep -q __asan_init; then
  export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
  export ASAN_OPTIONS=detect_leaks=0
fi
out=$(sqlite3 -bail :memory: -cmd ".load $BUILD/embed" \
  "SELECT embed_load('m', '$BUILD/test/mini.emb');" \
  "SELECT count(embed('the cat sat', NULL, 'm')) FROM (SELECT 1 UNION SELECT 2);" \
  "CREATE VIRTUAL TABLE ix USING embed_index(model=m);" \
  "INSERT INTO ix(rowid, content) VALUES (1, 'the cat'), (2, 'a dog');" \
  "SELECT count(*) FROM ix WHERE ix MATCH 'cat' AND k = 2;" \
  ".mode list" ".headers off" \
  "SELECT embed_metrics();" 2>&1) || { echo "FAIL: sqlite3: $out"; echo "0 passed, 1 failed"; exit 1; }
metrics=$(sed -n '/^# HELP/,$p' <<<"$out")
if res=$(promtool check metrics <<<"$metrics" 2>&1); then
  echo "promtool check metrics: ok ($(grep -c . <<<"$metrics") lines)"
  echo "1 passed, 0 failed"
else
  echo "FAIL: promtool check metrics:"; echo "$res" | head -20
  echo "0 passed, 1 failed"; exit 1
fi
