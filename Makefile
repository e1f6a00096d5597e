# The entry points. Each target first installs whatever Debian packages are missing.
.PHONY: setup build build-debug build-fuzz run test fuzz chaos soak bench image image-test format lint clean

JOBS ?= $(shell nproc)

setup:
	@scripts/setup
	@scripts/setup-node

build: setup
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

build-debug: setup
	@cmake --preset debug >/dev/null
	@cmake --build --preset debug -j $(JOBS) --target sluice_unit_tests sluice

build-fuzz: setup
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)

# Starts the all-in-one server on 127.0.0.1:7070 with data in ./data and sends demo events.
run: build
	@scripts/run-demo build/release/sluice

# Unit tests and the hostile-input e2e suites under ASan+UBSan first, the fuzzers briefly,
# then every test (unit, integration, e2e, lint) on the release build.
test: build build-debug build-fuzz
	@ctest --preset debug-unit
	@ctest --preset fuzz
	@ctest --preset release

# The body-decoder fuzzer for longer (FUZZ_SECONDS, default 10 minutes); findings are written
# to build/fuzz/ as crash-* files.
FUZZ_SECONDS ?= 600
fuzz: build-fuzz
	@for t in body_decoders:body expression:expression schema:schema query_params:query; do \
		name=$${t%%:*}; seeds=$${t##*:}; mkdir -p build/fuzz/fuzz/corpus_$$name; \
		build/fuzz/fuzz/sluice_fuzz_$$name -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=build/fuzz/ \
			build/fuzz/fuzz/corpus_$$name fuzz/corpus/$$seeds || exit 1; \
	done

# SIGKILL every 0.5-3.5 s for CHAOS_SECONDS (default 300) under load, PostgreSQL and a webhook
# receiver going away and coming back; then every acknowledged event must be stored once.
CHAOS_SECONDS ?= 300
chaos: build
	@python3 tests/e2e/chaos_test.py build/release/sluice $(CHAOS_SECONDS)

# `sluice run` held at half its measured capacity for SOAK_MINUTES (default 30): RSS growth,
# p99 and the store's lag per minute (bench/soak.py).
SOAK_MINUTES ?= 30
soak: build
	@python3 bench/soak.py build/release $(SOAK_MINUTES)

bench: build
	@bench/run build/release

# The container image, localhost/sluice:latest (Containerfile), on a Debian 12 base made from
# Debian packages (scripts/image-base); nothing is pulled from a registry. Docker format: OCI
# images have no HEALTHCHECK.
IMAGE ?= localhost/sluice:latest
image:
	@scripts/setup-image
	@scripts/setup-node
	@node web/build.mjs --out web/dist
	@scripts/image-base
	@buildah bud --isolation chroot --layers --format docker -f Containerfile -t $(IMAGE) .

# Starts the image's `sluice run`, posts events, reads them back, restarts it and reads again.
image-test: image
	@python3 tests/image/image_test.py $(IMAGE)

format: setup
	@git ls-files --cached --others --exclude-standard '*.h' '*.cc' | xargs clang-format -i

lint: setup
	@cmake --preset release >/dev/null
	@git ls-files 'src/*.cc' | xargs clang-tidy-16 -p build/release --quiet

clean:
	rm -rf build
