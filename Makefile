# Builds the distributable pieces into dist/ and runs every test suite.
#   make build   dist/lib/libld4mrec.so.1 (+ .so link), dist/include/ld4mrec.h, dist/bin/ld4mrec
#   make test    Swift tests, C ABI checks, examples, Python tests
# The shared library gets its own build folder: it links the Swift runtime statically,
# exports only ld4mrec_* symbols and carries the SONAME libld4mrec.so.1.

ABI_VERSION := 1
LIB_SCRATCH := .build-lib
DIST := dist
PYTHON ?= python3

.PHONY: all build lib cli test swift-test abi-test examples python-test clean

all: build

build: lib cli

lib:
	swift build -c release --product ld4mrec --scratch-path $(LIB_SCRATCH) \
		-Xswiftc -static-stdlib \
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

test: build swift-test abi-test examples python-test

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
