# brownout — top-level build. `make demo` and `make test` are the two commands
# of the README; each brings in what it needs first.
PYTHON := /usr/bin/python3
PYTEST := $(PYTHON) -m pytest
export PYTHONDONTWRITEBYTECODE := 1
# A test that needs built images fails, not skips, when they are missing.
export BROWNOUT_REQUIRE_IMAGES := 1

.PHONY: all deps deps-test images demo test lint bench clean
all: images

include src/build.mk
# After src/build.mk: it adds the agent and its tests to the c-* targets.
include faultinject/build.mk
include tests/fixtures/build.mk

# What building the images and running trials need; then what the tests need.
deps:
	@bash images/deps.sh

deps-test:
	@bash images/deps.sh --test

images: deps
	@./brownout build

# The demo's figures (build/bench/demo.json) count from here: packages and image build included.
demo: export BROWNOUT_MAKE_STARTED := $(shell date +%s.%N)
demo: images
	@./brownout demo

# C unit tests (cmocka, also under valgrind), then the harness's own tests,
# the end-to-end tests and scenarios that boot real QEMU guests (one per core).
# Their devices' overlays and snapshots (about 6 GB in all) go to build/pytest,
# which each run empties first: pytest's default keeps three runs in /tmp.
# The fifteen slowest tests are listed at the end, and the run's figures (its
# wall time, each file's share) go to build/bench/suite.json for
# `./brownout results --bench build/bench/suite.json`.
# Lint, the C tests and the image check run side by side (two at a time: the
# linters and valgrind are each single-threaded); a finding or a failure stops
# the run before any guest boots.
LINT_SHELL := images/*.sh images/rootfs/rig.sh images/rootfs/init-late images/initramfs/repair-root \
	images/methods/*/*.sh images/methods/*/boot.d/* images/methods/*/rootfs/usr/bin/* images/methods/*/rootfs/usr/lib/brownout/* \
	images/methods/asymmetric/recovery/init tests/fixtures/single-env/brownout-ab-single-env .ci/run brownout
LINTERS := lint-python lint-types lint-shell lint-c
.PHONY: $(LINTERS)
lint: deps-test
	@$(MAKE) --no-print-directory -j2 --output-sync=line $(LINTERS)

lint-python:
	$(PYTHON) -m flake8 harness scenarios tests/python
lint-types:
	$(PYTHON) -m mypy --ignore-missing-imports harness
lint-shell:
	shellcheck -S warning $(LINT_SHELL)
lint-c:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --std=c11 --inline-suppr \
		-I src/lib -I faultinject src faultinject tests/fixtures

# The image check (taken from the cache, it mostly waits on the disk) runs
# beside the C tests; the tests run longest first by their last times
# (harness/schedule.py).
test: deps-test
	@$(MAKE) --no-print-directory -j2 --output-sync=line images c-valgrind c-test $(LINTERS)
	BROWNOUT_SUITE_BENCH=build/bench/suite.json $(PYTEST) -n 2 --durations=15 --basetemp=build/pytest tests/python scenarios

bench: images
	./brownout bench boot --runs 10

clean:
	rm -rf build
