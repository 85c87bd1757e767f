# The one entry point: `make`, `make test`, `make install`, `make deps`, `make assets`,
# `make asan`, `make fuzz`, `make bench`, `make demo`. CMake does the compiling underneath.

PREFIX     ?= /usr
DESTDIR    ?=
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CTEST_ARGS ?=
# Where osbuilder puts the guest kernel, initrd and image (shared by every test suite).
ASSETS     ?= $(CURDIR)/$(BUILD)/assets
# Guest kernel: minimal (built from linux-source and cached, see docs/osbuilder.md) or debian
# (Debian's linux-image-amd64: then set kernel = vmlinuz.container and initrd in the config).
KERNEL     ?= minimal
# make fuzz: libFuzzer targets built with clang, everything instrumented, in FUZZ_BUILD; each
# target runs FUZZ_SECONDS (all of tests/fuzz/*_fuzz.cc, or those named in FUZZ_TARGETS).
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=

CMAKE_FLAGS = -DKATA_PREFIX=$(PREFIX)

.PHONY: all build deps test unit asan fuzz fuzz-build assets install demo bench clean format

all: build

deps:
	@packaging/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

assets: build
	@$(MAKE) -C osbuilder BUILD=$(CURDIR)/$(BUILD) OUT=$(ASSETS) KERNEL=$(KERNEL) all

# Every suite: unit, component, VM integration, Docker end-to-end. The suites share one set of
# guest assets built by `make assets`.
test: deps build assets
	cd $(BUILD) && KATA_ASSETS=$(ASSETS) ctest --output-on-failure $(CTEST_ARGS)

# Unit tests only: no root, no VM; seconds.
unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit $(CTEST_ARGS)

asan:
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_FLAGS) -DKATA_ASAN=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -L 'unit|component' $(CTEST_ARGS)

# Builds the fuzz targets (CC=clang; -fsanitize=fuzzer,address,undefined on all the code):
# those named in FUZZ_TARGETS, else all.
fuzz-build:
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) $(CMAKE_FLAGS) -DKATA_FUZZ=ON \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target \
	  $(if $(FUZZ_TARGETS),$(FUZZ_TARGETS:%=%_fuzz),fuzz_targets)

# Fuzzes each target in turn (nice -n 10, one at a time); a crash is copied into
# tests/fuzz/corpus/<target>/ as a regression input (replayed by `make test`) and fails.
fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

install: build assets
	packaging/install.sh "$(DESTDIR)" "$(PREFIX)" "$(BUILD)" "$(ASSETS)"

demo: deps build assets
	tests/demo.sh $(BUILD) $(ASSETS)

bench: deps build assets
	tests/bench/run.sh $(BUILD) $(ASSETS)

format:
	find lib runtime proxy shim agent netmon tests -name '*.cc' -o -name '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
