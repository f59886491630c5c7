/*
 * slot: the root slot an A/B update writes: which one runs, opening the other
 * one for writing, writing at offsets, making it durable and reading it back.
 */
#include "slot.h"

#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define SLOT_CMDLINE_KEY "brownout.slot="
#define SLOT_CMDLINE_MAX 4096
/* Read-back unit; O_DIRECT wants the buffer and every length aligned. */
#define SLOT_READ_CHUNK (1u << 20)
#define SLOT_ALIGN 4096u

static int slot_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

int slot_from_cmdline(const char *buf, size_t len, char *slot)
{
	size_t klen = strlen(SLOT_CMDLINE_KEY), i = 0;
	char found = 0;

	while (i < len) {
		size_t start, n;

		while (i < len && slot_is_space(buf[i]))
			i++;
		start = i;
		while (i < len && !slot_is_space(buf[i]))
			i++;
		n = i - start;
		if (n < klen || memcmp(buf + start, SLOT_CMDLINE_KEY, klen) != 0)
			continue;
		/* Exactly one letter, and only once: a second, different answer is no answer. */
		if (found || n != klen + 1 || (buf[start + klen] != 'A' && buf[start + klen] != 'B'))
			return -EINVAL;
		found = buf[start + klen];
	}
	if (!found)
		return -ENOENT;
	*slot = found;
	return 0;
}

int slot_read_cmdline(const char *path, char *slot)
{
	char buf[SLOT_CMDLINE_MAX];
	size_t got;
	int rc;

	rc = fileio_read(path, buf, sizeof(buf), &got);
	return rc < 0 ? rc : slot_from_cmdline(buf, got, slot);
}

/* Same storage: the same inode, or two nodes of the same block device. */
static int slot_same(const struct stat *a, const struct stat *b)
{
	if (S_ISBLK(a->st_mode) && S_ISBLK(b->st_mode))
		return a->st_rdev == b->st_rdev;
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

int slot_open(struct slot *s, const char *target, const char *running)
{
	struct stat st, run, root;
	int flags = O_RDWR | O_CLOEXEC;
	int rc;

	s->fd = -1;
	s->path = target;
	if (stat(target, &st) < 0)
		return -errno;
	if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode))
		return -EINVAL;
	if (running && stat(running, &run) == 0 && slot_same(&st, &run))
		return -EBUSY;
	if (S_ISBLK(st.st_mode) && stat("/", &root) == 0 && root.st_dev == st.st_rdev)
		return -EBUSY;
	/* For a block device O_EXCL makes the kernel refuse one that is mounted. */
	if (S_ISBLK(st.st_mode))
		flags |= O_EXCL;

	s->fd = open(target, flags);
	if (s->fd < 0)
		return -errno;
	/* The node could have changed between stat and open; judge what was opened. */
	if (fstat(s->fd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	s->blockdev = S_ISBLK(st.st_mode);
	if (running && stat(running, &run) == 0 && slot_same(&st, &run)) {
		rc = -EBUSY;
		goto fail;
	}
	if (s->blockdev) {
		if (ioctl(s->fd, BLKGETSIZE64, &s->size) < 0) {
			rc = -errno;
			goto fail;
		}
	} else {
		s->size = (uint64_t)st.st_size;
	}
	return 0;
fail:
	close(s->fd);
	s->fd = -1;
	return rc;
}

int slot_write(struct slot *s, uint64_t offset, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (offset > s->size || len > s->size - offset)
		return -ENOSPC;
	while (len > 0) {
		ssize_t w = pwrite(s->fd, p, len, (off_t)offset);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		p += w;
		offset += (uint64_t)w;
		len -= (size_t)w;
	}
	return 0;
}

int slot_sync(struct slot *s)
{
	/* For a block device this writes its dirty pages and flushes the disk's write cache. */
	return fsync(s->fd) < 0 ? -errno : 0;
}

int slot_has_tag_room(const struct slot *s, uint64_t len)
{
	return s->size >= SLOT_TAG_SIZE && len <= s->size - SLOT_TAG_SIZE;
}

int slot_write_tag(struct slot *s, const char *text)
{
	char tag[SLOT_TAG_SIZE] = { 0 };
	size_t n = strlen(text);

	if (s->size < SLOT_TAG_SIZE || n >= sizeof(tag))
		return -ENOSPC;
	memcpy(tag, text, n);
	return slot_write(s, s->size - SLOT_TAG_SIZE, tag, sizeof(tag));
}

int slot_read_tag(struct slot *s, char *buf, size_t *len)
{
	size_t got = 0;

	if (s->size < SLOT_TAG_SIZE)
		return -ENOSPC;
	while (got < SLOT_TAG_SIZE) {
		ssize_t r = pread(s->fd, buf + got, SLOT_TAG_SIZE - got,
				  (off_t)(s->size - SLOT_TAG_SIZE + got));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;
		got += (size_t)r;
	}
	buf[SLOT_TAG_SIZE] = '\0';
	*len = strlen(buf);
	return 0;
}

/* Hash the first len bytes of fd; reads of whole SLOT_ALIGN units at aligned offsets. */
static int slot_hash(int fd, uint64_t len, uint8_t out[VERIFY_SHA256_LEN])
{
	struct verify_sha256 h = { 0 };
	uint64_t off = 0;
	void *buf = NULL;
	int rc;

	if (posix_memalign(&buf, SLOT_ALIGN, SLOT_READ_CHUNK) != 0)
		return -ENOMEM;
	rc = verify_sha256_init(&h);
	while (rc == 0 && off < len) {
		uint64_t want = len - off < SLOT_READ_CHUNK ? len - off : SLOT_READ_CHUNK;
		/* Round the read up to the alignment; only want bytes are hashed. */
		size_t rd = (size_t)((want + SLOT_ALIGN - 1) / SLOT_ALIGN * SLOT_ALIGN);
		ssize_t r = pread(fd, buf, rd, (off_t)off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if ((uint64_t)r < want) {
			rc = -EIO;	/* less than was written: the storage lost its end */
			break;
		}
		rc = verify_sha256_update(&h, buf, (size_t)want);
		off += want;
	}
	if (rc == 0)
		rc = verify_sha256_final(&h, out);
	verify_sha256_free(&h);
	free(buf);
	return rc;
}

int slot_verify(struct slot *s, uint64_t len, const uint8_t expected[VERIFY_SHA256_LEN],
		const char **method)
{
	uint8_t got[VERIFY_SHA256_LEN];
	int fd, rc;

	if (len > s->size)
		return -ENOSPC;
	fd = open(s->path, O_RDONLY | O_CLOEXEC | O_DIRECT);
	if (fd >= 0) {
		*method = "direct";
		rc = slot_hash(fd, len, got);
		close(fd);
		if (rc != -EINVAL)
			goto out;
	} else if (errno != EINVAL) {
		return -errno;
	}

	/* No O_DIRECT here (tmpfs, or alignment refused): drop the cached pages, read again. */
	fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*method = "dropped-cache";
	/* The pages are clean after slot_sync(), so both calls can drop all of them. */
	if (s->blockdev && ioctl(fd, BLKFLSBUF, 0) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	rc = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	if (rc == 0)
		rc = slot_hash(fd, len, got);
	else
		rc = -rc;
	close(fd);
out:
	if (rc == 0 && memcmp(got, expected, VERIFY_SHA256_LEN) != 0)
		rc = -EBADMSG;
	return rc;
}

void slot_close(struct slot *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}
