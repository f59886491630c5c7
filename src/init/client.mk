# PID 1 of the root trees, brownout-init: src/init on the file helpers.
# Static on the device like the application: it starts before anything else.
# Included by src/build.mk.
c_init_objs := init/init init/bootargs lib/cmdline lib/fileio
define c_init_rules
build/$(1)/brownout-init: $(patsubst %,build/$(1)/obj/%.o,$(c_init_objs))
	$$(c_cc_$(1)) $$(CFLAGS_COMMON) $$(c_flags_$(1)) $$(c_static_$(1)) $$^ -o $$@
endef
$(foreach a,$(c_archs),$(eval $(call c_init_rules,$(a))))
c_host_bins += build/host/brownout-init
c_aarch64_bins += build/aarch64/brownout-init

c_plain_tests += test_bootargs
build/host/tests/test_bootargs: build/host/obj/init/bootargs.o build/host/obj/lib/cmdline.o
