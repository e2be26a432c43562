#!/usr/bin/env bash
# Beyond one machine: build/embed_auto.so preloaded into other programs,
# embed_index replicated by dqlite through a leader's SIGKILL, and sharded
# top-k.  Part of test/run.sh's plain pass (these are other people's
# processes; build/auto_linked runs in both passes from test/run.sh).
#
#   bash test/scale/run.sh [BUILD]     # BUILD defaults to build
#
# Ends with "N passed, N failed, N skipped"; exits 1 on any failure.
#
# HOW IT WORKS
#   preload   BUILD/auto_plain (test/scale/auto.c, plain SQLite) with
#             LD_PRELOAD=BUILD/embed_auto.so; the sqlite3 shell and Python's
#             sqlite3 module the same way: every connection has embed()
#             and the default model from SQLITE_EMBED_MODEL
#   failover  test/scale/failover.py: three dqlite-demo nodes, the leader
#             killed with SIGKILL, the killed node back as a voter
#   shards    test/scale/shards.py: ATTACHed shard files and two dqlite
#             clusters (tools/embed-shards) against one database
# The dqlite parts need go-dqlite (dqlite-demo, dqlite) and are skipped,
# saying so, without it.  They use the default model (models/default.emb,
# as $EMBED_GLOVE_MODEL) when it exists, else the 4-dims test model.  Each
# Python test stops itself within its own limit (240 s, 120 s) and stops
# every process it started; timeout(1) kills it 60 s after that.
set -u
BUILD=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2
auto=$root/$BUILD/embed_auto.so
mini=$root/$BUILD/test/mini.emb
model=${EMBED_GLOVE_MODEL:-$mini}
py=${PYTHON:-/usr/bin/python3}

passed=0 failed=0 skipped=0
pass() { passed=$((passed+1)); }
fail() { failed=$((failed+1)); echo "FAIL $*"; }
# Add up a program's last "N passed, N failed[, N skipped]" line.
tally() {
  local out=$1 rc=$2 line
  printf '%s\n' "$out"
  line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
  if [ -z "$line" ]; then fail "exited $rc without a summary line"; return; fi
  passed=$((passed+$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")))
  failed=$((failed+$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")))
  skipped=$((skipped+$(sed -nE 's/.*, ([0-9]+) skipped.*/\1/p' <<<"$line" | grep . || echo 0)))
  if [ "$rc" -ne 0 ] && ! grep -q FAIL <<<"$out"; then fail "exited $rc"; fi
}

# 1. Preloaded into programs that never load an extension (the 4-dims model).
out=$(SQLITE_EMBED_MODEL=$mini LD_PRELOAD=$auto "$BUILD/auto_plain" 4 "$BUILD" 2>&1); tally "$out" $?
got=$(SQLITE_EMBED_MODEL=$mini LD_PRELOAD=$auto sqlite3 :memory: \
      "SELECT length(embed('cat')) / 4, count(*) FROM pragma_module_list WHERE name = 'embed_index'" 2>&1)
[ "$got" = "4|1" ] && pass || fail "sqlite3 shell with embed_auto.so preloaded: got '$got', want '4|1'"
if "$py" -c 'import sqlite3' 2>/dev/null; then
  got=$(SQLITE_EMBED_MODEL=$mini LD_PRELOAD=$auto "$py" -c '
import sqlite3
a, b = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
print(a.execute("SELECT length(embed(?)) / 4", ("cat",)).fetchone()[0],
      b.execute("SELECT hamming(bquant(embed(?)), bquant(embed(?)))", ("cat", "dog")).fetchone()[0] >= 0)
' 2>&1)
  [ "$got" = "4 True" ] && pass || fail "python3 with embed_auto.so preloaded: got '$got', want '4 True'"
else
  echo "note: $py has no sqlite3 module; its preload check and the dqlite tests are skipped"
  echo "$passed passed, $failed failed, $((skipped+3)) skipped"
  [ "$failed" -eq 0 ]; exit
fi

# 2. dqlite: three nodes, the leader killed.  3. Shards.
out=$(timeout -s KILL 300 "$py" test/scale/failover.py "$BUILD" "$model" 2>&1); tally "$out" $?
out=$(timeout -s KILL 180 "$py" test/scale/shards.py "$BUILD" "$model" 2>&1); tally "$out" $?

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
