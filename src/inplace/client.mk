# The in-place client, brownout-inplace: src/inplace on the client core. It
# drives apt, so it needs none of the update modules' libraries. Included by
# src/build.mk.
c_inplace_objs := inplace/inplace inplace/aptlog inplace/dpkgdb $(c_client_objs) lib/status lib/fileio
define c_inplace_rules
build/$(1)/brownout-inplace: $(patsubst %,build/$(1)/obj/%.o,$(c_inplace_objs))
	$$(c_cc_$(1)) $$(CFLAGS_COMMON) $$(c_flags_$(1)) $$^ -o $$@
endef
$(foreach a,$(c_archs),$(eval $(call c_inplace_rules,$(a))))
c_device_programs += brownout-inplace
c_host_bins += build/host/brownout-inplace
c_aarch64_bins += build/aarch64/brownout-inplace

c_plain_tests += test_aptlog
build/host/tests/test_aptlog: build/host/obj/inplace/aptlog.o

c_plain_tests += test_dpkgdb
build/host/tests/test_dpkgdb: build/host/obj/inplace/dpkgdb.o
