#!/usr/bin/env bash
# tools/setup.sh (the set-up step of make demo, make test and CI) against
# fake dpkg-query, id and apt-get, so every case runs without root and
# without installing anything.  Prints "N passed, N failed[, N skipped]".
#
#   bash test/setup.sh
#
# HOW IT WORKS
# A scratch bin folder holds the fakes: dpkg-query answers "ii" for the
# packages in $FAKE_INSTALLED, id -u prints $FAKE_UID, apt-get appends its
# arguments to $FAKE_APT_LOG and exits $FAKE_APT_RC.  The script runs with
# PATH set to that folder only (and cat), so no real command is reached.
# Checked: the package list (each package once, a group and a reason
# each), nothing printed and nothing run when nothing is missing, the one
# sudo line as a user, apt-get update + install of just the missing ones
# as root, demo's smaller set, a program on PATH standing in for its
# package (npm), NO_SETUP=1, a machine without dpkg, apt-get failing.  Last,
# the real dpkg-query on this machine (with the fake id and apt-get): when
# nothing is missing, no output in under a second.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0 skip=0
ok()  { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }
BASH_BIN=$(command -v bash)

fake=$tmp/bin
mkdir -p "$fake"
ln -s "$(command -v cat)" "$fake/cat"
cat >"$fake/dpkg-query" <<'EOF'
#!/bin/bash
# dpkg-query -W -f=FORMAT PKG...: "PKG ii " for those in $FAKE_INSTALLED
for a in "$@"; do
  case $a in -W|-f=*) continue ;; esac
  if [[ " $FAKE_INSTALLED " == *" $a "* ]]; then echo "$a ii "; else echo "$a un "; fi
done
EOF
cat >"$fake/id" <<'EOF'
#!/bin/bash
echo "${FAKE_UID:-1000}"
EOF
cat >"$fake/apt-get" <<'EOF'
#!/bin/bash
echo "$*" >>"$FAKE_APT_LOG"
exit "${FAKE_APT_RC:-0}"
EOF
chmod +x "$fake"/*
export FAKE_APT_LOG=$tmp/apt.log

# setup ARGS...: run tools/setup.sh with only the fakes on PATH; sets out, rc
setup() {
  : >"$FAKE_APT_LOG"
  # NO_SETUP=1 make test (the caller's own choice) must not reach the
  # cases: only the one that sets it says NO_SETUP=1.
  out=$(env -u NO_SETUP PATH="$fake" ${CASE_NO_SETUP:+NO_SETUP=$CASE_NO_SETUP} \
        "$BASH_BIN" "$root/tools/setup.sh" "$@" 2>&1); rc=$?
}
same() {   # WHAT GOT WANT
  if [ "$2" = "$3" ]; then ok; else bad "$1: got '$2', want '$3'"; fi
}

# The list: PACKAGE GROUP COMMAND WHY...
list=$("$BASH_BIN" "$root/tools/setup.sh" --list)
all=$(awk '{print $1}' <<<"$list" | tr '\n' ' ')
demo=$(awk '$2=="demo"{print $1}' <<<"$list" | tr '\n' ' ')
same "every package once" "$(awk '{print $1}' <<<"$list" | sort | uniq -d)" ""
same "every line has a group" "$(awk '$2!="demo" && $2!="test"' <<<"$list")" ""
same "every line says why (3 words at least)" "$(awk 'NF<6' <<<"$list")" ""
for p in gcc make libsqlite3-dev sqlite3 libcjson-dev; do
  if [[ " $demo " == *" $p "* ]]; then ok; else bad "$p is not in the demo group"; fi
done
for p in clang prometheus python3 python3-venv g++ npm; do
  if [[ " $all " == *" $p "* ]]; then ok; else bad "$p is not in the list"; fi
done

# Nothing missing: silent, no root needed, apt-get not run.
FAKE_INSTALLED=$all FAKE_UID=1000 setup test
same "all installed: exit" "$rc" 0
same "all installed: output" "$out" ""
same "all installed: apt-get" "$(cat "$FAKE_APT_LOG")" ""

# Missing as a user: one sudo line, exit 1, apt-get not run.
minus() {   # LIST WORD... -> LIST without the WORDs
  local l=" $1 "; shift
  for w in "$@"; do l=${l// $w / }; done
  echo "$l"
}
FAKE_INSTALLED=$(minus "$all" sqlite3 libcjson-dev prometheus) FAKE_UID=1000 setup test
same "missing as a user: exit" "$rc" 1
same "missing as a user: the one line to run" "$(grep -c 'apt-get' <<<"$out")" 1
same "missing as a user: that line" "$(grep 'apt-get' <<<"$out")" \
  "  sudo apt-get install -y sqlite3 libcjson-dev prometheus"
same "missing as a user: apt-get" "$(cat "$FAKE_APT_LOG")" ""
FAKE_INSTALLED=$(minus "$all" sqlite3 libcjson-dev prometheus) FAKE_UID=1000 setup demo
same "demo asks only for demo's packages" "$(grep 'apt-get' <<<"$out")" \
  "  sudo apt-get install -y sqlite3 libcjson-dev"

# Missing as root: apt-get update, then install of just those.
FAKE_INSTALLED=$(minus "$all" libcjson-dev clang) FAKE_UID=0 setup test
same "missing as root: exit" "$rc" 0
same "missing as root: apt-get runs" "$(cat "$FAKE_APT_LOG")" \
  "$(printf '%s\n' "update -qq" "install -y -qq libcjson-dev clang")"
FAKE_INSTALLED=$(minus "$all" libcjson-dev) FAKE_UID=0 FAKE_APT_RC=100 setup test
if [ "$rc" -ne 0 ]; then ok; else bad "apt-get failing: setup exited 0"; fi

# A program on PATH stands in for its package (npm from nodesource's nodejs).
FAKE_INSTALLED=$(minus "$all" npm) FAKE_UID=1000 setup test
same "npm missing, no npm program" "$(grep 'apt-get' <<<"$out")" "  sudo apt-get install -y npm"
printf '#!/bin/bash\n' >"$fake/npm"; chmod +x "$fake/npm"
FAKE_INSTALLED=$(minus "$all" npm) FAKE_UID=1000 setup test
same "npm on PATH: nothing missing" "$rc/$out" "0/"
rm -f "$fake/npm"

# NO_SETUP=1, a machine without dpkg, a bad argument.
FAKE_INSTALLED="" FAKE_UID=1000 CASE_NO_SETUP=1 setup test
same "NO_SETUP=1" "$rc/$out" "0/"
mv "$fake/dpkg-query" "$tmp/dpkg-query"
FAKE_INSTALLED="" FAKE_UID=0 setup test
same "no dpkg-query: exit" "$rc" 0
if grep -q "not a Debian system" <<<"$out"; then ok; else bad "no dpkg-query: says '$out'"; fi
same "no dpkg-query: apt-get" "$(cat "$FAKE_APT_LOG")" ""
mv "$tmp/dpkg-query" "$fake/dpkg-query"
setup bogus
same "a bad argument" "$rc" 2

# This machine, with its real dpkg-query (and the fake id and apt-get).
: >"$FAKE_APT_LOG"
mkdir -p "$tmp/bin2"
cp "$fake/id" "$fake/apt-get" "$tmp/bin2/"
start=$(date +%s%N)
out=$(env -u NO_SETUP PATH="$tmp/bin2:$PATH" FAKE_UID=1000 "$BASH_BIN" "$root/tools/setup.sh" test 2>&1); rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if ! command -v dpkg-query >/dev/null; then
  echo "skipped: not a Debian machine"; skip=$((skip+1))
elif [ "$rc" -ne 0 ]; then
  echo "skipped: this machine lacks packages ($(grep apt-get <<<"$out"))"; skip=$((skip+1))
else
  same "this machine: nothing missing, nothing printed" "$out" ""
  if [ "$ms" -lt 1000 ]; then ok; else bad "this machine: took $ms ms"; fi
  echo "this machine: nothing missing, checked in $ms ms"
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
