# weir front door. `make` installs missing Debian packages and builds Release
# into build/; `make demo`, `make test` and `make bench` do the same first.
# `make test-clang` builds the library with clang under -Werror=thread-safety
# and runs each libFuzzer target for FUZZ_SECONDS (15); `make fuzz` runs them
# longer (FUZZ_SECONDS, default 300 each).
.PHONY: all deps build demo test bench test-asan test-tsan test-clang fuzz clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release

demo: build
	build/bin/weir-example-flash_sale

test: build
	ctest --preset release

bench: build
	@scripts/install-deps.sh --bench
	scripts/bench.sh

test-asan:
	@scripts/install-deps.sh
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan
	ctest --preset asan

test-tsan:
	@scripts/install-deps.sh
	@cmake --preset tsan >/dev/null
	@cmake --build --preset tsan
	ctest --preset tsan

FUZZ_SECONDS ?= 15

test-clang:
	@scripts/install-deps.sh
	@cmake --preset clang >/dev/null
	@cmake --build --preset clang
	scripts/fuzz.sh $(FUZZ_SECONDS)

fuzz:
	@$(MAKE) --no-print-directory test-clang FUZZ_SECONDS=$(if $(filter command line,$(origin FUZZ_SECONDS)),$(FUZZ_SECONDS),300)

clean:
	rm -rf build build-debug build-asan build-tsan build-clang
