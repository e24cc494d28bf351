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
