/* ext4tree: a root tree's digest read straight out of an ext4 image (see ext4tree.h). */
#include "ext4tree.h"

#include "verify.h"

#include <errno.h>
#include <ext2fs/ext2fs.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXT4TREE_CHUNK ((size_t)1 << 20)

/* Content digests by inode: a tree whose files are hard links (OSTree's) reads each once. */
struct ext4tree_seen {
	ext2_ino_t *ino;
	char (*hex)[EXT4TREE_HEX];
	size_t n, cap;		/* cap: a power of two, or 0 */
};

struct ext4tree_walk {
	ext2_filsys fs;
	ext2_ino_t root;
	const struct ext4tree_skip *skip;
	FILE *manifest;
	struct verify_sha256 tree;
	unsigned long long entries;
	unsigned char *chunk;
	struct ext4tree_seen seen;
	uid_t link_uid;
	gid_t link_gid;
};

/* One name in a directory, as the walk sorts and emits it. */
struct ext4tree_child {
	char *name;
	ext2_ino_t ino;
	struct ext2_inode inode;
	char *target;		/* a symlink's */
	bool listed_as_dir;	/* a directory, or a symlink to one */
};

struct ext4tree_listing {
	struct ext4tree_child *c;
	size_t n, cap;
	int rc;
};

static int ext4tree_fail(const char *what, const char *detail, errcode_t err)
{
	fprintf(stderr, "ext4tree: %s%s%s: %s\n", what, detail ? " " : "", detail ? detail : "",
		error_message(err));
	return -EIO;
}

/* The SHA-256 of one buffer, in hex. */
static int ext4tree_sha256(const void *data, size_t len, char *hex)
{
	struct verify_sha256 h = { 0 };
	uint8_t md[VERIFY_SHA256_LEN];
	int rc = verify_sha256_init(&h);

	if (rc == 0)
		rc = verify_sha256_update(&h, data, len);
	if (rc == 0)
		rc = verify_sha256_final(&h, md);
	verify_sha256_free(&h);
	if (rc == 0)
		verify_hex(md, sizeof(md), hex);
	return rc;
}

static size_t ext4tree_slot(const struct ext4tree_seen *s, ext2_ino_t ino)
{
	size_t i = ((size_t)ino * 2654435761u) & (s->cap - 1);

	while (s->ino[i] && s->ino[i] != ino)
		i = (i + 1) & (s->cap - 1);
	return i;
}

static const char *ext4tree_seen_get(const struct ext4tree_seen *s, ext2_ino_t ino)
{
	if (!s->cap)
		return NULL;
	size_t i = ext4tree_slot(s, ino);

	return s->ino[i] ? s->hex[i] : NULL;
}

static int ext4tree_seen_put(struct ext4tree_seen *s, ext2_ino_t ino, const char *hex)
{
	if (2 * (s->n + 1) > s->cap) {
		struct ext4tree_seen grown = { .cap = s->cap ? 2 * s->cap : 1024 };

		grown.ino = calloc(grown.cap, sizeof(*grown.ino));
		grown.hex = calloc(grown.cap, sizeof(*grown.hex));
		if (!grown.ino || !grown.hex) {
			free(grown.ino);
			free(grown.hex);
			return -ENOMEM;
		}
		for (size_t i = 0; i < s->cap; i++) {
			if (s->ino[i]) {
				size_t j = ext4tree_slot(&grown, s->ino[i]);

				grown.ino[j] = s->ino[i];
				memcpy(grown.hex[j], s->hex[i], EXT4TREE_HEX);
			}
		}
		grown.n = s->n;
		free(s->ino);
		free(s->hex);
		*s = grown;
	}
	size_t i = ext4tree_slot(s, ino);

	s->ino[i] = ino;
	memcpy(s->hex[i], hex, EXT4TREE_HEX);
	s->n++;
	return 0;
}

/*
 * A regular file's size and SHA-256, as rdump's copy has them: what reading
 * it returns (holes as zeros), up to a read that fails, as rdump stops there.
 */
static int ext4tree_content(struct ext4tree_walk *w, ext2_ino_t ino, const char *path,
			    unsigned long long *size, char *hex)
{
	struct verify_sha256 h = { 0 };
	uint8_t md[VERIFY_SHA256_LEN];
	ext2_file_t file;
	errcode_t err;
	unsigned got;
	int rc;

	*size = 0;
	err = ext2fs_file_open(w->fs, ino, 0, &file);
	if (err)
		return ext4tree_fail("opening", path, err);
	rc = verify_sha256_init(&h);
	while (rc == 0) {
		err = ext2fs_file_read(file, w->chunk, EXT4TREE_CHUNK, &got);
		if (err) {
			fprintf(stderr, "ext4tree: reading %s: %s\n", path, error_message(err));
			break;
		}
		if (got == 0)
			break;
		rc = verify_sha256_update(&h, w->chunk, got);
		*size += got;
	}
	if (rc == 0)
		rc = verify_sha256_final(&h, md);
	if (rc == 0)
		verify_hex(md, sizeof(md), hex);
	verify_sha256_free(&h);
	ext2fs_file_close(file);
	return rc;
}

/* A symlink's target, read as rdump reads it (a fast symlink up to its first NUL). */
static int ext4tree_target(struct ext4tree_walk *w, struct ext4tree_child *c)
{
	unsigned long long len = EXT2_I_SIZE(&c->inode);
	unsigned got, done = 0;
	ext2_file_t file;
	errcode_t err;

	if (len > EXT4TREE_CHUNK)
		return ext4tree_fail("symlink too long:", c->name, EXT2_ET_INVALID_ARGUMENT);
	c->target = calloc(1, (size_t)len + 1);
	if (!c->target)
		return -ENOMEM;
	if (ext2fs_is_fast_symlink(&c->inode)) {
		memcpy(c->target, (const char *)c->inode.i_block,
		       len < sizeof(c->inode.i_block) ? (size_t)len : sizeof(c->inode.i_block));
		return 0;
	}
	err = ext2fs_file_open(w->fs, c->ino, 0, &file);
	if (err)
		return ext4tree_fail("opening symlink", c->name, err);
	while (done < len) {
		err = ext2fs_file_read(file, c->target + done, (unsigned)len - done, &got);
		if (err || got == 0)
			break;
		done += got;
	}
	ext2fs_file_close(file);
	return 0;
}

/*
 * Whether a symlink in directory dir reads as a directory in rdump's copy: a
 * relative target resolves in the tree, an absolute one on this machine.
 */
static bool ext4tree_link_is_dir(struct ext4tree_walk *w, ext2_ino_t dir, const char *target)
{
	struct ext2_inode inode;
	struct stat st;
	ext2_ino_t ino;

	if (target[0] == '/')
		return stat(target, &st) == 0 && S_ISDIR(st.st_mode);
	if (!target[0] || ext2fs_namei_follow(w->fs, w->root, dir, target, &ino) ||
	    ext2fs_read_inode(w->fs, ino, &inode))
		return false;
	return LINUX_S_ISDIR(inode.i_mode);
}

static int ext4tree_list_one(struct ext2_dir_entry *dirent, int offset, int blocksize, char *buf,
			     void *priv)
{
	struct ext4tree_listing *l = priv;
	int len = ext2fs_dirent_name_len(dirent);

	(void)offset, (void)blocksize, (void)buf;
	if ((len == 1 && dirent->name[0] == '.') ||
	    (len == 2 && dirent->name[0] == '.' && dirent->name[1] == '.'))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 32;
		struct ext4tree_child *grown = realloc(l->c, cap * sizeof(*grown));

		if (!grown) {
			l->rc = -ENOMEM;
			return DIRENT_ABORT;
		}
		l->c = grown;
		l->cap = cap;
	}
	l->c[l->n] = (struct ext4tree_child){ .name = strndup(dirent->name, (size_t)len),
					      .ino = dirent->inode };
	if (!l->c[l->n].name) {
		l->rc = -ENOMEM;
		return DIRENT_ABORT;
	}
	l->n++;
	return 0;
}

static int ext4tree_by_name(const void *a, const void *b)
{
	const struct ext4tree_child *x = a, *y = b;

	/* Set apart first, as os.walk lists subdirectories before the rest. */
	if (x->listed_as_dir != y->listed_as_dir)
		return x->listed_as_dir ? -1 : 1;
	return strcmp(x->name, y->name);
}

static bool ext4tree_under(const char *rel, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(rel, dir, n) == 0 && rel[n] == '/';
}

static bool ext4tree_skipped(const struct ext4tree_skip *s, const char *rel)
{
	for (size_t i = 0; i < s->n_exact; i++)
		if (strcmp(rel, s->exact[i]) == 0)
			return true;
	for (size_t i = 0; i < s->n_prefix; i++)
		if (strncmp(rel, s->prefix[i], strlen(s->prefix[i])) == 0)
			return true;
	for (size_t i = 0; i < s->n_under; i++)
		if (ext4tree_under(rel, s->under[i]))
			return true;
	return false;
}

/* Nothing below a directory skipped whole reaches the digest: no need to read it. */
static bool ext4tree_pruned(const struct ext4tree_skip *s, const char *rel)
{
	for (size_t i = 0; i < s->n_under; i++)
		if (strcmp(rel, s->under[i]) == 0 || ext4tree_under(rel, s->under[i]))
			return true;
	return false;
}

/* One entry into the digest (and the manifest), as digest.py's _entry spells it. */
static int ext4tree_emit(struct ext4tree_walk *w, const char *rel, const struct ext4tree_child *c)
{
	unsigned mode = c->inode.i_mode, type = mode & LINUX_S_IFMT;
	unsigned long uid = inode_uid(c->inode), gid = inode_gid(c->inode);
	char content[EXT4TREE_HEX], own[EXT4TREE_HEX];
	unsigned long long size = 0;
	char *entry = NULL;
	size_t len = 0;
	FILE *out;
	int rc = 0;

	if (type == LINUX_S_IFREG) {
		const char *known = ext4tree_seen_get(&w->seen, c->ino);

		if (known) {
			memcpy(content, known, EXT4TREE_HEX);
			size = EXT2_I_SIZE(&c->inode);
		} else {
			rc = ext4tree_content(w, c->ino, rel, &size, content);
			/* Only whole reads are remembered: a short one is the file's alone. */
			if (rc == 0 && size == EXT2_I_SIZE(&c->inode))
				rc = ext4tree_seen_put(&w->seen, c->ino, content);
			if (rc < 0)
				return rc;
		}
	} else if (type == LINUX_S_IFLNK) {
		/* rdump makes the symlink itself: its creator's, and symlinks have mode 0777. */
		mode = 0777;
		uid = (unsigned long)w->link_uid;
		gid = (unsigned long)w->link_gid;
	}
	out = open_memstream(&entry, &len);
	if (!out)
		return -ENOMEM;
	fprintf(out, "%s%c%o%c%o%c%lu%c%lu%c", rel, 0, type, 0, mode & 0777, 0, uid, 0, gid, 0);
	if (type == LINUX_S_IFREG)
		fprintf(out, "%llu%c%s\n", size, 0, content);
	else if (type == LINUX_S_IFLNK)
		fprintf(out, "%s\n", c->target);
	else
		fputc('\n', out);
	if (fclose(out) != 0) {
		free(entry);
		return -ENOMEM;
	}
	rc = verify_sha256_update(&w->tree, entry, len);
	if (rc == 0 && w->manifest) {
		rc = ext4tree_sha256(entry, len, own);
		if (rc == 0 && fprintf(w->manifest, "%s%c%.16s%c", rel, 0, own, 0) < 0)
			rc = -EIO;
	}
	w->entries++;
	free(entry);
	return rc;
}

static void ext4tree_listing_free(struct ext4tree_listing *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->c[i].name);
		free(l->c[i].target);
	}
	free(l->c);
}

/* The directory dir at rel ("" for the tree's root): its entries, then its subdirectories'. */
static int ext4tree_dir(struct ext4tree_walk *w, ext2_ino_t dir, const char *rel)
{
	struct ext4tree_listing l = { 0 };
	size_t kept = 0;
	errcode_t err;
	int rc = 0;

	err = ext2fs_dir_iterate(w->fs, dir, 0, NULL, ext4tree_list_one, &l);
	if (err || l.rc) {
		rc = l.rc ? l.rc : ext4tree_fail("reading directory", rel[0] ? rel : "/", err);
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		struct ext4tree_child *c = &l.c[i];
		unsigned type;

		err = ext2fs_read_inode(w->fs, c->ino, &c->inode);
		if (err) {
			rc = ext4tree_fail("reading the inode of", c->name, err);
			goto out;
		}
		type = c->inode.i_mode & LINUX_S_IFMT;
		if (type == LINUX_S_IFLNK) {
			rc = ext4tree_target(w, c);
			if (rc < 0)
				goto out;
			c->listed_as_dir = ext4tree_link_is_dir(w, dir, c->target);
		} else if (type == LINUX_S_IFDIR) {
			c->listed_as_dir = true;
		} else if (type != LINUX_S_IFREG) {
			/* rdump copies no device files, fifos or sockets. */
			free(c->name);
			c->name = NULL;
		}
	}
	for (size_t i = 0; i < l.n; i++)
		if (l.c[i].name)
			l.c[kept++] = l.c[i];
	l.n = kept;
	qsort(l.c, l.n, sizeof(*l.c), ext4tree_by_name);
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		for (size_t i = 0; i < l.n && rc == 0; i++) {
			struct ext4tree_child *c = &l.c[i];
			bool real_dir = (c->inode.i_mode & LINUX_S_IFMT) == LINUX_S_IFDIR;
			char *path;

			if (asprintf(&path, "%s%s%s", rel, rel[0] ? "/" : "", c->name) < 0) {
				rc = -ENOMEM;
				break;
			}
			/* Pass 0 emits every entry, pass 1 walks into real subdirectories. */
			if (pass == 0 && !ext4tree_skipped(w->skip, path))
				rc = ext4tree_emit(w, path, c);
			else if (pass == 1 && real_dir && !ext4tree_pruned(w->skip, path))
				rc = ext4tree_dir(w, c->ino, path);
			free(path);
		}
	}
out:
	ext4tree_listing_free(&l);
	return rc;
}

int ext4tree_digest(const char *image, const char *root, const struct ext4tree_skip *skip,
		    FILE *manifest, struct ext4tree_result *out)
{
	struct ext4tree_walk w = { .skip = skip, .manifest = manifest, .link_uid = geteuid(),
				   .link_gid = getegid() };
	uint8_t md[VERIFY_SHA256_LEN];
	struct ext2_inode inode;
	errcode_t err;
	int rc;

	memset(out, 0, sizeof(*out));
	/* libext2fs's messages for its error codes (registered once however often called). */
	initialize_ext2_error_table();
	err = ext2fs_open(image, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &w.fs);
	if (err)
		return ext4tree_fail("opening", image, err);
	w.chunk = malloc(EXT4TREE_CHUNK);
	rc = w.chunk ? verify_sha256_init(&w.tree) : -ENOMEM;
	if (rc < 0)
		goto out;
	err = ext2fs_namei(w.fs, EXT2_ROOT_INO, EXT2_ROOT_INO, root, &w.root);
	if (!err)
		err = ext2fs_read_inode(w.fs, w.root, &inode);
	if (err) {
		rc = ext4tree_fail("finding", root, err);
		goto out;
	}
	if (!LINUX_S_ISDIR(inode.i_mode)) {
		fprintf(stderr, "ext4tree: %s in %s is not a directory\n", root, image);
		rc = -ENOTDIR;
		goto out;
	}
	rc = ext4tree_dir(&w, w.root, "");
	if (rc == 0)
		rc = verify_sha256_final(&w.tree, md);
	if (rc == 0) {
		verify_hex(md, sizeof(md), out->tree);
		out->entries = w.entries;
	}
out:
	free(w.seen.ino);
	free(w.seen.hex);
	free(w.chunk);
	verify_sha256_free(&w.tree);
	ext2fs_close_free(&w.fs);
	return rc;
}
