# C build for brownout: the device app and health check (src/app), the shared
# update library (src/lib), and their cmocka tests. Each method's client is in
# its own folder, src/<method>/, with the rules for it and its tests in
# src/<method>/client.mk, which this file includes. Included by the top-level
# Makefile, which runs from the repository root.
#
#   c-host      build/host/{v1,v2,v2-bad,v3}/brownout-app, build/host/brownout-health,
#               the clients built for the host, build/host/tests/test_*
#   c-test      build and run every cmocka test
#   c-valgrind  the same tests under valgrind
#   c-aarch64   build/aarch64/{v1,v2,v2-bad,v3}/brownout-app, build/aarch64/brownout-health,
#               build/aarch64/brownout-<method> for every client
#   c-device    DEST=dir: the programs every root tree carries (health check, clients)
#   c-clean     remove build/host and build/aarch64 (never the sysroot)

CFLAGS_COMMON = -std=c11 -Wall -Wextra -Werror -O2 -g -D_GNU_SOURCE
HOST_CC ?= gcc
CROSS_COMPILE ?= aarch64-linux-gnu-
CROSS_CC ?= $(CROSS_COMPILE)gcc
VALGRIND ?= valgrind
SYSROOT ?= build/images/sysroot/root

# Tested when a recipe runs, not when this file is read, so a sysroot made
# earlier in the same make run is used. Without one, the cross libc from
# libc6-dev-arm64-cross is enough for the app and the health check;
# brownout-ab needs the sysroot's libcurl headers, libubootenv and OpenSSL.
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
# The application and its health check, on the boot's critical path, link
# statically on the device: under emulation the dynamic loader costs each
# start about 20 ms more. The update clients stay dynamic (libubootenv, OpenSSL).
c_static_host :=
c_static_aarch64 := -static
# Every source includes the shared library's headers by name (src/lib); a
# program's own headers sit next to it.
c_includes := -Isrc/lib

# Modules are named by their path below src/, without .c: lib/marker, ab/env.
# The shared library's modules that need nothing but libc: every program has
# some of them. app/app.c and app/selftest.c are built per variant.
c_lib := $(addprefix lib/,marker num fileio status deadline probe cli cmdline)

c_variants := v1 v2 v2-bad v3
c_vflags_v1 := -DAPP_VERSION='"1"'
c_vflags_v2 := -DAPP_VERSION='"2"'
c_vflags_v3 := -DAPP_VERSION='"3"'
c_vflags_v2-bad := -DAPP_VERSION='"2-bad"' -DAPP_SELFTEST_BROKEN

# The shared library's update modules (update: the install steps the A/B and
# asymmetric clients and the unsafe fixture share; envstore: the U-Boot env
# every method keeps its variables in), and the libraries they use: the
# host's for the tests, the sysroot's for the device. Each pkg-config runs
# once, and only when a recipe needs it (c_once), so a sysroot made earlier in
# the same make run is found, and host-only targets never look for one.
c_update_lib := $(addprefix lib/,bootenv verify manifest download slot slotstate envstore update)
# The client core every update client is built on (client.h), and what it needs.
c_client_objs := $(addprefix lib/,client cli marker num)
# Everything a program on the update modules links besides its own modules.
c_update_objs = $(c_update_lib) $(c_client_objs) $(addprefix lib/,fileio deadline)
# libcurl's headers only: lib/download loads libcurl when a transfer is about
# to start (download_global_init), so a client that only confirms never loads it.
c_update_pkgs := libcurl libubootenv libcrypto
c_update_link_pkgs := libubootenv libcrypto
c_once = $(if $(filter undefined,$(origin c_cache_$(1))),$(eval c_cache_$(1) := $(shell $(2))))$(c_cache_$(1))
c_pkg_cflags_host = $(call c_once,pc_cflags_host,pkg-config --cflags $(c_update_pkgs))
c_pkg_libs_host = $(call c_once,pc_libs_host,pkg-config --libs $(c_update_link_pkgs))
c_pkg_cflags_aarch64 = $(call c_once,pc_cflags_aarch64,$(PKG_CONFIG_CROSS) --cflags $(c_update_pkgs))
c_pkg_libs_aarch64 = $(call c_once,pc_libs_aarch64,$(PKG_CONFIG_CROSS) --libs $(c_update_link_pkgs))

# Every module has tests/c/test_<name>.c, named for its prefix: lib/marker's
# is test_marker, asymmetric/policy's test_asymmetric_policy. Listed, not
# globbed, so tests other fragments add to tests/c are theirs to build.
# test_selftest runs once more against the v2-bad self-test, which must fail.
c_tests := $(addprefix test_,$(notdir $(c_lib)) selftest)
# Clients add their tests to c_update_tests (linked with the update modules),
# c_envfile_tests (an env partition in a file) or c_test_bins (rules of their own).
c_update_tests := $(addprefix test_,$(notdir $(c_update_lib)))
c_envfile_tests := test_envstore
c_test_bins := $(addprefix build/host/tests/,$(c_tests) test_selftest_broken test_client)
# The programs every root tree carries in /usr/bin; clients add theirs.
c_device_programs := brownout-health
c_host_bins := $(foreach v,$(c_variants),build/host/$(v)/brownout-app) build/host/brownout-health
c_aarch64_bins := $(foreach v,$(c_variants),build/aarch64/$(v)/brownout-app) build/aarch64/brownout-health

# $(1): arch. Shared objects and the health check.
define c_arch_rules
build/$(1)/obj/%.o: src/%.c $(c_mk)
	@mkdir -p $$(@D)
	$$(c_cc_$(1)) $$(CFLAGS_COMMON) $$(c_flags_$(1)) $(c_includes) -MMD -MP -c $$< -o $$@

build/$(1)/brownout-health: $(patsubst %,build/$(1)/obj/%.o,app/health $(c_lib))
	$$(c_cc_$(1)) $$(CFLAGS_COMMON) $$(c_flags_$(1)) $$(c_static_$(1)) $$^ -o $$@

# The update modules include libcurl, libubootenv and OpenSSL headers.
$(patsubst %,build/$(1)/obj/%.o,$(c_update_lib)): build/$(1)/obj/%.o: src/%.c $(c_mk)
	@mkdir -p $$(@D)
	$$(c_cc_$(1)) $$(CFLAGS_COMMON) $$(c_flags_$(1)) $(c_includes) $$(c_pkg_cflags_$(1)) -MMD -MP -c $$< -o $$@
endef

# $(1): method, $(2): its modules (src/<method>/<method>.c and the rest), $(3): arch.
# brownout-<method> on the update modules: it and they compiled and linked
# against libubootenv and OpenSSL (libcurl is loaded when a transfer starts).
# A client's client.mk calls it.
define c_update_client
$(patsubst %,build/$(3)/obj/%.o,$(2)): build/$(3)/obj/%.o: src/%.c $(c_mk)
	@mkdir -p $$(@D)
	$$(c_cc_$(3)) $$(CFLAGS_COMMON) $$(c_flags_$(3)) $(c_includes) $$(c_pkg_cflags_$(3)) -MMD -MP -c $$< -o $$@

build/$(3)/brownout-$(1): $(patsubst %,build/$(3)/obj/%.o,$(2) $(c_update_objs))
	$$(c_cc_$(3)) $$(CFLAGS_COMMON) $$(c_flags_$(3)) $$^ $$(c_pkg_libs_$(3)) -o $$@
endef

# Tests include the library's headers by name and a program's by its folder: "ab/env.h".
c_test_includes := $(c_includes) -Isrc

include $(sort $(wildcard src/*/client.mk))

# $(1): arch, $(2): variant. The app with its version and self-test compiled in.
define c_variant_rules
build/$(1)/$(2)/obj/%.o: src/%.c $(c_mk)
	@mkdir -p $$(@D)
	$$(c_cc_$(1)) $$(CFLAGS_COMMON) $$(c_flags_$(1)) $(c_includes) $$(c_vflags_$(2)) -MMD -MP -c $$< -o $$@

build/$(1)/$(2)/brownout-app: $(patsubst %,build/$(1)/$(2)/obj/app/%.o,app selftest) \
		$(patsubst %,build/$(1)/obj/%.o,$(c_lib))
	$$(c_cc_$(1)) $$(CFLAGS_COMMON) $$(c_flags_$(1)) $$(c_static_$(1)) $$^ -o $$@
endef

$(foreach a,$(c_archs),$(eval $(call c_arch_rules,$(a))))
$(foreach a,$(c_archs),$(foreach v,$(c_variants),$(eval $(call c_variant_rules,$(a),$(v)))))

build/host/tests/obj/%.o: tests/c/%.c $(c_mk)
	@mkdir -p $(@D)
	$(HOST_CC) $(CFLAGS_COMMON) $(c_test_includes) -MMD -MP -c $< -o $@

$(patsubst %,build/host/tests/obj/%.o,$(c_update_tests) envfile): build/host/tests/obj/%.o: tests/c/%.c $(c_mk)
	@mkdir -p $(@D)
	$(HOST_CC) $(CFLAGS_COMMON) $(c_test_includes) $(c_pkg_cflags_host) -MMD -MP -c $< -o $@

build/host/tests/obj/test_selftest_broken.o: tests/c/test_selftest.c $(c_mk)
	@mkdir -p $(@D)
	$(HOST_CC) $(CFLAGS_COMMON) -DAPP_SELFTEST_BROKEN $(c_test_includes) -MMD -MP -c $< -o $@

build/host/tests/test_selftest_broken: build/host/tests/obj/test_selftest_broken.o \
		build/host/v2-bad/obj/app/selftest.o $(patsubst %,build/host/obj/%.o,$(c_lib))
	$(HOST_CC) $(CFLAGS_COMMON) $^ -lcmocka -o $@

# A static pattern rule, so make does not treat the test objects as intermediate and delete them.
$(addprefix build/host/tests/,$(c_tests)): build/host/tests/%: build/host/tests/obj/%.o \
		build/host/obj/app/selftest.o $(patsubst %,build/host/obj/%.o,$(c_lib))
	$(HOST_CC) $(CFLAGS_COMMON) $^ -lcmocka -o $@

# The update modules' tests link all of them: few enough, and no list per test
# to keep. A client's test adds its own modules as prerequisites.
c_test_bins += $(addprefix build/host/tests/,$(c_update_tests))
$(addprefix build/host/tests/,$(c_update_tests)): build/host/tests/%: build/host/tests/obj/%.o \
		$(patsubst %,build/host/obj/%.o,$(c_update_objs))
	$(HOST_CC) $(CFLAGS_COMMON) $^ $(c_pkg_libs_host) -lcmocka -lpthread -o $@

# The tests on an env partition in a file share its helper (tests/c/envfile.c).
$(addprefix build/host/tests/,$(c_envfile_tests)): build/host/tests/obj/envfile.o

# The client core's test runs programs of the host's (true, false) as health checks.
build/host/tests/test_client: build/host/tests/obj/test_client.o build/host/tests/obj/capture.o \
		$(patsubst %,build/host/obj/%.o,$(c_client_objs))
	$(HOST_CC) $(CFLAGS_COMMON) $^ -lcmocka -o $@

# test_update and test_cli capture what they run writes to stdout and stderr, as
# test_client does (tests/c/capture.c).
build/host/tests/test_update build/host/tests/test_cli: build/host/tests/obj/capture.o

# A test of a client's module that needs nothing but the module: the client's
# client.mk names it in c_plain_tests and adds the module as a prerequisite.
$(addprefix build/host/tests/,$(c_plain_tests)): build/host/tests/%: build/host/tests/obj/%.o
	$(HOST_CC) $(CFLAGS_COMMON) $^ -lcmocka -o $@
c_test_bins += $(addprefix build/host/tests/,$(c_plain_tests))

.PHONY: c-host c-test c-valgrind c-aarch64 c-device c-clean

c-host: $(c_host_bins) $(c_test_bins)

c-aarch64: $(c_aarch64_bins)

c-device: c-aarch64
	@test -n '$(DEST)' || { echo 'c-device: name the directory: make c-device DEST=dir' >&2; exit 1; }
	install -d '$(DEST)'
	install -m 0755 $(addprefix build/aarch64/,$(c_device_programs)) '$(DEST)/'

# Run every test even after a failure, then fail if any did.
c-test: $(c_test_bins)
	@fail=; for t in $(c_test_bins); do \
		echo "== $$t"; $$t || fail="$$fail $$t"; \
	done; \
	if [ -n "$$fail" ]; then echo "c-test: FAILED:$$fail" >&2; exit 1; fi; \
	echo "c-test: $(words $(c_test_bins)) test programs passed"

# libubootenv 0.3.2's libuboot_env_store() builds the copy it writes in a
# malloc'd buffer and leaves the bytes after the variables uninitialised; it
# computes the CRC over them and writes them out. The copy is still valid (the
# CRC covers what is written), so only that function's reports are suppressed.
define c_valgrind_supp
{
   libubootenv-0.3.2-store-crc-over-uninitialised-tail
   Memcheck:Value8
   ...
   fun:libuboot_env_store
}
{
   libubootenv-0.3.2-store-crc-over-uninitialised-tail-cond
   Memcheck:Cond
   ...
   fun:libuboot_env_store
}
{
   libubootenv-0.3.2-store-writes-uninitialised-tail
   Memcheck:Param
   write(buf)
   ...
   fun:libuboot_env_store
}
endef
c_valgrind_supp_file := build/host/tests/valgrind.supp

# One valgrind run per test program, so make -j runs them side by side (each is
# single-threaded and valgrind slows it tens of times). A run that fails leaves
# its program's name in a .fail file instead of stopping make: every program
# runs, then c-valgrind fails if any did. No X.valgrind file is ever made, so
# each run is made every time.
c_valgrind_runs = $(addsuffix .valgrind,$(c_test_bins))

%.valgrind: % $(c_valgrind_supp_file)
	@echo "== valgrind $<"; rm -f $@.fail; \
	$(VALGRIND) -q --error-exitcode=1 --leak-check=full \
		--suppressions=$(c_valgrind_supp_file) $< || echo $< > $@.fail

$(c_valgrind_supp_file): $(lastword $(MAKEFILE_LIST))
	@mkdir -p $(@D)
	$(file >$@,$(c_valgrind_supp))

c-valgrind: $(c_valgrind_runs)
	@fail=$$(cat $(addsuffix .fail,$(c_valgrind_runs)) 2>/dev/null | tr '\n' ' '); \
	if [ -n "$$fail" ]; then echo "c-valgrind: FAILED: $$fail" >&2; exit 1; fi; \
	echo "c-valgrind: $(words $(c_test_bins)) test programs clean"

c-clean:
	rm -rf build/host build/aarch64

c_dep_dirs := $(foreach a,$(c_archs),build/$(a)/obj $(foreach v,$(c_variants),build/$(a)/$(v)/obj)) \
	build/host/tests/obj
-include $(wildcard $(addsuffix /*.d,$(c_dep_dirs)) $(addsuffix /*/*.d,$(c_dep_dirs)))

# Including this file must not change the top-level Makefile's default goal.
.DEFAULT_GOAL := $(c_saved_goal)
