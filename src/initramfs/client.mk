# The initramfs's /init, brownout-initramfs: src/initramfs on the file
# helpers. Static: the initramfs carries no C library. Included by src/build.mk.
c_initramfs_objs := initramfs/initramfs initramfs/rootargs lib/cmdline lib/fileio
define c_initramfs_rules
build/$(1)/brownout-initramfs: $(patsubst %,build/$(1)/obj/%.o,$(c_initramfs_objs))
	$$(c_cc_$(1)) $$(CFLAGS_COMMON) $$(c_flags_$(1)) $$(c_static_$(1)) $$^ -o $$@
endef
$(foreach a,$(c_archs),$(eval $(call c_initramfs_rules,$(a))))
c_host_bins += build/host/brownout-initramfs
c_aarch64_bins += build/aarch64/brownout-initramfs

c_plain_tests += test_rootargs
build/host/tests/test_rootargs: build/host/obj/initramfs/rootargs.o build/host/obj/lib/cmdline.o
