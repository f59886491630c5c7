# The OSTree update client, brownout-ostree (src/ostree/ostree.c on libostree,
# src/ostree/env.c through the shared envstore), on top of the shared update
# modules (markers, the update report). Included by the top-level Makefile
# after src/build.mk.
#
#   build/aarch64/brownout-ostree      joins c-aarch64 (libostree from the sysroot)
#   build/host/tests/test_ostree_env   joins c-test and c-valgrind
# The client itself is built for the device only: its logic that can be
# tested off the device (the boot counter) lives in ostree/env.

c_ostree_mods := ostree/env
c_ostree_pkgs := ostree-1 $(c_update_pkgs)
c_ostree_cflags_aarch64 = $(call c_once,pc_ostree_cflags_aarch64,$(PKG_CONFIG_CROSS) --cflags $(c_ostree_pkgs))
c_ostree_libs_aarch64 = $(call c_once,pc_ostree_libs_aarch64,$(PKG_CONFIG_CROSS) --libs $(c_ostree_pkgs))

build/aarch64/obj/ostree/ostree.o: src/ostree/ostree.c src/ostree.mk
	@mkdir -p $(@D)
	$(CROSS_CC) $(CFLAGS_COMMON) $(c_flags_aarch64) $(c_includes) $(c_ostree_cflags_aarch64) -MMD -MP -c $< -o $@

build/host/obj/ostree/env.o build/aarch64/obj/ostree/env.o: build/%/obj/ostree/env.o: src/ostree/env.c src/ostree.mk
	@mkdir -p $(@D)
	$(c_cc_$*) $(CFLAGS_COMMON) $(c_flags_$*) $(c_includes) $(c_pkg_cflags_$*) -MMD -MP -c $< -o $@

build/aarch64/brownout-ostree: $(patsubst %,build/aarch64/obj/%.o,ostree/ostree $(c_ostree_mods) $(c_update_objs))
	$(CROSS_CC) $(CFLAGS_COMMON) $(c_flags_aarch64) $^ $(c_ostree_libs_aarch64) -o $@

build/host/tests/obj/test_ostree_env.o: tests/c/test_ostree_env.c src/ostree.mk
	@mkdir -p $(@D)
	$(HOST_CC) $(CFLAGS_COMMON) $(c_test_includes) $(c_pkg_cflags_host) -MMD -MP -c $< -o $@

build/host/tests/test_ostree_env: build/host/tests/obj/test_ostree_env.o build/host/tests/obj/envfile.o \
		$(patsubst %,build/host/obj/%.o,$(c_ostree_mods) lib/envstore lib/bootenv)
	$(HOST_CC) $(CFLAGS_COMMON) $^ $(c_pkg_libs_host) -lcmocka -o $@

# c-test and c-valgrind loop over c_test_bins when they run, so appending works.
c_test_bins += build/host/tests/test_ostree_env
c-test c-valgrind c-host: build/host/tests/test_ostree_env
c-aarch64: build/aarch64/brownout-ostree
