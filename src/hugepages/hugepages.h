/*
 * hugepages: a library the image build preloads into its compilers
 * (images/lib.sh, with_huge_pages) so that their large anonymous mappings are
 * backed by transparent huge pages.
 */
#ifndef BROWNOUT_HUGEPAGES_H
#define BROWNOUT_HUGEPAGES_H

#include <stdbool.h>
#include <stddef.h>

/* Mappings shorter than this are left alone: malloc's small blocks and the like. */
#define HUGEPAGES_MIN_LEN ((size_t)1 << 20)

/*
 * Whether a mapping made with mmap FLAGS, LEN bytes long, is advised into huge
 * pages: a private anonymous mapping (a heap; file pages belong to the page
 * cache, shared memory to its other users) that is no thread's stack, at
 * least MIN_LEN long.
 */
bool hugepages_wanted(int flags, size_t len, size_t min_len);

#endif
