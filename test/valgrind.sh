#!/usr/bin/env bash
# The whole suite under valgrind memcheck: the unit tests and every .test
# file on the plain build.  Any invalid access or leak fails (exit 1).
# Prints each program's memcheck summary and "N passed, N failed".
#
#   bash test/valgrind.sh [BUILD]        (make valgrind)
set -u
BUILD=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
[ -d ../shared ] && export SHARED=$(cd ../shared && pwd)
export EMBED_EXT=$root/$BUILD/embed EMBED_TEST_DIR=$root/$BUILD/test
vec0=$(bash test/fetch-vec0.sh) && export VEC0_PATH=$vec0
export EMBED_DEFAULT_MODEL=$root/$BUILD/test/potion.emb
[ -f models/glove.emb ] && export EMBED_GLOVE_MODEL=$root/models/glove.emb
vg=(valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99
    --suppressions=test/valgrind.supp)
pass=0 fail=0
check() {
  local name=$1 out rc; shift
  out=$("${vg[@]}" "$@" 2>&1); rc=$?
  if [ "$rc" -eq 99 ]; then
    fail=$((fail+1)); echo "FAIL (memcheck): $name"; grep -E '^==' <<<"$out" | head -30
  elif [ "$rc" -ne 0 ]; then
    fail=$((fail+1)); echo "FAIL (exit $rc): $name"; tail -5 <<<"$out"
  else
    pass=$((pass+1)); echo "ok: $name: $(grep -E '^[0-9]+ passed' <<<"$out" | tail -1)"
  fi
}
for t in "$BUILD"/unit_*; do check "$(basename "$t")" "$t"; done
for f in test/*.test; do check "$f" "$BUILD/slt" -e "$BUILD/embed.so" "$f"; done
for f in test/noload/*.test; do check "$f" "$BUILD/slt" "$f"; done
SQLITE_EMBED_MODEL=$EMBED_TEST_DIR/mini.emb check test/env/default_model.test \
  "$BUILD/slt" -e "$BUILD/embed.so" test/env/default_model.test
SOAK_NO_RSS=1 check soak "$BUILD/soak" "$BUILD/embed.so" "$EMBED_TEST_DIR/mini.emb" 20000
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
