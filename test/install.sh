#!/usr/bin/env bash
# make install and make uninstall into a scratch DESTDIR, and the installed
# extension loaded by the sqlite3 shell.  Prints "N passed, N failed".
#
#   bash test/install.sh BUILD
#
# HOW IT WORKS
# Runs `make install DESTDIR=$tmp PREFIX=/usr` (the way a Debian package
# build stages files), then checks the three files, their modes and bytes,
# that nothing else was installed, that the sqlite3 shell loads
# $tmp/usr/lib/sqlite-embed/embed and runs the functions (with a model from
# SQLITE_EMBED_MODEL), that the installed embed-convert runs and the header
# compiles, and that `make uninstall` removes every file again.
set -u
BUILD=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok()  { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }
# same WANT COMMAND...: the command's output (stdout and stderr) is WANT.
same() {
  local want=$1 got; shift
  got=$("$@" 2>&1)
  if [ "$got" = "$want" ]; then ok; else bad "$* -> '$got' (want '$want')"; fi
}
# A make of our own, not the jobserver or variables of a make that runs us.
mk() { env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s -C "$root" BUILD="$BUILD" "$@"; }

if ! command -v sqlite3 >/dev/null; then
  echo "sqlite3 shell not found: install test skipped"
  echo "0 passed, 0 failed, 1 skipped"; exit 0
fi

dest=$tmp/stage
lib=$dest/usr/lib/sqlite-embed/embed.so
bin=$dest/usr/bin/embed-convert
hdr=$dest/usr/include/sqlite-embed.h
if out=$(mk install DESTDIR="$dest" PREFIX=/usr 2>&1); then ok; else bad "make install: $out"; fi

same 755 stat -c %a "$lib"
same 755 stat -c %a "$bin"
same 644 stat -c %a "$hdr"
if cmp -s "$BUILD/embed.so" "$lib"; then ok; else bad "$lib differs from $BUILD/embed.so"; fi
if cmp -s "$BUILD/embed-convert" "$bin"; then ok; else bad "$bin differs"; fi
if cmp -s include/sqlite-embed.h "$hdr"; then ok; else bad "$hdr differs"; fi
same "$(printf '%s\n' "$bin" "$hdr" "$lib")" bash -c "find '$dest' -type f | sort"

# the shell loads it by its installed path, without the .so suffix
same 3 sqlite3 :memory: ".load ${lib%.so}" "SELECT hamming(x'0f', x'01')"
# an error's text, without the shell's prefix ("Error: stepping, " in 3.40)
shell_error() { sqlite3 -batch "$@" 2>&1 | sed -E 's/^(Error: [a-z ]+, |Runtime error: |Error: )//'; }
same "cosine(): vectors differ in length (2 vs 1 dims)" \
  shell_error :memory: ".load ${lib%.so}" "SELECT cosine('[1,2]', '[1]')"
same "mini|4|1" env SQLITE_EMBED_MODEL="$root/$BUILD/test/mini.emb" \
  sqlite3 :memory: ".load ${lib%.so}" \
  "SELECT embed_load('mini', '$root/$BUILD/test/mini.emb'), length(embed('the cat')) / 4,
          cosine(embed('the cat'), embed('the cat', NULL, 'mini')) > 0.999999"

# the converter runs, and the header compiles against SQLite's
if "$bin" info "$BUILD/test/mini.emb" >/dev/null 2>&1; then ok; else bad "$bin info failed"; fi
printf '#include <sqlite-embed.h>\nint main(void){ return sqlite3_auto_extension((void(*)(void))sqlite3_embed_init); }\n' > "$tmp/h.c"
if cc -std=c11 -Wall -Werror -fsyntax-only -I"$dest/usr/include" "$tmp/h.c"; then ok; else bad "the installed header does not compile"; fi

if out=$(mk uninstall DESTDIR="$dest" PREFIX=/usr 2>&1); then ok; else bad "make uninstall: $out"; fi
same "" bash -c "find '$dest' -type f"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
