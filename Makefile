# The entry points. Each target first installs whatever Debian packages are missing.
.PHONY: setup build build-debug run test test-unit-sanitized bench format lint clean

JOBS ?= $(shell nproc)

setup:
	@scripts/setup

build: setup
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

build-debug: setup
	@cmake --preset debug >/dev/null
	@cmake --build --preset debug -j $(JOBS) --target sluice_unit_tests

# Starts the all-in-one server on 127.0.0.1:7070 with data in ./data and sends demo events.
run: build
	@scripts/run-demo build/release/sluice

# Unit tests under ASan+UBSan first, then every test (unit, integration, e2e) on the release build.
test: build build-debug
	@ctest --preset debug-unit
	@ctest --preset release

bench: build
	@bench/run build/release

format: setup
	@git ls-files --cached --others --exclude-standard '*.h' '*.cc' | xargs clang-format -i

lint: setup
	@cmake --preset release >/dev/null
	@git ls-files 'src/*.cc' | xargs clang-tidy-16 -p build/release --quiet

clean:
	rm -rf build
