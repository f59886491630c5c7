# The A/B client, brownout-ab: src/ab on the shared update modules.
# Included by src/build.mk.
$(foreach a,$(c_archs),$(eval $(call c_update_client,ab,ab/ab ab/env,$(a))))
c_device_programs += brownout-ab
c_host_bins += build/host/brownout-ab
c_aarch64_bins += build/aarch64/brownout-ab

c_update_tests += test_ab_env
c_envfile_tests += test_ab_env
build/host/tests/test_ab_env: build/host/obj/ab/env.o
