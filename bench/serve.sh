#!/usr/bin/env bash
# make bench-serve: the time from starting `python3 -m sqlite_embed serve`
# to its first /embed answer, into bench/SERVE.md (bench/run.sh folds its
# table into REPORT.md).
#
#   bash bench/serve.sh [RUNS]       # RUNS defaults to 20
#
# HOW IT WORKS
# Installs the Python package (pip install --no-index --no-build-isolation)
# into a fresh venv of Debian's /usr/bin/python3 in a temporary folder, then
# runs bench/serve_start.py there: with the packaged default model and with
# the project's 28-word test model (build/test/mini.emb), to show what the
# model's size adds, and Python starting with nothing to do, the floor,
# taking turns.
# The peer, WordLlama's Python library, is not on this machine (no PyPI):
# its load time is the figure the project's issue quotes, marked as quoted.
set -u
RUNS=${1:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
PYTHON=${PYTHON:-/usr/bin/python3}
unset MAKEFLAGS MAKELEVEL MFLAGS
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -f models/default.emb ] || { echo "bench-serve: models/default.emb is absent (make model)" >&2; exit 1; }
[ -f build/test/mini.emb ] || make -s build/test/mini.emb >&2 || exit 1
"$PYTHON" -m venv "$tmp/venv" >&2 || { echo "bench-serve: $PYTHON -m venv failed" >&2; exit 1; }
"$tmp/venv/bin/python" -m pip --disable-pip-version-check install -q --no-index \
  --no-build-isolation --no-cache-dir . >&2 || { echo "bench-serve: pip install failed" >&2; exit 1; }
raw=$tmp/raw
load_before=$(cut -d' ' -f1 /proc/loadavg)
(cd "$tmp" && nice -n 10 "$tmp/venv/bin/python" "$root/bench/serve_start.py" "$RUNS" \
   "$root/build/test/mini.emb") >"$raw" || exit 1

val() { awk -v k="$1" -v f="$2" 'index($0, k) == 1 && / runs / { for(i=1;i<NF;i++) if($i==f){print $(i+1); exit} }' "$raw"; }
mb=$(stat -L -c %s models/default.emb | awk '{printf "%.1f", $1/1e6}')
d_med=$(val "serve_start model packaged-default" median_ms)
d_best=$(val "serve_start model packaged-default" best_ms)
d_ready=$(val "serve_start model packaged-default" ready_median_ms)
m_med=$(val "serve_start model $root/build/test/mini.emb" median_ms)
p_med=$(val "python_start" median_ms)
ratio=$(awk -v a=1500 -v b="$d_med" 'BEGIN{ if(b>0) printf "%.1f", a/b; else print "n/a" }')
{
  echo "# python3 -m sqlite_embed serve: start to first answer"
  echo
  echo "Made by \`make bench-serve\` (bench/serve.sh, bench/serve_start.py) on $(date -u +%Y-%m-%d), $RUNS runs each, Debian's $("$PYTHON" --version 2>&1)."
  echo "Medians of runs taking turns (default model, test model, bare Python) on a machine shared with other work (load average $load_before before, $(cut -d' ' -f1 /proc/loadavg) after, on $(nproc) cores): the best run is nearer what an idle machine gives."
  echo "From the fork of \`python3 -m sqlite_embed serve --port 0\` to the whole answer of its first POST /embed (one sentence), read by the client."
  echo
  echo "| figure | ours (median) | peer | ratio |"
  echo "|---|---|---|---|"
  echo "| serve start to first /embed answer, packaged default model ($mb MB) | $d_med ms (best $d_best, listening after $d_ready) | WordLlama's model load, about 1,500 ms (quoted in the issue, not measured here) | $ratio× sooner |"
  echo "| the same with the 28-word test model | $m_med ms | | |"
  echo "| Python starting and exiting (\`python -c pass\`), the floor | $p_med ms | | |"
  echo
  echo "Raw output:"
  echo
  echo '```'
  cat "$raw"
  echo '```'
} > bench/SERVE.md
cat bench/SERVE.md
