# brownout-fi, the in-guest fault-injection agent, and its cmocka tests.
# Included by the top-level Makefile after src/build.mk, whose compilers,
# flags and objects of the shared library (build/<arch>/obj/lib/*.o) it uses.
#
#   fi-host     build/host/brownout-fi, build/host/fi-writer (the end-to-end
#               test's pretend update client), build/host/tests/test_<module>
#   fi-test     build and run only these tests
#   fi-aarch64  build/aarch64/brownout-fi
#
# The tests join c-test and c-valgrind, brownout-fi joins c-host and c-aarch64.

fi_mk := $(lastword $(MAKEFILE_LIST))
fi_saved_goal := $(.DEFAULT_GOAL)

# Modules of the agent besides fi.c (its main), and what it uses from src/lib.
fi_lib := cutpoint syscalls fdcopy target phase record arch filter point trace hold rules
fi_src_lib := $(addprefix lib/,marker num fileio)
# One test per module; test_fi runs the host brownout-fi on fi-writer end to end.
fi_tests := $(addprefix test_,cutpoint syscalls fdcopy target phase record arch filter hold rules fi)
fi_test_bins := $(addprefix build/host/tests/,$(fi_tests))

# $(1): arch.
define fi_arch_rules
build/$(1)/fi/obj/%.o: faultinject/%.c $(fi_mk)
	@mkdir -p $$(@D)
	$$(c_cc_$(1)) $$(CFLAGS_COMMON) $$(c_flags_$(1)) $(c_includes) -MMD -MP -c $$< -o $$@

build/$(1)/brownout-fi: $(patsubst %,build/$(1)/fi/obj/%.o,fi $(fi_lib)) \
		$(patsubst %,build/$(1)/obj/%.o,$(fi_src_lib))
	$$(c_cc_$(1)) $$(CFLAGS_COMMON) $$(c_flags_$(1)) $$^ -o $$@
endef

$(foreach a,$(c_archs),$(eval $(call fi_arch_rules,$(a))))

build/host/fi-writer: build/host/fi/obj/fi_writer.o $(patsubst %,build/host/obj/%.o,$(fi_src_lib))
	$(HOST_CC) $(CFLAGS_COMMON) $^ -o $@

$(patsubst %,build/host/tests/obj/%.o,$(fi_tests)): build/host/tests/obj/%.o: tests/c/%.c $(fi_mk)
	@mkdir -p $(@D)
	$(HOST_CC) $(CFLAGS_COMMON) $(c_includes) -Ifaultinject -MMD -MP -c $< -o $@

# Every test links every module: few enough, and no list per test to keep.
$(fi_test_bins): build/host/tests/%: build/host/tests/obj/%.o \
		$(patsubst %,build/host/fi/obj/%.o,$(fi_lib)) $(patsubst %,build/host/obj/%.o,$(fi_src_lib))
	$(HOST_CC) $(CFLAGS_COMMON) $^ -lcmocka -o $@

# test_fi runs these; they are found next to build/host/tests.
build/host/tests/test_fi: | build/host/brownout-fi build/host/fi-writer

# c-test and c-valgrind loop over c_test_bins when they run, so appending is
# enough for the recipes; their prerequisites were read already, hence the extra lines.
c_test_bins += $(fi_test_bins)
c-test: $(fi_test_bins)
c-valgrind: $(addsuffix .valgrind,$(fi_test_bins))
c-host: fi-host
c-aarch64: fi-aarch64

.PHONY: fi-host fi-test fi-aarch64

fi-host: build/host/brownout-fi build/host/fi-writer $(fi_test_bins)

fi-aarch64: build/aarch64/brownout-fi

fi-test: $(fi_test_bins)
	@fail=; for t in $(fi_test_bins); do \
		echo "== $$t"; $$t || fail="$$fail $$t"; \
	done; \
	if [ -n "$$fail" ]; then echo "fi-test: FAILED:$$fail" >&2; exit 1; fi; \
	echo "fi-test: $(words $(fi_test_bins)) test programs passed"

-include $(wildcard build/host/fi/obj/*.d build/aarch64/fi/obj/*.d)

# Including this file must not change the top-level Makefile's default goal.
.DEFAULT_GOAL := $(fi_saved_goal)
