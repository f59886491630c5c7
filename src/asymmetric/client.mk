# The asymmetric client, brownout-asymmetric: src/asymmetric on the shared
# update modules. It runs in the root and in recovery. Included by src/build.mk.
$(foreach a,$(c_archs),$(eval $(call c_update_client,asymmetric,asymmetric/asymmetric asymmetric/env \
	asymmetric/policy,$(a))))
c_device_programs += brownout-asymmetric
c_host_bins += build/host/brownout-asymmetric
c_aarch64_bins += build/aarch64/brownout-asymmetric

c_update_tests += test_asymmetric_env
c_envfile_tests += test_asymmetric_env
build/host/tests/test_asymmetric_env: build/host/obj/asymmetric/env.o

c_plain_tests += test_asymmetric_policy
build/host/tests/test_asymmetric_policy: build/host/obj/asymmetric/policy.o
