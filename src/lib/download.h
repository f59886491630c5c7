/*
 * download: HTTP transfers with libcurl. The payload streams into a sink
 * through a chunk buffer while a SHA-256 runs over exactly the bytes the sink
 * has taken; a broken transfer resumes with a Range request from there.
 */
#ifndef BROWNOUT_DOWNLOAD_H
#define BROWNOUT_DOWNLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "verify.h"

/* Bytes handed to the sink at once; writes are aligned to it after a resume too. */
#define DOWNLOAD_CHUNK (1u << 20)
/* A progress marker at most this often. */
#define DOWNLOAD_PROGRESS_EVERY (16u << 20)

/* What to make of a response, judged before any byte of its body is used. */
enum download_verdict {
	DOWNLOAD_ACCEPT,	/* the body continues the payload at the current offset */
	DOWNLOAD_RESTART,	/* a whole payload (200) to a range request: start over at 0, fresh hash */
	DOWNLOAD_COMPLETE,	/* 416 to a range starting at the end: nothing left to fetch */
	DOWNLOAD_RETRY,		/* unusable (5xx, 408, 429, wrong Content-Range); another attempt may do */
	DOWNLOAD_FAIL,		/* give up: other status, or the server's file is not the manifest's */
};

/*
 * The CURLOPT_RANGE value for a request starting at offset: "<offset>-",
 * sent as "Range: bytes=<offset>-"; empty (no Range header) for offset 0.
 * Returns 0 or -ENOSPC.
 */
int download_range(uint64_t offset, char *buf, size_t size);

/*
 * Judge a response to a request from offset for a payload of total bytes.
 * content_range is the Content-Range header's value or NULL. A 206 is
 * accepted only as "bytes <offset>-<end>/<total>" with end < total; then
 * *body_end (if not NULL) is end + 1, else total.
 */
enum download_verdict download_judge(uint64_t offset, uint64_t total, long status,
				     const char *content_range, uint64_t *body_end);

struct download_sink {
	/* Write len bytes at offset; 0 or a negative errno (which ends the download). */
	int (*write)(void *ctx, uint64_t offset, const void *buf, size_t len);
	void *ctx;
};

struct download_opts {
	unsigned retries;		/* attempts after the first that failed */
	long connect_timeout_s;
	long stall_timeout_s;		/* end an attempt that got no byte for this long (or connected not) */
	unsigned retry_delay_ms;
	int marker_fd;			/* progress and retry markers; -1 for none */
};

#define DOWNLOAD_OPTS_DEFAULT { .retries = 5, .connect_timeout_s = 10, \
	.stall_timeout_s = 30, .retry_delay_ms = 1000, .marker_fd = 1 }

struct download_result {
	uint64_t bytes;			/* taken by the sink, hashed: the payload up to here */
	uint64_t received;		/* body bytes over the network, restarts included */
	unsigned attempts;
	const char *detail;		/* on failure, one marker-safe word saying why */
	uint8_t sha256[VERIFY_SHA256_LEN];	/* of the whole payload, on success */
};

/*
 * Load libcurl (the first time) and curl_global_init, once per process
 * around every other call; download_global_cleanup after them. Returns 0, or
 * a negative errno with *why saying what failed: -ENOENT libcurl cannot be
 * loaded, -ENOSYS it lacks a function, -EIO it does not initialise.
 */
int download_global_init(const char **why);
void download_global_cleanup(void);

/*
 * Fetch total bytes from url (http:// only) into sink, resuming broken
 * attempts up to o->retries times. Returns 0 with res->sha256 set, or a
 * negative errno with res->detail set: -EPROTO (a response we cannot use),
 * -ETIMEDOUT (stalled or connect timeout), -ECONNREFUSED, -EIO (transfer broke, retries spent), -EFBIG
 * (more bytes than total), or the sink's error.
 */
int download_payload(const char *url, uint64_t total, const struct download_opts *o,
		     const struct download_sink *sink, struct download_result *res);

/*
 * Fetch a small file (200 only) into buf; more than max bytes is -EFBIG.
 * *len is set on success. Broken attempts are retried like download_payload's,
 * from the start. Errors as download_payload, with res->detail set.
 */
int download_small(const char *url, char *buf, size_t max, size_t *len,
		   const struct download_opts *o, struct download_result *res);

#endif
