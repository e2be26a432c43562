#!/usr/bin/env bash
# The Python and npm packages as their users get them: installed into a
# fresh venv and a fresh npm project outside the repository, then used;
# the HTTP server, scraped by a real Prometheus; the Grafana dashboard's
# queries.  Part of test/run.sh's plain pass (these start other processes).
#
#   bash test/packages/run.sh [BUILD]     # BUILD defaults to build
#
# Ends with "N passed, N failed, N skipped"; a part whose tool is absent
# counts as one skipped, with a message saying why.  Exits 1 on any failure.
#
# HOW IT WORKS
#   python      /usr/bin/python3 -m venv; pip install --no-index
#               --no-build-isolation --no-cache-dir REPO (and pip wheel
#               --no-index with build isolation: nothing to fetch either);
#               then, from a scratch folder, python_test.py, README.md's
#               Python package sample, mypy --strict on the sources and,
#               against the installed package, on types_ok.py (must pass)
#               and types_bad.py (must report each marked line),
#               serve_test.py and, with /usr/bin/prometheus,
#               prometheus_test.py
#   grafana     embed_metrics() after some work (the sqlite3 shell and
#               BUILD/embed.so), against grafana/sqlite-embed.json:
#               grafana_test.py; and the counters still there after the
#               shell's only connection closed and a new one opened
#   npm         npm pack node/ (its prepack runs make npm-files), the
#               tarball's file list, npm install --offline with an empty
#               cache into a fresh project, better-sqlite3 from
#               build/clients (test/clients/fetch-better-sqlite3.sh builds
#               it once) linked in beside it, node_test.cjs and README.md's
#               Node package sample run there; tsc
#               --strict on types_ok.ts (must pass) and types_bad.ts (must
#               report each marked line)
# Everything lives in a temporary folder, removed at the end.
set -u
BUILD=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2
PYTHON=${PYTHON:-/usr/bin/python3}
PROMETHEUS=${PROMETHEUS:-/usr/bin/prometheus}
mini=$root/$BUILD/test/mini.emb
here=$root/test/packages
# make runs us; the makes we start (pip's backend, npm's prepack) are our own
unset MAKEFLAGS MAKELEVEL MFLAGS
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

passed=0 failed=0 skipped=0
ok()   { passed=$((passed+1)); }
bad()  { echo "FAIL: $*"; failed=$((failed+1)); }
skip() { echo "skipped: $*"; skipped=$((skipped+1)); }
# Run one test program; add up the last "N passed, N failed" line.
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
# run() with DIR as the working folder (in this shell, so the counts add up).
run_in() {
  local dir=$1; shift
  pushd "$dir" >/dev/null || { bad "cd $dir"; return; }
  run "$@"
  popd >/dev/null || exit 2
}
# README.md's sample in "## Packages: pip and npm" for LANG (the first
# ```LANG block), run as FILE in DIR by COMMAND..., must print the ```text
# block that follows it.
readme_sample() {   # LANG DIR FILE COMMAND...
  local lang=$1 dir=$2 file=$3 out; shift 3
  awk -v lang="$lang" -v code="$dir/$file" -v want="$dir/$file.want" '
    /^## / { insec = ($0 == "## Packages: pip and npm"); next }
    !insec { next }
    st == 0 && $0 == "```" lang { st = 1; next }
    st == 1 && $0 == "```"      { st = 2; next }
    st == 1                     { print > code; next }
    st == 2 && $0 == "```text"  { st = 3; next }
    st == 3 && $0 == "```"      { exit }
    st == 3                     { print > want }
  ' "$root/README.md"
  if [ ! -s "$dir/$file" ] || [ ! -s "$dir/$file.want" ]; then
    bad "README.md has no $lang sample followed by its output"
  elif out=$(cd "$dir" && env -u SQLITE_EMBED_MODEL "$@" "$file" 2>&1) \
       && [ "$out" = "$(cat "$dir/$file.want")" ]; then
    ok
  else
    bad "README.md's $lang package sample printed: $out -- not: $(cat "$dir/$file.want")"
  fi
}

if [ ! -f models/default.emb ]; then
  skip "packages: models/default.emb is absent (make model), and both packages carry it"
  echo "$passed passed, $failed failed, $skipped skipped"; exit 0
fi

echo "-- python package: pip install . into a fresh venv"
venv=$tmp/venv
if ! [ -x "$PYTHON" ] || ! "$PYTHON" -c 'import sqlite3; sqlite3.connect(":memory:").enable_load_extension(True)' 2>/dev/null; then
  skip "python package: $PYTHON is missing or its sqlite3 module cannot load extensions"
elif ! "$PYTHON" -m venv "$venv" >"$tmp/venv.log" 2>&1; then
  skip "python package: '$PYTHON -m venv' failed (apt-get install python3-venv): $(tail -n 1 "$tmp/venv.log")"
else
  pip=("$venv/bin/python" -m pip --disable-pip-version-check)
  if "${pip[@]}" install --no-index --no-build-isolation --no-cache-dir "$root" >"$tmp/pip.log" 2>&1; then
    ok
  else
    bad "pip install --no-index --no-build-isolation: $(tail -n 5 "$tmp/pip.log")"
  fi
  if "${pip[@]}" wheel --no-index --no-cache-dir --no-deps -w "$tmp/wheel" "$root" >"$tmp/wheel.log" 2>&1 \
     && ls "$tmp"/wheel/sqlite_embed-*-py3-none-linux_x86_64.whl >/dev/null 2>&1; then
    ok
  else
    bad "pip wheel --no-index (build isolation on): $(tail -n 5 "$tmp/wheel.log")"
  fi
  rm -rf "$tmp/wheel"
  if [ -x "$venv/bin/sqlite-embed" ]; then
    mkdir -p "$tmp/py" "$tmp/serve" "$tmp/prom"
    run_in "$tmp/py" "$venv/bin/python" "$here/python_test.py" "$root" "$mini"
    readme_sample python "$tmp/py" sample.py "$venv/bin/python"
    if ! command -v mypy >/dev/null; then
      skip "type hints: mypy not found (apt-get install mypy)"
    else
      # the sources under --strict, then the installed package's hints as a
      # user's mypy finds them (py.typed): types_ok.py must pass, and
      # types_bad.py must be refused on each marked line
      if out=$(mypy --strict --cache-dir="$tmp/mypy" python/sqlite_embed \
                 python/sqlite_embed_build.py 2>&1); then ok
      else bad "mypy --strict python/: $out"; fi
      cp "$here/types_ok.py" "$here/types_bad.py" "$tmp/py/"
      out=$(cd "$tmp/py" && mypy --strict --cache-dir="$tmp/mypy" \
              --python-executable "$venv/bin/python" types_ok.py types_bad.py 2>&1)
      if ! grep -q '^types_ok\.py' <<<"$out"; then ok
      else bad "mypy types_ok.py: $(grep '^types_ok' <<<"$out")"; fi
      marked=$(grep -n '# error' "$here/types_bad.py" | cut -d: -f1 | sort -n | tr '\n' ' ')
      got=$(grep -oE '^types_bad\.py:[0-9]+:' <<<"$out" | grep -oE '[0-9]+' | sort -nu | tr '\n' ' ')
      if [ "$got" = "$marked" ]; then ok
      else bad "mypy types_bad.py: errors on lines '$got', want '$marked': $out"; fi
    fi
    echo "-- the HTTP server (python3 -m sqlite_embed serve)"
    run_in "$tmp/serve" "$venv/bin/python" "$here/serve_test.py" "$tmp/serve"
    echo "-- a real Prometheus scraping /metrics"
    if [ -x "$PROMETHEUS" ]; then
      run_in "$tmp/prom" "$venv/bin/python" "$here/prometheus_test.py" "$tmp/prom" \
             "$PROMETHEUS" "$root/grafana/sqlite-embed.json"
    else
      skip "prometheus: $PROMETHEUS not found (apt-get install prometheus)"
    fi
  fi
fi
echo "-- the Grafana dashboard's queries against embed_metrics()"
if ! command -v sqlite3 >/dev/null; then
  skip "grafana: the sqlite3 shell is not installed"
elif ! command -v "$PYTHON" >/dev/null; then
  skip "grafana: $PYTHON not found"
else
  sqlite3 -bail :memory: -cmd ".load $BUILD/embed" \
    "SELECT embed_load('m', '$mini');" \
    "SELECT count(embed('the cat sat', NULL, 'm'));" \
    "CREATE VIRTUAL TABLE ix USING embed_index(model=m);" \
    "INSERT INTO ix(rowid, content) VALUES (1, 'the cat'), (2, 'a dog');" \
    "SELECT count(*) FROM ix WHERE ix MATCH 'cat' AND k = 2;" \
    ".mode list" "SELECT embed_metrics();" 2>/dev/null | sed -n '/^# HELP/,$p' >"$tmp/metrics.txt"
  run "$PYTHON" "$here/grafana_test.py" grafana/sqlite-embed.json "$tmp/metrics.txt"
  # The counters outlive the connections: the shell's .open closes the only
  # one, and SQLite dlclose()s the extension with it (-z nodelete keeps it).
  got=$(sqlite3 -bail :memory: -cmd ".load $BUILD/embed" "SELECT embed_load('m', '$mini');" \
          "SELECT length(embed('the cat', NULL, 'm'));" ".open :memory:" ".load $BUILD/embed" \
          ".mode list" "SELECT embed_metrics();" 2>&1 | grep '^embed_calls_total{model="m"}')
  if [ "$got" = 'embed_calls_total{model="m"} 1' ]; then ok
  else bad "embed_metrics() after the last connection closed: '$got'"; fi
fi

echo "-- npm package: npm pack, then npm install --offline into a fresh project"
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  skip "npm package: node or npm not found"
else
  if (cd node && npm pack --pack-destination "$tmp" >"$tmp/pack.log" 2>&1); then ok
  else bad "npm pack: $(tail -n 5 "$tmp/pack.log")"; fi
  tgz=$(ls "$tmp"/sqlite-embed-*.tgz 2>/dev/null | head -n 1)
  want=$(printf '%s\n' package/default.emb package/index.d.ts package/index.js \
         package/lib/linux-x64/embed.so package/package.json)
  if [ -n "$tgz" ] && [ "$(tar tzf "$tgz" | sort)" = "$want" ]; then ok
  else bad "the tarball holds: $( [ -n "$tgz" ] && tar tzf "$tgz" | tr '\n' ' ')"; fi
  proj=$tmp/project
  mkdir -p "$proj"
  printf '{ "name": "fresh-project", "version": "1.0.0", "private": true }\n' >"$proj/package.json"
  if [ -n "$tgz" ] && (cd "$proj" && npm install --offline --cache "$tmp/npm-cache" --no-audit \
        --no-fund "$tgz" >"$tmp/install.log" 2>&1); then ok
  else bad "npm install --offline of the tarball: $(tail -n 5 "$tmp/install.log" 2>/dev/null)"; fi
  if [ -f "$proj/package-lock.json" ] && ! grep -q '"resolved": "http' "$proj/package-lock.json"; then ok
  else bad "package-lock.json names a download"; fi
  if ! bsq=$(bash test/clients/fetch-better-sqlite3.sh); then
    skip "npm package with better-sqlite3: better-sqlite3 is not installed"
  elif [ -d "$proj/node_modules/sqlite-embed" ]; then
    ln -s "$bsq" "$proj/node_modules/better-sqlite3"
    cp "$here/node_test.cjs" "$proj/"
    run_in "$proj" node node_test.cjs "$root" "$mini"
    readme_sample js "$proj" sample.cjs node
  fi
  if ! command -v tsc >/dev/null; then
    skip "TypeScript declarations: tsc not found (apt-get install node-typescript)"
  elif [ -d "$proj/node_modules/sqlite-embed" ]; then
    cp "$here/types_ok.ts" "$here/types_bad.ts" "$proj/"
    # one tsc run over both files (it is slow to start): errors exactly on
    # types_bad.ts's marked lines, none in types_ok.ts
    out=$(cd "$proj" && tsc --strict --noEmit --module commonjs --moduleResolution node \
            --target es2019 types_ok.ts types_bad.ts 2>&1)
    if ! grep -q '^types_ok\.ts' <<<"$out"; then ok
    else bad "tsc types_ok.ts: $(grep '^types_ok' <<<"$out")"; fi
    marked=$(grep -n '// error' "$here/types_bad.ts" | cut -d: -f1 | sort -n | tr '\n' ' ')
    got=$(grep -oE '^types_bad\.ts\(([0-9]+),' <<<"$out" | grep -oE '[0-9]+' | sort -nu | tr '\n' ' ')
    if [ "$got" = "$marked" ]; then ok
    else bad "tsc types_bad.ts: errors on lines '$got', want '$marked': $out"; fi
  fi
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
