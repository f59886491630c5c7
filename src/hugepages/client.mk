# hugepages, the library the image build preloads into its compilers
# (images/lib.sh, with_huge_pages, builds it there on its own). Only its test
# is built here. Included by src/build.mk.
c_plain_tests += test_hugepages
build/host/tests/test_hugepages: build/host/obj/hugepages/hugepages.o
