#!/usr/bin/env bash
# A model file replaced on disk by rename keeps serving the old mapping
# until it is loaded again; a file truncated in place is refused when it is
# next opened.  Drives the sqlite3 shell (its .shell command changes the
# files between statements).  Prints "N passed, N failed".
#
#   bash test/reload.sh BUILD
set -u
BUILD=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
# The sqlite3 shell is not built with ASan: an instrumented extension needs
# the runtime preloaded (leak checks stay with the runner's own programs).
if nm -D "$BUILD/embed.so" 2>/dev/null | grep -q __asan_init; then
  export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
  export ASAN_OPTIONS=detect_leaks=0
fi
ok()  { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }

# a.emb: the unweighted test model; b.emb: the same words, SIF-weighted, so
# its vectors differ.
cp "$BUILD/test/mini.emb" "$tmp/a.emb"
"$BUILD/embed-convert" glove-wink test/fixtures/mini_wink.json -o "$tmp/b.emb" 2>/dev/null \
  || bad "converting b.emb"

out=$(sqlite3 -bail :memory: \
  -cmd ".load $BUILD/embed" \
  "SELECT embed_load('m', '$tmp/a.emb');" \
  "SELECT 'a1', hex(embed('the cat', NULL, 'm'));" \
  ".shell mv '$tmp/b.emb' '$tmp/a.emb'" \
  "SELECT 'a2', hex(embed('the cat', NULL, 'm'));" \
  "SELECT embed_load('m', '$tmp/a.emb');" \
  "SELECT 'b', hex(embed('the cat', NULL, 'm'));" 2>&1)
a1=$(sed -n 's/^a1|//p' <<<"$out")
a2=$(sed -n 's/^a2|//p' <<<"$out")
b=$(sed -n 's/^b|//p' <<<"$out")
[ -n "$a1" ] && [ "$a1" = "$a2" ] && ok || bad "after the rename the old mapping must still serve: '$a1' vs '$a2' ($out)"
[ -n "$b" ] && [ "$b" != "$a1" ] && ok || bad "after embed_load the new file must serve: '$b' ($out)"

# truncated in place: the next open says so, naming the file
cp "$BUILD/test/mini.emb" "$tmp/c.emb"
out=$(sqlite3 :memory: -cmd ".load $BUILD/embed" \
  ".shell truncate -s 900 '$tmp/c.emb'" \
  "SELECT embed_load('c', '$tmp/c.emb');" 2>&1)
grep -q "model '$tmp/c.emb' is truncated" <<<"$out" && ok || bad "truncation not reported: $out"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
