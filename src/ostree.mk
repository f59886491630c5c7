# The OSTree update client, brownout-ostree (src/ot.c on libostree, src/otenv.c
# on libubootenv), on top of the A/B client's shared modules (markers, the
# update report). Included by the top-level Makefile after src/build.mk.
#
#   build/aarch64/brownout-ostree   joins c-aarch64 (libostree from the sysroot)
#   build/host/tests/test_otenv     joins c-test and c-valgrind
# The client itself is built for the device only: its logic that can be
# tested off the device (the boot counter) lives in otenv.

c_ot_lib := otenv
c_ot_pkgs := ostree-1 $(c_ab_pkgs)
c_ot_cflags_aarch64 = $(call c_once,pc_ot_cflags_aarch64,$(PKG_CONFIG_CROSS) --cflags $(c_ot_pkgs))
c_ot_libs_aarch64 = $(call c_once,pc_ot_libs_aarch64,$(PKG_CONFIG_CROSS) --libs $(c_ot_pkgs))

build/aarch64/obj/ot.o: src/ot.c src/ostree.mk
	@mkdir -p $(@D)
	$(CROSS_CC) $(CFLAGS_COMMON) $(c_flags_aarch64) $(c_ot_cflags_aarch64) -MMD -MP -c $< -o $@

build/host/obj/otenv.o build/aarch64/obj/otenv.o: build/%/obj/otenv.o: src/otenv.c src/ostree.mk
	@mkdir -p $(@D)
	$(c_cc_$*) $(CFLAGS_COMMON) $(c_flags_$*) $(c_pkg_cflags_$*) -MMD -MP -c $< -o $@

build/aarch64/brownout-ostree: $(patsubst %,build/aarch64/obj/%.o,ot $(c_ot_lib) $(c_ab_objs))
	$(CROSS_CC) $(CFLAGS_COMMON) $(c_flags_aarch64) $^ $(c_ot_libs_aarch64) -o $@

build/host/tests/obj/test_otenv.o: tests/c/test_otenv.c src/ostree.mk
	@mkdir -p $(@D)
	$(HOST_CC) $(CFLAGS_COMMON) -Isrc $(c_pkg_cflags_host) -MMD -MP -c $< -o $@

build/host/tests/test_otenv: build/host/tests/obj/test_otenv.o build/host/tests/obj/envfile.o \
		$(patsubst %,build/host/obj/%.o,$(c_ot_lib) envstore bootenv)
	$(HOST_CC) $(CFLAGS_COMMON) $^ $(c_pkg_libs_host) -lcmocka -o $@

# c-test and c-valgrind loop over c_test_bins when they run, so appending works.
c_test_bins += build/host/tests/test_otenv
c-test c-valgrind c-host: build/host/tests/test_otenv
c-aarch64: build/aarch64/brownout-ostree
