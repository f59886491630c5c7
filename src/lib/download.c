/*
 * download: HTTP transfers with libcurl, resumed with Range requests, into a
 * sink through a chunk buffer, hashing exactly what the sink has taken.
 */
#include "download.h"

#include "deadline.h"
#include "marker.h"
#include "num.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DL_HEADER_MAX 128
#define DL_CURL_SONAME "libcurl.so.4"

/*
 * libcurl, loaded by download_global_init, that is when an install is about
 * to transfer, not when a client starts: a confirmation, which never
 * transfers, starts without libcurl and the two dozen libraries it brings
 * (TLS, Kerberos, LDAP, SSH), each of which costs every boot's confirmation
 * milliseconds of dynamic loading under emulation.
 */
static struct {
	void *lib;
	CURLcode (*global_init)(long flags);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
	CURLcode (*easy_perform)(CURL *curl);
	CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *curl);
} dl_curl;

struct dl {
	CURL *curl;
	const struct download_opts *o;
	const char *what;		/* "payload" or "manifest", for markers */
	uint64_t total;

	/* Payload mode: the sink, the chunk being filled, the hash of what the sink took. */
	const struct download_sink *sink;
	uint8_t *chunk;
	size_t fill;
	uint64_t offset;		/* bytes the sink has taken and the hash covers */
	uint64_t next_progress;
	uint64_t last_progress;		/* bytes in the last progress marker */
	struct verify_sha256 hash;

	/* Small mode: a caller's buffer. */
	char *buf;
	size_t max, len;

	uint64_t received;

	/* One attempt: the response as far as seen, and why we stopped it. */
	int cr_seen;
	char content_range[DL_HEADER_MAX];
	int judged;
	long status;
	enum download_verdict verdict;
	uint64_t body_end;
	struct timespec last_byte;	/* when the server last sent anything */
	int stalled;
	int err;
	const char *why;
};

int download_range(uint64_t offset, char *buf, size_t size)
{
	int n;

	if (offset == 0)
		n = snprintf(buf, size, "%s", "");
	else
		n = snprintf(buf, size, "%" PRIu64 "-", offset);
	return n < 0 || (size_t)n >= size ? -ENOSPC : 0;
}

/* The digits of s up to stop (which must follow them) into *v; advances *s. */
static int dl_number(const char **s, char stop, uint64_t *v)
{
	const char *end = strchr(*s, stop);

	if (!end || num_parse_u64(*s, (size_t)(end - *s), UINT64_MAX, v) < 0)
		return -EINVAL;
	*s = end + 1;
	return 0;
}

/* "bytes <start>-<end>/<total>" or, with *unsatisfied set, "bytes * /<total>" (no space). */
static int dl_parse_content_range(const char *cr, uint64_t *start, uint64_t *end,
				  uint64_t *total, int *unsatisfied)
{
	const char *p = cr;

	if (strncmp(p, "bytes ", 6) != 0)
		return -EINVAL;
	p += 6;
	*unsatisfied = p[0] == '*' && p[1] == '/';
	if (*unsatisfied)
		p += 2;
	else if (dl_number(&p, '-', start) < 0 || dl_number(&p, '/', end) < 0)
		return -EINVAL;
	return num_parse_u64(p, strlen(p), UINT64_MAX, total) < 0 ? -EINVAL : 0;
}

enum download_verdict download_judge(uint64_t offset, uint64_t total, long status,
				     const char *content_range, uint64_t *body_end)
{
	uint64_t start = 0, end = 0, crtotal = 0;
	int unsatisfied = 0;
	int crok = content_range &&
		   dl_parse_content_range(content_range, &start, &end, &crtotal, &unsatisfied) == 0 &&
		   crtotal == total;

	if (body_end)
		*body_end = total;
	switch (status) {
	case 200:
		/* The whole file: fine for a plain request; for a range request the server ignored it. */
		return offset == 0 ? DOWNLOAD_ACCEPT : DOWNLOAD_RESTART;
	case 206:
		/* Exactly from where we are, within the payload the manifest describes. */
		if (!crok || unsatisfied || start != offset || end < start || end >= total)
			return DOWNLOAD_RETRY;
		if (body_end)
			*body_end = end + 1;
		return DOWNLOAD_ACCEPT;
	case 416:
		/* Only "we already have it all" is fine; else the file is shorter than ours. */
		if (offset > 0 && offset == total && crok && unsatisfied)
			return DOWNLOAD_COMPLETE;
		return DOWNLOAD_FAIL;
	case 408:
	case 429:
		return DOWNLOAD_RETRY;
	default:
		return status >= 500 && status <= 599 ? DOWNLOAD_RETRY : DOWNLOAD_FAIL;
	}
}

/* dlsym into a function pointer: POSIX's way, which ISO C's casts do not allow. */
static int dl_sym(const char *name, void *fn)
{
	void *sym = dlsym(dl_curl.lib, name);

	if (!sym)
		return -ENOENT;
	memcpy(fn, &sym, sizeof(sym));
	return 0;
}

int download_global_init(const char **why)
{
	*why = NULL;
	if (!dl_curl.lib) {
		dl_curl.lib = dlopen(DL_CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
		if (!dl_curl.lib) {
			*why = dlerror();
			return -ENOENT;
		}
		if (dl_sym("curl_global_init", &dl_curl.global_init) < 0 ||
		    dl_sym("curl_global_cleanup", &dl_curl.global_cleanup) < 0 ||
		    dl_sym("curl_easy_init", &dl_curl.easy_init) < 0 ||
		    dl_sym("curl_easy_setopt", &dl_curl.easy_setopt) < 0 ||
		    dl_sym("curl_easy_perform", &dl_curl.easy_perform) < 0 ||
		    dl_sym("curl_easy_getinfo", &dl_curl.easy_getinfo) < 0 ||
		    dl_sym("curl_easy_cleanup", &dl_curl.easy_cleanup) < 0) {
			*why = DL_CURL_SONAME " lacks a libcurl function";
			dlclose(dl_curl.lib);
			memset(&dl_curl, 0, sizeof(dl_curl));
			return -ENOSYS;
		}
	}
	if (dl_curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		*why = "curl_global_init failed";
		return -EIO;
	}
	return 0;
}

void download_global_cleanup(void)
{
	if (dl_curl.lib)
		dl_curl.global_cleanup();
}

static void dl_marker(struct dl *d, const char *event, const struct marker_field *f, size_t n)
{
	if (d->o->marker_fd >= 0)
		marker_emit(d->o->marker_fd, event, f, n);
}

static void dl_progress(struct dl *d, int force)
{
	char bytes[24], total[24];

	if ((!force && d->offset < d->next_progress) || (force && d->offset == d->last_progress))
		return;
	d->last_progress = d->offset;
	d->next_progress = (d->offset / DOWNLOAD_PROGRESS_EVERY + 1) * DOWNLOAD_PROGRESS_EVERY;
	snprintf(bytes, sizeof(bytes), "%" PRIu64, d->offset);
	snprintf(total, sizeof(total), "%" PRIu64, d->total);
	dl_marker(d, "progress", MARKER({ "phase", "pull" },
					{ "bytes", bytes },
					{ "total", total }));
}

static int dl_stop(struct dl *d, int err, const char *why)
{
	d->err = err;
	d->why = why;
	return err;
}

/* Hand the chunk to the sink; hash it only once the sink has it, so offset and hash agree. */
static int dl_flush(struct dl *d)
{
	int rc;

	if (d->fill == 0)
		return 0;
	rc = d->sink->write(d->sink->ctx, d->offset, d->chunk, d->fill);
	if (rc < 0)
		return dl_stop(d, rc, "write");
	rc = verify_sha256_update(&d->hash, d->chunk, d->fill);
	if (rc < 0)
		return dl_stop(d, rc, "hash");
	d->offset += d->fill;
	d->fill = 0;
	dl_progress(d, 0);
	return 0;
}

static enum download_verdict dl_judge_small(long status)
{
	if (status == 200)
		return DOWNLOAD_ACCEPT;
	if (status == 408 || status == 429 || (status >= 500 && status <= 599))
		return DOWNLOAD_RETRY;
	return DOWNLOAD_FAIL;
}

/* Judge the response once its headers are in, before its body is used. */
static void dl_judge_now(struct dl *d)
{
	d->judged = 1;
	dl_curl.easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &d->status);
	if (!d->sink) {
		d->verdict = dl_judge_small(d->status);
		return;
	}
	d->verdict = download_judge(d->offset, d->total, d->status,
				    d->cr_seen ? d->content_range : NULL, &d->body_end);
	if (d->verdict != DOWNLOAD_RESTART)
		return;
	/* The server sent everything from byte 0: what we have goes, and the hash with it. */
	fprintf(stderr, "brownout-ab: %s: 200 to a range request at %" PRIu64
		": starting over\n", d->what, d->offset);
	d->offset = 0;
	d->fill = 0;
	d->next_progress = DOWNLOAD_PROGRESS_EVERY;
	if (verify_sha256_init(&d->hash) < 0)
		dl_stop(d, -ENOMEM, "nomem");
	d->verdict = DOWNLOAD_ACCEPT;
}

static size_t dl_header(char *data, size_t size, size_t n, void *ctx)
{
	struct dl *d = ctx;
	size_t len = size * n;
	static const char key[] = "Content-Range:";

	deadline_now(&d->last_byte);
	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		/* A new response (after a 100 Continue, say): forget the last one's headers. */
		d->cr_seen = 0;
	} else if (len > strlen(key) && strncasecmp(data, key, strlen(key)) == 0) {
		const char *v = data + strlen(key);
		size_t vlen = len - strlen(key);

		while (vlen > 0 && (*v == ' ' || *v == '\t'))
			v++, vlen--;
		while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
			vlen--;
		/* Too long to be ours: keep something that cannot parse. */
		if (vlen >= sizeof(d->content_range))
			vlen = 0;
		memcpy(d->content_range, v, vlen);
		d->content_range[vlen] = '\0';
		d->cr_seen = 1;
	}
	return len;
}

static size_t dl_write(char *data, size_t size, size_t n, void *ctx)
{
	struct dl *d = ctx;
	size_t len = size * n, done = 0;

	deadline_now(&d->last_byte);
	if (!d->judged)
		dl_judge_now(d);
	if (d->err)
		return 0;
	if (d->verdict == DOWNLOAD_COMPLETE)
		return len;	/* the body of a 416 says nothing we need */
	if (d->verdict != DOWNLOAD_ACCEPT)
		return 0;	/* ends the transfer with CURLE_WRITE_ERROR */
	d->received += len;

	if (!d->sink) {
		if (len > d->max - d->len) {
			dl_stop(d, -EFBIG, "too-big");
			return 0;
		}
		memcpy(d->buf + d->len, data, len);
		d->len += len;
		return len;
	}
	/* Never past what the response announced, nor past the manifest's size. */
	if (len > d->body_end - d->offset - d->fill) {
		dl_stop(d, -EFBIG, "too-long");
		return 0;
	}
	while (done < len) {
		/* Chunks end on DOWNLOAD_CHUNK boundaries of the payload, after a resume too. */
		size_t room = DOWNLOAD_CHUNK - (size_t)(d->offset % DOWNLOAD_CHUNK) - d->fill;
		size_t take = len - done < room ? len - done : room;

		memcpy(d->chunk + d->fill, data + done, take);
		d->fill += take;
		done += take;
		if (d->fill + d->offset % DOWNLOAD_CHUNK == DOWNLOAD_CHUNK && dl_flush(d) < 0)
			return 0;
	}
	return len;
}

/*
 * Called about once a second while a transfer waits: end it once the server
 * has been silent for stall_timeout_s. (CURLOPT_LOW_SPEED_TIME would too, but
 * it averages over a window of several seconds and so reacts late.)
 */
static int dl_xferinfo(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct dl *d = ctx;
	struct timespec now;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	deadline_now(&now);
	if (deadline_diff_ms(&now, &d->last_byte) < d->o->stall_timeout_s * 1000)
		return 0;
	d->stalled = 1;
	return 1;
}

/* Map a failed transfer to an errno and a word; *fatal if retrying cannot help. */
static int dl_curl_error(CURLcode cc, const char **why, int *fatal)
{
	*fatal = 0;
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		*why = "timeout";
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		*why = "connect";
		return -ECONNREFUSED;
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
		*why = "broken";
		return -EIO;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		*fatal = 1;
		*why = "url";
		return -EINVAL;
	default:
		*why = "curl";
		return -EIO;
	}
}

enum dl_outcome { DL_DONE, DL_PROGRESS, DL_AGAIN, DL_GIVE_UP };

/* One request from the current offset; says what the loop should do next. */
static enum dl_outcome dl_attempt(struct dl *d, int *rc)
{
	char range[32];
	CURLcode cc;
	int fatal;

	d->cr_seen = 0;
	d->judged = 0;
	d->status = 0;
	d->err = 0;
	d->why = NULL;
	d->stalled = 0;
	deadline_now(&d->last_byte);
	d->body_end = d->total;
	d->len = 0;
	if (download_range(d->sink ? d->offset : 0, range, sizeof(range)) < 0)
		return *rc = -EINVAL, DL_GIVE_UP;
	dl_curl.easy_setopt(d->curl, CURLOPT_RANGE, range[0] ? range : NULL);

	cc = dl_curl.easy_perform(d->curl);
	/* A response without a body (416, a bare 404) never reached dl_write. */
	if (!d->judged && (cc == CURLE_OK || cc == CURLE_PARTIAL_FILE))
		dl_judge_now(d);
	/* Bytes that arrived before a break are the payload's: keep them, resume after them. */
	if (d->sink && d->judged && d->verdict == DOWNLOAD_ACCEPT && !d->err)
		dl_flush(d);

	if (d->err)
		return *rc = d->err, DL_GIVE_UP;
	if (d->judged && d->verdict == DOWNLOAD_FAIL) {
		d->why = d->status == 416 || d->status == 206 ? "range" : "http-status";
		return *rc = -EPROTO, DL_GIVE_UP;
	}
	/* All there (also after a 416 to a request from the end), even if the connection broke. */
	if (d->sink && d->offset == d->total)
		return *rc = 0, DL_DONE;
	if (d->judged && d->verdict == DOWNLOAD_RETRY) {
		d->why = d->status == 206 ? "range" : "http-status";
		return *rc = -EPROTO, DL_AGAIN;
	}
	if (d->stalled) {
		d->why = "stalled";
		return *rc = -ETIMEDOUT, DL_AGAIN;
	}
	if (cc != CURLE_OK) {
		*rc = dl_curl_error(cc, &d->why, &fatal);
		return fatal ? DL_GIVE_UP : DL_AGAIN;
	}
	if (!d->sink)
		return *rc = 0, DL_DONE;
	/* A clean end: a 206 for part of the rest moves on; any other short body is a break. */
	if (d->status == 206 && d->offset == d->body_end)
		return *rc = 0, DL_PROGRESS;
	d->why = "short";
	return *rc = -EIO, DL_AGAIN;
}

static void dl_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void dl_report_retry(struct dl *d, unsigned attempt)
{
	char at[16], off[24], status[16];

	snprintf(at, sizeof(at), "%u", attempt);
	snprintf(off, sizeof(off), "%" PRIu64, d->sink ? d->offset : 0);
	snprintf(status, sizeof(status), "%ld", d->status);
	fprintf(stderr, "brownout-ab: %s: attempt %u failed at byte %s (%s, HTTP %s)\n",
		d->what, attempt, off, d->why, status);
	dl_marker(d, "pull-retry", MARKER({ "what", d->what },
					  { "attempt", at },
					  { "offset", off },
					  { "reason", d->why },
					  { "status", status }));
}

static int dl_run(struct dl *d, const char *url, struct download_result *res)
{
	unsigned failures = 0, attempts = 0;
	enum dl_outcome out;
	int rc = 0;

	d->curl = dl_curl.easy_init();
	if (!d->curl) {
		res->detail = "nomem";
		return -ENOMEM;
	}
	dl_curl.easy_setopt(d->curl, CURLOPT_URL, url);
	/* Plain HTTP to the update server and nothing else; no redirects to elsewhere. */
	dl_curl.easy_setopt(d->curl, CURLOPT_PROTOCOLS_STR, "http");
	dl_curl.easy_setopt(d->curl, CURLOPT_FOLLOWLOCATION, 0L);
	dl_curl.easy_setopt(d->curl, CURLOPT_NOSIGNAL, 1L);
	dl_curl.easy_setopt(d->curl, CURLOPT_USERAGENT, "brownout-ab");
	dl_curl.easy_setopt(d->curl, CURLOPT_CONNECTTIMEOUT, d->o->connect_timeout_s);
	/* A stalled server ends the attempt (dl_xferinfo). */
	dl_curl.easy_setopt(d->curl, CURLOPT_NOPROGRESS, 0L);
	dl_curl.easy_setopt(d->curl, CURLOPT_XFERINFOFUNCTION, dl_xferinfo);
	dl_curl.easy_setopt(d->curl, CURLOPT_XFERINFODATA, d);
	dl_curl.easy_setopt(d->curl, CURLOPT_HEADERFUNCTION, dl_header);
	dl_curl.easy_setopt(d->curl, CURLOPT_HEADERDATA, d);
	dl_curl.easy_setopt(d->curl, CURLOPT_WRITEFUNCTION, dl_write);
	dl_curl.easy_setopt(d->curl, CURLOPT_WRITEDATA, d);

	for (;;) {
		attempts++;
		out = dl_attempt(d, &rc);
		if (out == DL_DONE || out == DL_GIVE_UP)
			break;
		if (out == DL_PROGRESS)
			continue;
		dl_report_retry(d, attempts);
		if (failures++ == d->o->retries)
			break;
		dl_sleep_ms(d->o->retry_delay_ms);
	}
	dl_curl.easy_cleanup(d->curl);
	d->curl = NULL;
	res->attempts = attempts;
	res->received = d->received;
	res->bytes = d->sink ? d->offset : d->len;
	res->detail = rc < 0 ? d->why : NULL;
	return rc;
}

int download_payload(const char *url, uint64_t total, const struct download_opts *o,
		     const struct download_sink *sink, struct download_result *res)
{
	struct dl d = { .o = o, .what = "payload", .total = total, .sink = sink,
			.next_progress = DOWNLOAD_PROGRESS_EVERY };
	int rc;

	memset(res, 0, sizeof(*res));
	d.chunk = malloc(DOWNLOAD_CHUNK);
	rc = d.chunk ? verify_sha256_init(&d.hash) : -ENOMEM;
	if (rc < 0) {
		res->detail = "nomem";
		goto out;
	}
	rc = dl_run(&d, url, res);
	if (rc == 0) {
		dl_progress(&d, 1);
		rc = verify_sha256_final(&d.hash, res->sha256);
		if (rc < 0)
			res->detail = "hash";
	}
out:
	verify_sha256_free(&d.hash);
	free(d.chunk);
	return rc;
}

int download_small(const char *url, char *buf, size_t max, size_t *len,
		   const struct download_opts *o, struct download_result *res)
{
	struct dl d = { .o = o, .what = "manifest", .buf = buf, .max = max };
	int rc;

	memset(res, 0, sizeof(*res));
	rc = dl_run(&d, url, res);
	if (rc == 0)
		*len = d.len;
	return rc;
}
