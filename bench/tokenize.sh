#!/usr/bin/env bash
# make bench-tokenize: our tokenizers (BPE, WordPiece, Unigram) against Hugging Face's tokenizers
# (npm tokenizers@0.23.2, Rust core, from Node, one thread) on the same
# tokenizer.json and text: ../shared/data/wikitext2_sentences.txt (each line
# a text; HF gets them in one encodeBatch() call) and a 10 MB single-line
# document (those sentences joined by spaces, repeated; one text).  Prints
# a Markdown table of MB/s and ratios, and checks that both sides made the
# same number of tokens with the same sum of ids.
#
#   bash bench/tokenize.sh [BUILD]
# Needs ../shared, the models $BUILD/test/l2.emb, l3.emb and potion.emb (make; and
# the Unigram models m2v_vocabq.emb, m2v_t5_f16.emb, m2v_nmt_i8.emb where built), node and
# npm (tokenizers is installed into $BUILD/hf on first use).
set -u
BUILD=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
shared=../shared
[ -d "$shared" ] || { echo "bench-tokenize: ../shared absent"; exit 1; }

hf=$BUILD/hf
if [ ! -d "$hf/node_modules/tokenizers" ]; then
  mkdir -p "$hf"
  cp "$shared/tools/package.json" "$hf/"
  (cd "$hf" && npm install --silent --no-audit --no-fund >/dev/null 2>&1) \
    || { echo "bench-tokenize: npm install tokenizers failed (npm unreachable?)"; exit 1; }
fi

wiki=$shared/data/wikitext2_sentences.txt
doc=$BUILD/bench-doc-10mb.txt
if [ ! -s "$doc" ]; then
  LC_ALL=C awk 'BEGIN{ORS=""} {s = s (NR>1 ? " " : "") $0}
    END{ t = s; while (length(t) < 10000000) t = t " " s;
         t = substr(t, 1, 10000000); sub(/ [^ ]*$/, "", t); print t "\n" }' \
    "$wiki" > "$doc"
fi

export RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
raw=$BUILD/bench-tokenize.raw
: > "$raw"
# The models: name:tokenizer.json (potion is the default model, WordPiece;
# the m2v_* are the Unigram ones, each where make has built it).
# BENCH_MODELS="m2v_vocabq ..." runs only those.
models="l2:$shared/tokenizers/wordllama_l2_supercat_tokenizer.json
l3:$shared/tokenizers/llama3_tokenizer.json
potion:models/potion-base-4m-int8/tokenizer.json"
for m in m2v_vocabq:m2v_vocabq_unigram m2v_t5_f16:t5_small m2v_nmt_i8:nmt_unigram; do
  [ -f "$BUILD/test/${m%%:*}.emb" ] && models="$models
${m%%:*}:$shared/tokenizers/${m#*:}_tokenizer.json"
done
if [ -n "${BENCH_MODELS:-}" ]; then
  models=$(echo "$models" | while IFS= read -r l; do
    case " $BENCH_MODELS " in *" ${l%%:*} "*) echo "$l";; esac; done)
fi
for m in $models; do
  name=${m%%:*} tj=${m#*:}
  for f in "$wiki:lines" "$doc:whole"; do
    echo "bench-tokenize: $name ${f##*/}" >&2
    "$BUILD/bench_tokenize" "$BUILD/test/$name.emb" "${f%:*}" "${f##*:}" >> "$raw"
    node bench/tokenize.mjs "$hf/node_modules" "$tj" "${f%:*}" "${f##*:}" >> "$raw"
  done
done

val() { awk -v k="$1" -v f="$2" 'index($0, k)==1 { for(i=1;i<NF;i++) if($i==f){print $(i+1); exit} }' "$raw"; }
out=bench/TOKENIZE.md
{
echo "# Tokenizer throughput: sqlite-embed vs Hugging Face tokenizers"
echo
echo "Made by \`make bench-tokenize\` (bench/tokenize.sh, bench/tokenize.c, bench/tokenize.mjs) on $(date -u +%Y-%m-%d)."
echo "Machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores. Both sides one thread (HF: RAYON_NUM_THREADS=1,"
echo "TOKENIZERS_PARALLELISM=false; sentences in one encodeBatch() call), best of 5 runs, add_special_tokens=false,"
echo "the same tokenizer.json (ours converted by embed-convert wordllama, or model2vec for potion and the m2v_* Unigram models). MB/s counts the input's bytes."
echo
echo "| tokenizer | text | ours MB/s | HF tokenizers MB/s | ratio | same ids |"
echo "|---|---|---|---|---|---|"
for m in $models; do
  name=${m%%:*} tj=${m#*:}
  for f in "$wiki:lines" "$doc:whole"; do
    o="ours $BUILD/test/$name.emb ${f%:*} ${f##*:}"
    h="hf $tj ${f%:*} ${f##*:}"
    om=$(val "$o" MB_per_s) hm=$(val "$h" MB_per_s)
    same=no
    [ "$(val "$o" tokens) $(val "$o" idsum)" = "$(val "$h" tokens) $(val "$h" idsum)" ] && same="yes ($(val "$o" tokens) tokens)"
    what=$([ "${f##*:}" = lines ] && echo "wikitext-2, $(val "$o" texts) sentences" || echo "10 MB, one line")
    echo "| $name ($(basename "$tj")) | $what | $om | $hm | $(awk -v a="$om" -v b="$hm" 'BEGIN{printf "%.1f×", a/b}') | $same |"
  done
done
echo
echo "Raw:"
echo '```'
cat "$raw"
echo '```'
} > "$out"
cat "$out"
