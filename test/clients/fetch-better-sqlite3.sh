#!/usr/bin/env bash
# Prints the folder of npm better-sqlite3@12.11.1 (Node's SQLite client),
# installing it into build/clients the first time:
#
#   dir=$(bash test/clients/fetch-better-sqlite3.sh) && BETTER_SQLITE3=$dir node ...
#
# HOW IT WORKS
# `npm install --prefix build/clients` fetches the package and, as no
# prebuilt binary fits, compiles its native addon (with its own copy of
# SQLite) through node-gyp: about a minute, once; the result stays in
# build/clients.  Where npm, the registry or the compiler (g++, make,
# python3) is missing, the install fails: this prints the reason on stderr,
# exits 1, and remembers the failure in build/clients/install.failed so
# later runs skip at once (remove build/clients to try again).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$root/build/clients
pkg=$dir/node_modules/better-sqlite3
if [ -f "$pkg/build/Release/better_sqlite3.node" ]; then
  echo "$pkg"; exit 0
fi
if [ -f "$dir/install.failed" ]; then
  echo "better-sqlite3 did not install earlier (see $dir/npm.log; rm -r build/clients to retry)" >&2
  exit 1
fi
command -v npm >/dev/null || { echo "npm not found" >&2; exit 1; }
mkdir -p "$dir"
echo "installing better-sqlite3@12.11.1 into build/clients (builds from source, about a minute, once)" >&2
if npm install --prefix "$dir" --no-save --no-audit --no-fund better-sqlite3@12.11.1 \
     >"$dir/npm.log" 2>&1 \
   && [ -f "$pkg/build/Release/better_sqlite3.node" ]; then
  echo "$pkg"; exit 0
fi
touch "$dir/install.failed"
echo "npm install better-sqlite3@12.11.1 failed (see $dir/npm.log)" >&2
exit 1
