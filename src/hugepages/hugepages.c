/*
 * hugepages: GCC takes the memory for its syntax trees and RTL with mmap, a
 * megabyte or more at a time, and touches it page by page. Where the host's
 * transparent huge page policy is "madvise" (as on the 2-core virtual
 * machines brownout's CI runs on), every 4 KiB page of it is a page fault:
 * compiling one file of the kernel touches about 130 MB, some 33,000 faults,
 * and in a virtual machine a fault can cost 10 to 17 µs, which made the host
 * kernel's share (system time) a quarter of the kernel step's CPU time.
 * Preloaded (LD_PRELOAD), this library interposes mmap and advises such
 * mappings into huge pages; the same file then compiles with about 4,000
 * faults. Where the policy is "always" or "never" the advice changes nothing.
 * Nothing here may fail a program: the advice is best effort.
 */
#include "hugepages.h"

#include <dlfcn.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/types.h>

typedef void *mmap_fn(void *addr, size_t len, int prot, int flags, int fd, off_t off);

bool hugepages_wanted(int flags, size_t len, size_t min_len)
{
	return (flags & MAP_ANONYMOUS) && (flags & MAP_TYPE) == MAP_PRIVATE &&
	       !(flags & MAP_STACK) && len >= min_len;
}

static mmap_fn *hugepages_next_mmap(void)
{
	/* Written once, always with the same value: a race between threads is harmless. */
	static mmap_fn *next;

	if (!next)
		*(void **)&next = dlsym(RTLD_NEXT, "mmap");
	return next;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	mmap_fn *next = hugepages_next_mmap();
	void *p;

	if (!next) {
		errno = ENOSYS;
		return MAP_FAILED;
	}
	p = next(addr, len, prot, flags, fd, off);
	if (p != MAP_FAILED && hugepages_wanted(flags, len, HUGEPAGES_MIN_LEN)) {
		int saved = errno;

		/* A kernel without transparent huge pages refuses the advice; the mapping is as good. */
		(void)madvise(p, len, MADV_HUGEPAGE);
		errno = saved;
	}
	return p;
}

/* On 64-bit glibc mmap64 is mmap under a second name; programs may call either. */
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off) __attribute__((alias("mmap")));
