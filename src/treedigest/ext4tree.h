/*
 * ext4tree: the digest of a root tree inside an ext4 image, read with
 * libext2fs: no mount, no copy of the tree.
 *
 * It is the digest harness/checks/digest.py computes of the same tree copied
 * out with debugfs's rdump, byte for byte: the entries in os.walk's order
 * (in each directory its subdirectories, symlinks to directories among them,
 * sorted, then everything else sorted; then each real subdirectory in turn),
 * each entry "path\0type\0mode\0uid\0gid\0" and then the size and SHA-256 of
 * a regular file, the target of a symlink, or nothing for a directory;
 * modes in octal, permission bits only. What rdump leaves out (device files,
 * fifos, sockets) is left out; a symlink is as rdump makes it, owned by
 * whoever reads the tree, mode 0777. A symlink counts as a directory when
 * its target is one: in the tree for a relative target, on this machine for
 * an absolute one, as it would in rdump's copy.
 */
#ifndef BROWNOUT_EXT4TREE_H
#define BROWNOUT_EXT4TREE_H

#include "verify.h"

#include <stddef.h>
#include <stdio.h>

#define EXT4TREE_HEX VERIFY_SHA256_HEX	/* a SHA-256 in hex, with its NUL */

/* Paths (relative to the tree) whose entries are left out of the digest. */
struct ext4tree_skip {
	const char *const *exact;	/* these paths */
	size_t n_exact;
	const char *const *prefix;	/* paths that start with these strings */
	size_t n_prefix;
	const char *const *under;	/* everything below these directories, not they */
	size_t n_under;
};

struct ext4tree_result {
	char tree[EXT4TREE_HEX];	/* SHA-256 over every entry, in order */
	unsigned long long entries;
};

/*
 * The digest of the tree at root (an absolute path inside the file system
 * in image), entries under skip left out. With manifest, each entry's path
 * and the first 16 hex digits of its own SHA-256 are written there, each
 * followed by a NUL. 0, or a negative errno with a message on stderr.
 */
int ext4tree_digest(const char *image, const char *root, const struct ext4tree_skip *skip,
		    FILE *manifest, struct ext4tree_result *out);

#endif
