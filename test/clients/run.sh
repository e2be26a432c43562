#!/usr/bin/env bash
# The extension in real clients: Python's sqlite3 module, Node's
# better-sqlite3, sqlite-vec beside it, and README.md's client samples.  Part of test/run.sh's plain
# pass (not under ASan: these are other people's processes).
#
#   bash test/clients/run.sh [BUILD]     # BUILD defaults to build
#
# Each client prints its checks' "N passed, N failed"; this ends with the
# sum, "N passed, N failed, N skipped", a client that is not present
# counting as one skipped, with a message saying why.  Exits 1 on any
# failure.
#
# HOW IT WORKS
#   python   $PYTHON (default /usr/bin/python3, Debian's, whose sqlite3
#            module can load extensions): python_test.py
#   node     node + better-sqlite3, installed once into build/clients by
#            fetch-better-sqlite3.sh (it compiles from source: about a
#            minute the first time): node_test.mjs
#   vec0     python again, with sqlite-vec's vec0.so ($VEC0_PATH, as
#            test/run.sh exports it), the default model
#            ($EMBED_DEFAULT_MODEL) and ../shared's STS-B sentences:
#            vec_neighbours.py
#   README   the Python and Node samples of README.md's "From Python and
#            Node", run with the default model, must print the output the
#            README shows
set -u
BUILD=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2
ext=$root/$BUILD/embed
mini=$root/$BUILD/test/mini.emb
PYTHON=${PYTHON:-/usr/bin/python3}

passed=0 failed=0 skipped=0
skip() { echo "skipped: $*"; skipped=$((skipped+1)); }
# Run one client program; add up the last "N passed, N failed" line.
run() {
  local out rc line p f
  out=$("$@" 2>&1); rc=$?
  printf '%s\n' "$out"
  line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
  if [ -z "$line" ]; then
    echo "FAIL: '$*' exited $rc without a summary line"
    failed=$((failed+1)); return
  fi
  read -r p f < <(sed -E 's/^([0-9]+) passed, ([0-9]+) failed.*/\1 \2/' <<<"$line")
  passed=$((passed+p)); failed=$((failed+f))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "FAIL: '$*' exited $rc"; failed=$((failed+1))
  fi
}

# A Python that can load extensions: sqlite3 built with load_extension.
py_ok=0
if [ -x "$PYTHON" ] && "$PYTHON" -c 'import sqlite3; sqlite3.connect(":memory:").enable_load_extension(True)' 2>/dev/null; then
  py_ok=1
fi

echo "-- python: $PYTHON, sqlite3 module"
if [ $py_ok = 1 ]; then
  run "$PYTHON" test/clients/python_test.py "$ext" "$mini"
else
  skip "python client: $PYTHON is missing or its sqlite3 module cannot load extensions"
fi

echo "-- node: better-sqlite3"
if ! command -v node >/dev/null; then
  skip "node client: node not found"
elif bsq=$(bash test/clients/fetch-better-sqlite3.sh); then
  BETTER_SQLITE3=$bsq run node test/clients/node_test.mjs "$ext" "$mini"
else
  skip "node client: better-sqlite3 is not installed"
fi

echo "-- sqlite-vec's vec0 beside embed_index (python)"
if [ $py_ok = 0 ]; then
  skip "vec0 neighbours: no Python that can load extensions"
elif [ -z "${VEC0_PATH:-}" ]; then
  skip "vec0 neighbours: VEC0_PATH unset (sqlite-vec could not be fetched)"
elif [ ! -f "${EMBED_DEFAULT_MODEL:-}" ]; then
  skip "vec0 neighbours: the default model is absent (make builds it)"
elif [ ! -f "${SHARED:-../shared}/data/stsb_sentences.txt" ]; then
  skip "vec0 neighbours: ../shared/data/stsb_sentences.txt is absent"
else
  run "$PYTHON" test/clients/vec_neighbours.py "$ext" "$VEC0_PATH" \
      "$EMBED_DEFAULT_MODEL" "${SHARED:-../shared}/data/stsb_sentences.txt"
fi

# README.md's samples in "From Python and Node": each ```python/```js block
# runs from the repository with the default model and must print the
# ```text block that follows it.
readme_sample() {   # LANG SUFFIX COMMAND...
  local lang=$1 suffix=$2 tmp out; shift 2
  tmp=$(mktemp -d)
  awk -v lang="$lang" -v code="$tmp/sample.$suffix" -v want="$tmp/want" '
    /^## / { insec = ($0 == "## From Python and Node"); next }
    !insec { next }
    st == 0 && $0 == "```" lang { st = 1; next }
    st == 1 && $0 == "```"      { st = 2; next }
    st == 1                     { print > code; next }
    st == 2 && $0 == "```text"  { st = 3; next }
    st == 3 && $0 == "```"      { exit }
    st == 3                     { print > want }
  ' README.md
  if [ ! -s "$tmp/sample.$suffix" ] || [ ! -s "$tmp/want" ]; then
    echo "FAIL: README.md has no $lang sample followed by its output"; failed=$((failed+1))
  elif out=$(SQLITE_EMBED_MODEL=$EMBED_DEFAULT_MODEL "$@" "$tmp/sample.$suffix" 2>&1) \
       && [ "$out" = "$(cat "$tmp/want")" ]; then
    passed=$((passed+1))
  else
    echo "FAIL: README.md's $lang sample printed:"; printf '%s\n' "$out" | sed 's/^/    /'
    echo "  not:"; sed 's/^/    /' "$tmp/want"
    failed=$((failed+1))
  fi
  rm -rf "$tmp"
}
echo "-- README.md's Python and Node samples"
if [ ! -f "${EMBED_DEFAULT_MODEL:-}" ]; then
  skip "README samples: the default model is absent (make builds it)"
else
  if [ $py_ok = 1 ]; then readme_sample python py "$PYTHON"
  else skip "README's Python sample: no Python that can load extensions"; fi
  if [ -n "${bsq:-}" ]; then
    NODE_PATH=$(dirname "$bsq") readme_sample js cjs node
  else skip "README's Node sample: better-sqlite3 is not installed"; fi
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
