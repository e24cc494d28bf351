# Builds the distributable pieces into dist/, installs them, and runs every test suite.
#   make demo       the main job: train on the built-in dataset, evaluate, recommend through
#                   libld4mrec.so with the C example
#   make build      dist/lib/libld4mrec.so.1 (+ .so link), dist/include/ld4mrec.h and
#                   ld4mrec.hpp, dist/bin/ld4mrec
#   make install    into PREFIX (default /usr/local), staged under DESTDIR if given:
#                   bin/ld4mrec, lib/libld4mrec.so.1 (+ .so link), include/ld4mrec.h and
#                   ld4mrec.hpp, lib/pkgconfig/ld4mrec.pc, lib/cmake/ld4mrec/ (CMake package)
#   make uninstall  the same PREFIX and DESTDIR: removes those files, and the folders that
#                   install created
#   make test       architecture checks, Swift tests, C ABI checks, examples, Python tests,
#                   install and consumer tests
#   make deps       the Debian packages the build needs (scripts/deps.sh: apt-get as root,
#                   otherwise the command to run); demo, build and test check them first
#   make venv       .venv: the Python test dependencies (Tests/python/requirements.txt);
#                   make venv TORCH=1 adds PyTorch (Tests/python/requirements-torch.txt)
# The shared library gets its own build folder: it links the Swift runtime statically,
# exports only ld4mrec_* symbols and carries the SONAME libld4mrec.so.1. The CLI, in a
# build folder of its own too, links the Swift runtime statically as well.

HEADER := Include/ld4mrec.h
# The version is written once, in the header; everything installed takes it from there.
VERSION := $(shell sed -n 's/^.define LD4MREC_VERSION_STRING "\(.*\)"/\1/p' $(HEADER))
VERSION_MAJOR := $(firstword $(subst ., ,$(VERSION)))
ABI_VERSION := $(shell sed -n 's/^.define LD4MREC_ABI_VERSION \([0-9]*\).*/\1/p' $(HEADER))
ifeq ($(and $(VERSION),$(ABI_VERSION)),)
$(error cannot read LD4MREC_VERSION_STRING and LD4MREC_ABI_VERSION from $(HEADER))
endif

LIB_SCRATCH := .build-lib
CLI_SCRATCH := .build-cli
DIST := dist
PYTHON ?= python3
VENV := .venv
VENV_PYTHON := $(VENV)/bin/python

# Installed layout: PREFIX/{bin,include,lib}. Fixed, because the CMake package finds the
# prefix from its own place; the .pc file names PREFIX (not DESTDIR, a staging folder).
PREFIX ?= /usr/local
DEST = $(DESTDIR)$(PREFIX)
INSTALLED_FILES := bin/ld4mrec lib/libld4mrec.so.$(ABI_VERSION) lib/libld4mrec.so \
	include/ld4mrec.h include/ld4mrec.hpp lib/pkgconfig/ld4mrec.pc \
	lib/cmake/ld4mrec/ld4mrecConfig.cmake lib/cmake/ld4mrec/ld4mrecConfigVersion.cmake
# The folders install needs (. is the prefix). Those it creates are listed in INSTALL_RECORD,
# so that uninstall removes exactly them: a prefix keeps the folders it had, even empty.
INSTALL_DIRS := . bin include lib lib/pkgconfig lib/cmake lib/cmake/ld4mrec
INSTALL_RECORD := lib/cmake/ld4mrec/installed-folders.txt
SUBSTITUTE = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' \
	-e 's|@VERSION_MAJOR@|$(VERSION_MAJOR)|g' -e 's|@ABI_VERSION@|$(ABI_VERSION)|g'

DEMO := $(DIST)/demo
CC ?= cc

.PHONY: all build lib cli demo install uninstall deps test-deps venv \
	test architecture-test swift-test abi-test examples python-test install-test clean

all: build

deps:
	@bash scripts/deps.sh build

test-deps:
	@PYTHON=$(PYTHON) bash scripts/deps.sh test

build: lib cli

lib: deps
	swift build -c release --product ld4mrec --scratch-path $(LIB_SCRATCH) \
		-Xswiftc -static-stdlib -Xcc -DLD4MREC_SYMBOL_VERSIONS \
		-Xlinker --version-script=$(CURDIR)/Sources/LD4MRecCABI/exports.map \
		-Xlinker -soname=libld4mrec.so.$(ABI_VERSION) -Xlinker -z -Xlinker nodelete
	mkdir -p $(DIST)/lib $(DIST)/include
	cp $(LIB_SCRATCH)/release/libld4mrec.so $(DIST)/lib/libld4mrec.so.$(ABI_VERSION)
	ln -sf libld4mrec.so.$(ABI_VERSION) $(DIST)/lib/libld4mrec.so
	cp Include/ld4mrec.h Bindings/cpp/ld4mrec.hpp $(DIST)/include/
	cp $(DIST)/lib/libld4mrec.so.$(ABI_VERSION) Bindings/python/ld4mrec/libld4mrec.so

# The CLI links the Swift runtime statically as well, in a build folder of its own: the
# installed bin/ld4mrec runs without the toolchain that built it.
cli: deps
	swift build -c release --product ld4mrec-cli --scratch-path $(CLI_SCRATCH) -Xswiftc -static-stdlib
	mkdir -p $(DIST)/bin
	cp $(CLI_SCRATCH)/release/ld4mrec-cli $(DIST)/bin/ld4mrec

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

install: build
	$(if $(filter /%,$(PREFIX)),,$(error PREFIX must be an absolute path, not '$(PREFIX)'))
	record=$(DEST)/$(INSTALL_RECORD); \
	created=$$(cat $$record 2>/dev/null; \
		for dir in $(INSTALL_DIRS); do [ -d $(DEST)/$$dir ] || echo $$dir; done); \
	install -d $(addprefix $(DEST)/,$(INSTALL_DIRS)) && \
	printf '%s\n' $$created | sort -u >$$record
	install -m 755 $(DIST)/bin/ld4mrec $(DEST)/bin/
	install -m 755 $(DIST)/lib/libld4mrec.so.$(ABI_VERSION) $(DEST)/lib/
	ln -sfn libld4mrec.so.$(ABI_VERSION) $(DEST)/lib/libld4mrec.so
	install -m 644 $(DIST)/include/ld4mrec.h $(DIST)/include/ld4mrec.hpp $(DEST)/include/
	$(SUBSTITUTE) Install/ld4mrec.pc.in >$(DEST)/lib/pkgconfig/ld4mrec.pc
	$(SUBSTITUTE) Install/ld4mrecConfig.cmake.in >$(DEST)/lib/cmake/ld4mrec/ld4mrecConfig.cmake
	$(SUBSTITUTE) Install/ld4mrecConfigVersion.cmake.in \
		>$(DEST)/lib/cmake/ld4mrec/ld4mrecConfigVersion.cmake

# Deepest folders first (reverse order); one that another package has since used stays.
uninstall:
	rm -f $(addprefix $(DEST)/,$(INSTALLED_FILES))
	record=$(DEST)/$(INSTALL_RECORD); \
	if [ -f $$record ]; then \
		created=$$(sort -r $$record); \
		rm -f $$record; \
		for dir in $$created; do \
			path=$(DEST)/$$dir; path=$${path%/.}; \
			[ ! -d $$path ] || rmdir --ignore-fail-on-non-empty $$path; \
		done; \
	fi

# The stamps are newer than the requirements they installed: editing a requirements file
# reinstalls, an up-to-date venv costs nothing.
venv: $(VENV)/.requirements.stamp $(if $(filter 1,$(TORCH)),$(VENV)/.torch.stamp)

$(VENV)/.requirements.stamp: Tests/python/requirements.txt | test-deps
	$(PYTHON) -m venv $(VENV)
	$(VENV_PYTHON) -m pip install -q --disable-pip-version-check -r $<
	touch $@

$(VENV)/.torch.stamp: Tests/python/requirements-torch.txt $(VENV)/.requirements.stamp
	$(VENV_PYTHON) -m pip install -q --disable-pip-version-check -r $<
	touch $@

test: test-deps build architecture-test swift-test abi-test examples python-test install-test

architecture-test:
	bash Tests/architecture/check.sh

swift-test: deps
	swift test

abi-test: lib
	bash Tests/abi/run.sh

examples: build venv
	PYTHON=$(CURDIR)/$(VENV_PYTHON) bash Examples/run.sh

python-test: lib venv
	PYTHONPATH=$(CURDIR)/Bindings/python $(VENV_PYTHON) -m pytest -q Tests/python

install-test: build test-deps
	PYTHON=$(PYTHON) bash Tests/install/run.sh

clean:
	rm -rf $(DIST) $(LIB_SCRATCH) $(CLI_SCRATCH) Bindings/python/ld4mrec/libld4mrec.so Examples/swift-package/.build

# Training at scale (README): the built-in dataset trained by ld4mrec.torch on 2 CPU
# processes with torchrun, then served by the CLI. PyTorch comes into .venv.
.PHONY: demo-torch
demo-torch: build $(VENV)/.torch.stamp
	$(DIST)/bin/ld4mrec make-dataset --out $(DEMO)/data
	PYTHONPATH=$(CURDIR)/Bindings/python $(VENV_PYTHON) -m torch.distributed.run --standalone --nproc_per_node 2 \
		-m ld4mrec.torch.train --data $(DEMO)/data --out $(DEMO)/model-torch.h5 --hidden 64 --svd-rank 16 \
		--epochs 20 --patience 5
	$(DIST)/bin/ld4mrec recommend $(DEMO)/model-torch.h5 --user 17 -k 10

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
# Requests of the TSan swap test that run on the library's thread pool (one in N; 0:
# none).
TSAN_POOL_EVERY ?= 4
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 25
SANITIZED_LIB_FLAGS := -Xcc -DLD4MREC_SYMBOL_VERSIONS \
	-Xlinker --version-script=$(CURDIR)/Sources/LD4MRecCABI/exports.map \
	-Xlinker -soname=libld4mrec.so.$(ABI_VERSION) -Xlinker -z -Xlinker nodelete
# Coverage for libFuzzer (the fuzz targets link this same build).
FUZZ_COVERAGE := edge,trace-cmp,inline-8bit-counters,pc-table

.PHONY: swap-test asan-lib tsan-lib asan-test tsan-test valgrind-test fuzz fuzz-smoke fuzz-seeds

swap-test: build
	bash Tests/load/run.sh $(SWAP_SECONDS)

# AddressSanitizer (Swift and C) + UBSan (C: swiftc has no -sanitize=undefined on Linux;
# Swift's own overflow and bounds checks are on) + libFuzzer coverage.
asan-lib: deps
	swift build -c release --product ld4mrec --scratch-path $(ASAN_SCRATCH) $(SANITIZED_LIB_FLAGS) \
		-Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=$(FUZZ_COVERAGE) \
		-Xcc -fsanitize=address,undefined -Xcc -fsanitize-coverage=$(FUZZ_COVERAGE)
	mkdir -p $(ASAN_SCRATCH)/lib
	cp $(ASAN_SCRATCH)/release/libld4mrec.so $(ASAN_SCRATCH)/lib/libld4mrec.so.$(ABI_VERSION)
	ln -sf libld4mrec.so.$(ABI_VERSION) $(ASAN_SCRATCH)/lib/libld4mrec.so

# The C is instrumented without function entry/exit hooks: the ifunc resolvers that
# target_clones adds to the kernels run before the TSan runtime is up, and the hooks
# would crash them (memory accesses are still checked; only C frames leave reports).
tsan-lib: deps
	swift build -c release --product ld4mrec --scratch-path $(TSAN_SCRATCH) $(SANITIZED_LIB_FLAGS) \
		-Xswiftc -sanitize=thread -Xcc -fsanitize=thread \
		-Xcc -fno-sanitize-thread-func-entry-exit
	mkdir -p $(TSAN_SCRATCH)/lib
	cp $(TSAN_SCRATCH)/release/libld4mrec.so $(TSAN_SCRATCH)/lib/libld4mrec.so.$(ABI_VERSION)
	ln -sf libld4mrec.so.$(ABI_VERSION) $(TSAN_SCRATCH)/lib/libld4mrec.so

asan-test: build asan-lib
	bash Tests/sanitizers/run.sh asan

tsan-test: build tsan-lib
	POOL_EVERY=$(TSAN_POOL_EVERY) bash Tests/sanitizers/run.sh tsan $(TSAN_SECONDS)

valgrind-test: build
	bash Tests/sanitizers/run.sh valgrind

fuzz-smoke: build asan-lib
	bash Tests/fuzz/run.sh $(FUZZ_SMOKE_SECONDS)

fuzz: build asan-lib
	bash Tests/fuzz/run.sh $(FUZZ_SECONDS)

fuzz-seeds: build
	bash Tests/fuzz/make_seeds.sh
