# brownout-treedigest, a host tool of the harness's offline checks: the digest
# of a root tree read straight out of an ext4 image (src/treedigest/ext4tree.c,
# on libext2fs and OpenSSL; harness/checks/ext4tree.py runs it). Built for the
# host only, by the apps step beside the device's programs, and tested here.
# Included by src/build.mk.
c_ext4tree_cflags = $(call c_once,pc_ext4tree_cflags,pkg-config --cflags ext2fs com_err libcrypto)
c_ext4tree_libs = $(call c_once,pc_ext4tree_libs,pkg-config --libs ext2fs com_err libcrypto)

build/host/obj/treedigest/%.o: src/treedigest/%.c $(c_mk)
	@mkdir -p $(@D)
	$(HOST_CC) $(CFLAGS_COMMON) $(c_includes) $(c_ext4tree_cflags) -MMD -MP -c $< -o $@

# SHA-256 through the shared library's verify module (src/lib/verify.c).
build/host/brownout-treedigest: $(patsubst %,build/host/obj/treedigest/%.o,treedigest ext4tree) \
		build/host/obj/lib/verify.o
	$(HOST_CC) $(CFLAGS_COMMON) $^ $(c_ext4tree_libs) -o $@
c_host_bins += build/host/brownout-treedigest

# DEST=dir: the tool built straight into dir, no object shared with the
# targets above, so the image build (images/apps.sh) and `make c-test` can
# run side by side (make test does).
.PHONY: c-host-tools
c-host-tools:
	@test -n '$(DEST)' || { echo 'c-host-tools: name the directory: make c-host-tools DEST=dir' >&2; exit 1; }
	install -d '$(DEST)'
	$(HOST_CC) $(CFLAGS_COMMON) $(c_includes) $(c_ext4tree_cflags) src/treedigest/treedigest.c \
		src/treedigest/ext4tree.c src/lib/verify.c $(c_ext4tree_libs) -o '$(DEST)/brownout-treedigest'

build/host/tests/obj/test_ext4tree.o: tests/c/test_ext4tree.c $(c_mk)
	@mkdir -p $(@D)
	$(HOST_CC) $(CFLAGS_COMMON) $(c_test_includes) $(c_ext4tree_cflags) -MMD -MP -c $< -o $@

# Its images are made by mke2fs -d from trees the test lays out.
build/host/tests/test_ext4tree: build/host/tests/obj/test_ext4tree.o build/host/obj/treedigest/ext4tree.o \
		build/host/obj/lib/verify.o
	$(HOST_CC) $(CFLAGS_COMMON) $^ $(c_ext4tree_libs) -lcmocka -o $@
c_test_bins += build/host/tests/test_ext4tree
