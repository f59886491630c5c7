# The OSTree client, brownout-ostree: src/ostree/ostree.c on libostree, its
# boot counter (src/ostree/env.c) through the shared envstore, its boot slots
# (src/ostree/bootslot.c), on the shared update modules (markers, the update
# report). Built for the device only: the logic that can be tested off the
# device, the boot counter and the boot slots, lives in ostree/env and
# ostree/bootslot and is tested on the host. Included by src/build.mk.
c_ostree_cflags_aarch64 = $(call c_once,pc_ostree_cflags_aarch64,$(PKG_CONFIG_CROSS) --cflags ostree-1 $(c_update_pkgs))
c_ostree_libs_aarch64 = $(call c_once,pc_ostree_libs_aarch64,$(PKG_CONFIG_CROSS) --libs ostree-1 $(c_update_link_pkgs))

build/aarch64/obj/ostree/ostree.o: src/ostree/ostree.c $(c_mk)
	@mkdir -p $(@D)
	$(CROSS_CC) $(CFLAGS_COMMON) $(c_flags_aarch64) $(c_includes) $(c_ostree_cflags_aarch64) -MMD -MP -c $< -o $@

build/host/obj/ostree/env.o build/aarch64/obj/ostree/env.o: build/%/obj/ostree/env.o: src/ostree/env.c $(c_mk)
	@mkdir -p $(@D)
	$(c_cc_$*) $(CFLAGS_COMMON) $(c_flags_$*) $(c_includes) $(c_pkg_cflags_$*) -MMD -MP -c $< -o $@

build/aarch64/brownout-ostree: $(patsubst %,build/aarch64/obj/%.o,ostree/ostree ostree/env ostree/bootslot $(c_update_objs))
	$(CROSS_CC) $(CFLAGS_COMMON) $(c_flags_aarch64) $^ $(c_ostree_libs_aarch64) -o $@
c_device_programs += brownout-ostree
c_aarch64_bins += build/aarch64/brownout-ostree

c_update_tests += test_ostree_env
c_envfile_tests += test_ostree_env
build/host/tests/test_ostree_env: build/host/obj/ostree/env.o

# The boot slots need nothing but libc: a file stands for the partition.
c_plain_tests += test_ostree_bootslot
build/host/tests/test_ostree_bootslot: build/host/obj/ostree/bootslot.o
