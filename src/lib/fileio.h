/* fileio: a small file read whole, a buffer written whole; both retry EINTR. */
#ifndef BROWNOUT_FILEIO_H
#define BROWNOUT_FILEIO_H

#include <stddef.h>

/*
 * Read at most size bytes of path into buf (no NUL added); *len is how many.
 * A file of size bytes or more fills buf: give one byte more than the
 * largest valid file to tell an oversized one. 0 or a negative errno.
 */
int fileio_read(const char *path, char *buf, size_t size, size_t *len);

/*
 * Read path whole into buf as a string: at most size - 1 bytes, then a NUL.
 * 0, -EFBIG for a file that does not fit (buf is then ""), or a negative
 * errno as fileio_read's.
 */
int fileio_read_text(const char *path, char *buf, size_t size);

/* Write all len bytes to fd. 0 or a negative errno. */
int fileio_write_all(int fd, const void *buf, size_t len);

#endif
