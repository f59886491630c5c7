# C build for brownout: the device app, the health check and their cmocka tests.
# Included by the top-level Makefile, which runs from the repository root.
#
#   c-host      build/host/{v1,v2,v2-bad}/brownout-app, build/host/brownout-health,
#               build/host/tests/test_*
#   c-test      build and run every cmocka test
#   c-valgrind  the same tests under valgrind
#   c-aarch64   build/aarch64/{v1,v2,v2-bad}/brownout-app, build/aarch64/brownout-health
#   c-clean     remove build/host and build/aarch64 (never the sysroot)

CFLAGS_COMMON = -std=c11 -Wall -Wextra -Werror -O2 -g -D_GNU_SOURCE
HOST_CC ?= gcc
CROSS_COMPILE ?= aarch64-linux-gnu-
CROSS_CC ?= $(CROSS_COMPILE)gcc
VALGRIND ?= valgrind
SYSROOT ?= build/images/sysroot/root

# Tested when a recipe runs, not when this file is read, so a sysroot made
# earlier in the same make run is used. Without one, the cross libc from
# libc6-dev-arm64-cross is enough for the programs here.
CROSS_SYSROOT_FLAGS = $(shell test -d '$(SYSROOT)' && echo '--sysroot=$(abspath $(SYSROOT))')

# pkg-config for libraries inside the Debian arm64 sysroot, e.g.
# $(shell $(PKG_CONFIG_CROSS) --cflags --libs libcurl ostree-1 libubootenv).
# PKG_CONFIG_PATH is dropped so no host .pc file can leak into a cross link.
PKG_CONFIG_CROSS = env -u PKG_CONFIG_PATH \
	PKG_CONFIG_SYSROOT_DIR='$(abspath $(SYSROOT))' \
	PKG_CONFIG_LIBDIR='$(abspath $(SYSROOT))/usr/lib/aarch64-linux-gnu/pkgconfig:$(abspath $(SYSROOT))/usr/lib/pkgconfig:$(abspath $(SYSROOT))/usr/share/pkgconfig' \
	pkg-config

# Internal names start with c_ so they cannot collide with the top-level Makefile.
c_mk := $(lastword $(MAKEFILE_LIST))
c_saved_goal := $(.DEFAULT_GOAL)

c_archs := host aarch64
c_cc_host = $(HOST_CC)
c_cc_aarch64 = $(CROSS_CC)
c_flags_host :=
c_flags_aarch64 = $(CROSS_SYSROOT_FLAGS)

# Modules shared by the programs and the tests; app.c and selftest.c are built per variant.
c_lib := marker num status deadline probe
c_variants := v1 v2 v2-bad
c_vflags_v1 := -DAPP_VERSION='"1"'
c_vflags_v2 := -DAPP_VERSION='"2"'
c_vflags_v2-bad := -DAPP_VERSION='"2-bad"' -DAPP_SELFTEST_BROKEN

# Every module has tests/c/test_<module>.c; listed, not globbed, so tests other
# fragments add to tests/c are theirs to build. test_selftest runs once more
# against the v2-bad self-test, which must fail.
c_tests := $(addprefix test_,$(c_lib) selftest)
c_test_bins := $(addprefix build/host/tests/,$(c_tests) test_selftest_broken)

# $(1): arch. Shared objects, the health check.
define c_arch_rules
build/$(1)/obj/%.o: src/%.c $(c_mk)
	@mkdir -p $$(@D)
	$$(c_cc_$(1)) $$(CFLAGS_COMMON) $$(c_flags_$(1)) -MMD -MP -c $$< -o $$@

build/$(1)/brownout-health: $(patsubst %,build/$(1)/obj/%.o,health $(c_lib))
	$$(c_cc_$(1)) $$(CFLAGS_COMMON) $$(c_flags_$(1)) $$^ -o $$@
endef

# $(1): arch, $(2): variant. The app with its version and self-test compiled in.
define c_variant_rules
build/$(1)/$(2)/obj/%.o: src/%.c $(c_mk)
	@mkdir -p $$(@D)
	$$(c_cc_$(1)) $$(CFLAGS_COMMON) $$(c_flags_$(1)) $$(c_vflags_$(2)) -MMD -MP -c $$< -o $$@

build/$(1)/$(2)/brownout-app: $(patsubst %,build/$(1)/$(2)/obj/%.o,app selftest) $(patsubst %,build/$(1)/obj/%.o,$(c_lib))
	$$(c_cc_$(1)) $$(CFLAGS_COMMON) $$(c_flags_$(1)) $$^ -o $$@
endef

$(foreach a,$(c_archs),$(eval $(call c_arch_rules,$(a))))
$(foreach a,$(c_archs),$(foreach v,$(c_variants),$(eval $(call c_variant_rules,$(a),$(v)))))

build/host/tests/obj/%.o: tests/c/%.c $(c_mk)
	@mkdir -p $(@D)
	$(HOST_CC) $(CFLAGS_COMMON) -Isrc -MMD -MP -c $< -o $@

build/host/tests/obj/test_selftest_broken.o: tests/c/test_selftest.c $(c_mk)
	@mkdir -p $(@D)
	$(HOST_CC) $(CFLAGS_COMMON) -DAPP_SELFTEST_BROKEN -Isrc -MMD -MP -c $< -o $@

build/host/tests/test_selftest_broken: build/host/tests/obj/test_selftest_broken.o \
		build/host/v2-bad/obj/selftest.o $(patsubst %,build/host/obj/%.o,$(c_lib))
	$(HOST_CC) $(CFLAGS_COMMON) $^ -lcmocka -o $@

# A static pattern rule, so make does not treat the test objects as intermediate and delete them.
$(addprefix build/host/tests/,$(c_tests)): build/host/tests/%: build/host/tests/obj/%.o \
		build/host/obj/selftest.o $(patsubst %,build/host/obj/%.o,$(c_lib))
	$(HOST_CC) $(CFLAGS_COMMON) $^ -lcmocka -o $@

c_host_bins := $(foreach v,$(c_variants),build/host/$(v)/brownout-app) build/host/brownout-health
c_aarch64_bins := $(foreach v,$(c_variants),build/aarch64/$(v)/brownout-app) build/aarch64/brownout-health

.PHONY: c-host c-test c-valgrind c-aarch64 c-clean

c-host: $(c_host_bins) $(c_test_bins)

c-aarch64: $(c_aarch64_bins)

# Run every test even after a failure, then fail if any did.
c-test: $(c_test_bins)
	@fail=; for t in $(c_test_bins); do \
		echo "== $$t"; $$t || fail="$$fail $$t"; \
	done; \
	if [ -n "$$fail" ]; then echo "c-test: FAILED:$$fail" >&2; exit 1; fi; \
	echo "c-test: $(words $(c_test_bins)) test programs passed"

c-valgrind: $(c_test_bins)
	@fail=; for t in $(c_test_bins); do \
		echo "== valgrind $$t"; \
		$(VALGRIND) -q --error-exitcode=1 --leak-check=full $$t || fail="$$fail $$t"; \
	done; \
	if [ -n "$$fail" ]; then echo "c-valgrind: FAILED:$$fail" >&2; exit 1; fi; \
	echo "c-valgrind: $(words $(c_test_bins)) test programs clean"

c-clean:
	rm -rf build/host build/aarch64

c_dep_dirs := $(foreach a,$(c_archs),build/$(a)/obj $(foreach v,$(c_variants),build/$(a)/$(v)/obj)) \
	build/host/tests/obj
-include $(wildcard $(addsuffix /*.d,$(c_dep_dirs)))

# Including this file must not change the top-level Makefile's default goal.
.DEFAULT_GOAL := $(c_saved_goal)
