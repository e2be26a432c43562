#!/usr/bin/env bash
# Prints the path of sqlite-vec's vec0.so (npm sqlite-vec-linux-x64@0.1.9),
# fetching it with `npm pack` into build/npm the first time.  Exits 1, with
# the reason on stderr, where npm or the registry is not reachable.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$root/build/npm/sqlite-vec-linux-x64-0.1.9
so=$dir/package/vec0.so
if [ ! -f "$so" ]; then
  command -v npm >/dev/null || { echo "npm not found: sqlite-vec tests skipped" >&2; exit 1; }
  mkdir -p "$dir"
  if ! (cd "$dir" && npm pack --silent sqlite-vec-linux-x64@0.1.9 >/dev/null 2>npm.err \
        && tar xzf sqlite-vec-linux-x64-0.1.9.tgz); then
    echo "npm pack sqlite-vec-linux-x64@0.1.9 failed: sqlite-vec tests skipped" >&2
    exit 1
  fi
fi
[ -f "$so" ] || { echo "vec0.so missing from the npm package" >&2; exit 1; }
echo "$so"
