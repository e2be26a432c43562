#!/usr/bin/env bash
# progress.c against a SQLite newer than Debian's 3.40: the extension built
# with 3.53's headers uses sqlite3_is_interrupted() when the library it is
# loaded into has it, and only then.
#
#   bash test/newsqlite.sh        # from test/run.sh's plain pass
#
# HOW IT WORKS
# better-sqlite3's own SQLite amalgamation (test/clients/fetch-better-
# sqlite3.sh installs it) is compiled once into build/newsqlite/ (about
# 20 s), beside the extension built against its headers and
# test/unit_interrupt.c linked with it.  unit_interrupt then runs three
# ways: the new build in the new SQLite (sqlite3_is_interrupted() path),
# the ordinary build in the new SQLite (SELECT 1 path), and the new build
# in the system's SQLite 3.40 (whose routine table has no
# is_interrupted: the run-time version check must keep off it).  Skipped,
# saying why, where better-sqlite3 is not installed.  Ends with "N passed,
# N failed, N skipped".
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
export EMBED_TEST_DIR=$root/build/test
if ! bash test/clients/fetch-better-sqlite3.sh >/dev/null 2>&1 \
   || [ ! -f build/clients/node_modules/better-sqlite3/deps/sqlite3/sqlite3.c ]; then
  echo "skipped: better-sqlite3's SQLite amalgamation is not installed (test/clients/fetch-better-sqlite3.sh)"
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
fi
if ! make --no-print-directory -s newsqlite >build/newsqlite.log 2>&1; then
  echo "FAIL: building against the new SQLite failed (build/newsqlite.log)"
  echo "0 passed, 1 failed"
  exit 1
fi
passed=0 failed=0
run() {   # NAME EXT PROGRAM
  local out line p f
  out=$(EMBED_EXT=$2 "$3" 2>&1)
  line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
  printf '%s\n' "$out" | grep -v -E '^[0-9]+ passed, [0-9]+ failed' | sed "s/^/$1: /"
  if [ -z "$line" ]; then
    echo "FAIL: $1 exited without a summary line"; failed=$((failed+1)); return
  fi
  p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
  f=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
  passed=$((passed+p)); failed=$((failed+f))
  echo "$1: $line"
}
run "3.53 headers in 3.53" "$root/build/newsqlite/embed" build/newsqlite/unit_interrupt
run "3.40 headers in 3.53" "$root/build/embed" build/newsqlite/unit_interrupt
run "3.53 headers in 3.40" "$root/build/newsqlite/embed" build/unit_interrupt
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
