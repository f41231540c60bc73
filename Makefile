# weir front door. `make` installs missing Debian packages and builds Release
# into build/; `make demo`, `make test` and `make bench` do the same first.
.PHONY: all deps build demo test bench test-asan test-tsan clean

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

clean:
	rm -rf build build-debug build-asan build-tsan
