#!/usr/bin/env bash
# README.md's SQL reference against what the extension registers, so the
# documentation cannot drift.  Prints "N passed, N failed".
#
#   bash test/readme_ref.sh BUILD
#
# HOW IT WORKS
# awk reads the "## SQL reference" section of README.md: the first cell of
# each row of its "| function |" table is a signature such as
# `embed(text [, dims [, model]])`, giving a name and the argument counts
# it allows (the arguments before the first "[", plus 0 to one per "["):
# lines "function embed 1", "function embed 2", "function embed 3".  Each
# row of its "| table |" table gives "module NAME".  The sqlite3 shell
# lists the functions (name, narg) and modules the extension adds, as the
# difference of pragma_function_list and pragma_module_list before and
# after .load.  Each line in both lists passes; each line in one only
# fails, saying which side lacks it.
set -u
BUILD=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2

if ! command -v sqlite3 >/dev/null; then
  echo "sqlite3 shell not found: README reference test skipped"
  echo "0 passed, 0 failed, 1 skipped"; exit 0
fi

documented=$(awk '
  /^## / { insec = ($0 == "## SQL reference"); kind = ""; next }
  !insec { next }
  /^\| *function *\|/ { kind = "function"; next }
  /^\| *table *\|/    { kind = "module"; next }
  /^\|/ && kind != "" && match($0, /`[^`]+`/) {
    sig = substr($0, RSTART + 1, RLENGTH - 2)
    name = sig; sub(/[( ].*/, "", name)
    if (kind == "module") { print "module " name; next }
    args = sig; sub(/^[^(]*\(/, "", args); sub(/\)[^)]*$/, "", args)
    nopt = gsub(/\[/, "[", args)
    req = args; sub(/\[.*/, "", req); gsub(/[ \t]/, "", req)
    nreq = (req == "") ? 0 : split(req, parts, ",")
    for (i = nreq; i <= nreq + nopt; i++) print "function " name " " i
    next
  }
  !/^\|/ { kind = "" }
' README.md | sort -u)

registered=$(sqlite3 :memory: \
  "CREATE TEMP TABLE f0 AS SELECT name, narg FROM pragma_function_list;
   CREATE TEMP TABLE m0 AS SELECT name FROM pragma_module_list;" \
  ".load $BUILD/embed" \
  "SELECT 'function ' || name || ' ' || narg FROM
     (SELECT name, narg FROM pragma_function_list EXCEPT SELECT * FROM f0)
   UNION ALL
   SELECT 'module ' || name FROM
     (SELECT name FROM pragma_module_list EXCEPT SELECT * FROM m0);" | sort -u)

pass=0 fail=0
if [ -z "$registered" ] || [ -z "$documented" ]; then
  echo "FAIL: nothing registered or nothing documented (did .load or the README parse fail?)"
  fail=1
fi
while read -r line; do
  [ -z "$line" ] && continue
  pass=$((pass+1))
done < <(comm -12 <(printf '%s\n' "$documented") <(printf '%s\n' "$registered"))
while read -r line; do
  [ -z "$line" ] && continue
  echo "FAIL: README.md's SQL reference documents '$line', which the extension does not register"
  fail=$((fail+1))
done < <(comm -23 <(printf '%s\n' "$documented") <(printf '%s\n' "$registered"))
while read -r line; do
  [ -z "$line" ] && continue
  echo "FAIL: the extension registers '$line', missing from README.md's SQL reference tables"
  fail=$((fail+1))
done < <(comm -13 <(printf '%s\n' "$documented") <(printf '%s\n' "$registered"))

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
