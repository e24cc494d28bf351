# Builds the distributable pieces into dist/ and runs every test suite.
#   make demo    the main job: train on the built-in dataset, evaluate, recommend through
#                libld4mrec.so with the C example
#   make build   dist/lib/libld4mrec.so.1 (+ .so link), dist/include/ld4mrec.h, dist/bin/ld4mrec
#   make test    architecture checks, Swift tests, C ABI checks, examples, Python tests
# The shared library gets its own build folder: it links the Swift runtime statically,
# exports only ld4mrec_* symbols and carries the SONAME libld4mrec.so.1.

ABI_VERSION := 1
LIB_SCRATCH := .build-lib
DIST := dist
PYTHON ?= python3

DEMO := $(DIST)/demo
CC ?= cc

.PHONY: all build lib cli demo test architecture-test swift-test abi-test examples python-test clean

all: build

build: lib cli

lib:
	swift build -c release --product ld4mrec --scratch-path $(LIB_SCRATCH) \
		-Xswiftc -static-stdlib -Xcc -DLD4MREC_SYMBOL_VERSIONS \
		-Xlinker --version-script=$(CURDIR)/Sources/LD4MRecCABI/exports.map \
		-Xlinker -soname=libld4mrec.so.$(ABI_VERSION)
	mkdir -p $(DIST)/lib $(DIST)/include
	cp $(LIB_SCRATCH)/release/libld4mrec.so $(DIST)/lib/libld4mrec.so.$(ABI_VERSION)
	ln -sf libld4mrec.so.$(ABI_VERSION) $(DIST)/lib/libld4mrec.so
	cp Include/ld4mrec.h $(DIST)/include/
	cp $(DIST)/lib/libld4mrec.so.$(ABI_VERSION) Bindings/python/ld4mrec/libld4mrec.so

cli:
	swift build -c release --product ld4mrec-cli
	mkdir -p $(DIST)/bin
	cp $$(swift build -c release --show-bin-path)/ld4mrec-cli $(DIST)/bin/ld4mrec

# A small architecture (d = 200, k = 32) keeps the demo near a minute on two cores; every
# other setting is docs/MODEL.md's default.
demo: build
	$(DIST)/bin/ld4mrec make-dataset --out $(DEMO)/data
	rm -f $(DEMO)/train.jsonl
	$(DIST)/bin/ld4mrec train --data $(DEMO)/data --out $(DEMO)/model.h5 --hidden 200 --svd-rank 32 \
		--epochs 60 --patience 10 --log $(DEMO)/train.jsonl
	$(DIST)/bin/ld4mrec evaluate --model $(DEMO)/model.h5 --data $(DEMO)/data --split test --popularity
	$(CC) -std=c99 -O2 -Wall -Wextra -Werror -I Include Examples/c/recommend.c -L $(DIST)/lib -lld4mrec \
		-Wl,-rpath,$(CURDIR)/$(DIST)/lib -o $(DEMO)/recommend
	$(DEMO)/recommend $(DEMO)/model.h5

test: build architecture-test swift-test abi-test examples python-test

architecture-test:
	bash Tests/architecture/check.sh

swift-test:
	swift test

abi-test: lib
	bash Tests/abi/run.sh

examples: build
	bash Examples/run.sh

python-test: lib
	PYTHONPATH=$(CURDIR)/Bindings/python $(PYTHON) -m pytest -q Tests/python

clean:
	rm -rf $(DIST) $(LIB_SCRATCH) Bindings/python/ld4mrec/libld4mrec.so

# ---------------------------------------------------------------------------------------
# Hardening (docs/TESTING.md): the swap load test, sanitizers, valgrind, fuzzing.
#   make swap-test [SWAP_SECONDS=10]    swap models under load; 0 failed, 0 lost
#   make asan-test                      C ABI tests, examples, swap test: ASan + UBSan
#   make tsan-test [TSAN_SECONDS=20]    the 8-thread swap test under ThreadSanitizer
#   make valgrind-test                  the C and C++ examples under valgrind
#   make fuzz-smoke                     each fuzz target for FUZZ_SMOKE_SECONDS (CI)
#   make fuzz [FUZZ_SECONDS=600]        each fuzz target for FUZZ_SECONDS (the long run)
#   make fuzz-seeds                     regenerates Tests/fuzz/seeds from real files
# Sanitizer builds of the library get their own folders; like `lib`, they link with the
# version script and its symbol versions.
# ---------------------------------------------------------------------------------------

ASAN_SCRATCH := .build-asan
TSAN_SCRATCH := .build-tsan
SWAP_SECONDS ?= 10
TSAN_SECONDS ?= 20
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 25
SANITIZED_LIB_FLAGS := -Xcc -DLD4MREC_SYMBOL_VERSIONS \
	-Xlinker --version-script=$(CURDIR)/Sources/LD4MRecCABI/exports.map \
	-Xlinker -soname=libld4mrec.so.$(ABI_VERSION)
# Coverage for libFuzzer (the fuzz targets link this same build).
FUZZ_COVERAGE := edge,trace-cmp,inline-8bit-counters,pc-table

.PHONY: swap-test asan-lib tsan-lib asan-test tsan-test valgrind-test fuzz fuzz-smoke fuzz-seeds

swap-test: build
	bash Tests/load/run.sh $(SWAP_SECONDS)

# AddressSanitizer (Swift and C) + UBSan (C: swiftc has no -sanitize=undefined on Linux;
# Swift's own overflow and bounds checks are on) + libFuzzer coverage.
asan-lib:
	swift build -c release --product ld4mrec --scratch-path $(ASAN_SCRATCH) $(SANITIZED_LIB_FLAGS) \
		-Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=$(FUZZ_COVERAGE) \
		-Xcc -fsanitize=address,undefined -Xcc -fsanitize-coverage=$(FUZZ_COVERAGE)
	mkdir -p $(ASAN_SCRATCH)/lib
	cp $(ASAN_SCRATCH)/release/libld4mrec.so $(ASAN_SCRATCH)/lib/libld4mrec.so.$(ABI_VERSION)
	ln -sf libld4mrec.so.$(ABI_VERSION) $(ASAN_SCRATCH)/lib/libld4mrec.so

tsan-lib:
	swift build -c release --product ld4mrec --scratch-path $(TSAN_SCRATCH) $(SANITIZED_LIB_FLAGS) \
		-Xswiftc -sanitize=thread -Xcc -fsanitize=thread
	mkdir -p $(TSAN_SCRATCH)/lib
	cp $(TSAN_SCRATCH)/release/libld4mrec.so $(TSAN_SCRATCH)/lib/libld4mrec.so.$(ABI_VERSION)
	ln -sf libld4mrec.so.$(ABI_VERSION) $(TSAN_SCRATCH)/lib/libld4mrec.so

asan-test: build asan-lib
	bash Tests/sanitizers/run.sh asan

tsan-test: build tsan-lib
	bash Tests/sanitizers/run.sh tsan $(TSAN_SECONDS)

valgrind-test: build
	bash Tests/sanitizers/run.sh valgrind

fuzz-smoke: build asan-lib
	bash Tests/fuzz/run.sh $(FUZZ_SMOKE_SECONDS)

fuzz: build asan-lib
	bash Tests/fuzz/run.sh $(FUZZ_SECONDS)

fuzz-seeds: build
	bash Tests/fuzz/make_seeds.sh
