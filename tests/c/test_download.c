/*
 * Tests for download: the resume decisions as a pure function, then real
 * libcurl transfers against a scripted HTTP server on a loopback socket that
 * breaks, stalls and answers ranges the way the tests tell it to.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "download.h"

#define TOTAL (3u * DOWNLOAD_CHUNK + 4321u)

/* ---- the pure decisions ---- */

static enum download_verdict judge(uint64_t offset, long status, const char *cr, uint64_t *end)
{
	return download_judge(offset, 1000, status, cr, end);
}

static void test_range_value(void **state)
{
	char buf[32];

	(void)state;
	assert_int_equal(download_range(0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(download_range(1048576, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1048576-");
	assert_int_equal(download_range(UINT64_MAX, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "18446744073709551615-");
	assert_int_equal(download_range(12345, buf, 6), -ENOSPC);
	assert_int_equal(download_range(12345, buf, 7), 0);
}

static void test_fresh_request(void **state)
{
	uint64_t end = 0;

	(void)state;
	assert_int_equal(judge(0, 200, NULL, &end), DOWNLOAD_ACCEPT);
	assert_int_equal(end, 1000);
	/* A 206 we did not ask for is fine if it says it starts at 0. */
	assert_int_equal(judge(0, 206, "bytes 0-999/1000", &end), DOWNLOAD_ACCEPT);
	assert_int_equal(judge(0, 206, "bytes 1-999/1000", &end), DOWNLOAD_RETRY);
	assert_int_equal(judge(0, 206, NULL, &end), DOWNLOAD_RETRY);
}

static void test_206_matching_range_accepted(void **state)
{
	uint64_t end = 0;

	(void)state;
	assert_int_equal(judge(400, 206, "bytes 400-999/1000", &end), DOWNLOAD_ACCEPT);
	assert_int_equal(end, 1000);
	/* Part of the rest is fine too; the body then ends at 600. */
	assert_int_equal(judge(400, 206, "bytes 400-599/1000", &end), DOWNLOAD_ACCEPT);
	assert_int_equal(end, 600);
	assert_int_equal(judge(999, 206, "bytes 999-999/1000", &end), DOWNLOAD_ACCEPT);
	assert_int_equal(end, 1000);
	assert_int_equal(judge(400, 206, "bytes 400-999/1000", NULL), DOWNLOAD_ACCEPT);
}

static void test_206_mismatch_rejected(void **state)
{
	static const char *const bad[] = {
		"bytes 0-999/1000",	/* from the start: not where we are */
		"bytes 401-999/1000",	/* a gap */
		"bytes 399-999/1000",	/* an overlap */
		"bytes 400-999/2000",	/* another file */
		"bytes 400-999/999",
		"bytes 400-1000/1000",	/* past the end */
		"bytes 400-300/1000",	/* backwards */
		"bytes 400-999/*",	/* length unknown */
		"bytes */1000",
		"bytes 400-/1000",
		"bytes=400-999/1000",
		"items 400-999/1000",
		"bytes 400-999/1000 ",
		"bytes +400-999/1000",
		"",
	};
	uint64_t end = 7;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(judge(400, 206, bad[i], &end), DOWNLOAD_RETRY);
	assert_int_equal(judge(400, 206, NULL, &end), DOWNLOAD_RETRY);
}

static void test_200_on_resume_restarts(void **state)
{
	uint64_t end = 0;

	(void)state;
	assert_int_equal(judge(400, 200, NULL, &end), DOWNLOAD_RESTART);
	assert_int_equal(end, 1000);
	assert_int_equal(judge(400, 200, "bytes 400-999/1000", &end), DOWNLOAD_RESTART);
}

static void test_416(void **state)
{
	(void)state;
	/* We have it all already (asked from the end). */
	assert_int_equal(judge(1000, 416, "bytes */1000", NULL), DOWNLOAD_COMPLETE);
	/* The server's file is shorter than ours, or not the manifest's. */
	assert_int_equal(judge(400, 416, "bytes */300", NULL), DOWNLOAD_FAIL);
	assert_int_equal(judge(400, 416, "bytes */1000", NULL), DOWNLOAD_FAIL);
	assert_int_equal(judge(1000, 416, "bytes */2000", NULL), DOWNLOAD_FAIL);
	assert_int_equal(judge(1000, 416, NULL, NULL), DOWNLOAD_FAIL);
	assert_int_equal(judge(0, 416, "bytes */1000", NULL), DOWNLOAD_FAIL);
}

static void test_other_statuses(void **state)
{
	static const long retry[] = { 408, 429, 500, 502, 503, 504, 599 };
	static const long fail[] = { 0, 100, 201, 204, 301, 302, 304, 400, 401, 403, 404, 410, 600 };

	(void)state;
	for (size_t i = 0; i < sizeof(retry) / sizeof(retry[0]); i++)
		assert_int_equal(judge(400, retry[i], NULL, NULL), DOWNLOAD_RETRY);
	for (size_t i = 0; i < sizeof(fail) / sizeof(fail[0]); i++)
		assert_int_equal(judge(400, fail[i], NULL, NULL), DOWNLOAD_FAIL);
}

/* ---- a scripted HTTP server ---- */

struct reply {
	int status;			/* 0: no answer at all (close, or stall first) */
	char content_range[64];		/* sent when not empty */
	uint64_t from;			/* first payload byte of the body */
	uint64_t length;		/* Content-Length announced */
	uint64_t send;			/* body bytes actually sent before closing */
	unsigned stall_ms;		/* silence after them, before closing */
	char range[64];			/* out: the Range header the client sent, "" if none */
};

struct server {
	int fd;
	int port;
	pthread_t thread;
	struct reply *replies;
	size_t n, served;
	const uint8_t *payload;
};

static uint8_t *payload;

static void serve_one(struct server *s, struct reply *r, int c)
{
	char req[4096] = "", head[256];
	size_t got = 0;
	char *line;
	int n;

	/* Read the whole request, so closing early cannot turn into a reset. */
	while (got < sizeof(req) - 1 && !strstr(req, "\r\n\r\n")) {
		ssize_t k = recv(c, req + got, sizeof(req) - 1 - got, 0);

		if (k <= 0)
			return;
		got += (size_t)k;
		req[got] = '\0';
	}
	for (line = strstr(req, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
		if (strncasecmp(line + 2, "Range: ", 7) == 0)
			sscanf(line + 9, "%63[^\r]", r->range);
	}
	if (r->status == 0)
		goto silence;
	n = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Length: %" PRIu64 "\r\n%s%s%s"
		     "Connection: close\r\n\r\n", r->status, r->length,
		     r->content_range[0] ? "Content-Range: " : "", r->content_range,
		     r->content_range[0] ? "\r\n" : "");
	send(c, head, (size_t)n, MSG_NOSIGNAL);
	for (uint64_t off = 0; off < r->send;) {
		/* Beyond the payload: filler, for bodies longer than it. */
		static const uint8_t zeros[4096];
		uint64_t at = r->from + off;
		size_t len = r->send - off < 4096 ? (size_t)(r->send - off) : 4096;
		const uint8_t *src = at + len <= TOTAL ? s->payload + at : zeros;
		ssize_t k = send(c, src, len, MSG_NOSIGNAL);

		if (k <= 0)
			return;
		off += (uint64_t)k;
	}
silence:
	/* Silence: until the client gives up and closes, or stall_ms is over. */
	if (r->stall_ms) {
		struct pollfd p = { .fd = c, .events = POLLIN };

		while (poll(&p, 1, (int)r->stall_ms) > 0 && recv(c, req, sizeof(req), 0) > 0)
			;
	}
}

static void *serve(void *arg)
{
	struct server *s = arg;

	for (; s->served < s->n; s->served++) {
		int c = accept(s->fd, NULL, NULL);

		if (c < 0)
			break;
		serve_one(s, &s->replies[s->served], c);
		close(c);
	}
	/* No more replies: further connections are refused at once instead of hanging. */
	shutdown(s->fd, SHUT_RDWR);
	return NULL;
}

static void server_start(struct server *s, struct reply *replies, size_t n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->replies = replies;
	s->n = n;
	s->payload = payload;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->fd >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 8), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
	shutdown(s->fd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	close(s->fd);
}

static struct reply full(int status, uint64_t send)
{
	return (struct reply){ .status = status, .from = 0, .length = TOTAL, .send = send };
}

static struct reply ranged(uint64_t from, uint64_t send)
{
	struct reply r = { .status = 206, .from = from, .length = TOTAL - from, .send = send };

	snprintf(r.content_range, sizeof(r.content_range), "bytes %" PRIu64 "-%u/%u", from,
		 TOTAL - 1, TOTAL);
	return r;
}

/* ---- a memory "device" ---- */

struct sink_log {
	uint8_t *mem;
	unsigned writes;
	unsigned fail_at;		/* fail the n-th write (1-based); 0 never */
	uint64_t offsets[64];
	size_t lens[64];
};

static int mem_write(void *ctx, uint64_t offset, const void *buf, size_t len)
{
	struct sink_log *l = ctx;

	if (++l->writes == l->fail_at)
		return -EIO;
	if (l->writes <= 64) {
		l->offsets[l->writes - 1] = offset;
		l->lens[l->writes - 1] = len;
	}
	assert_true(offset + len <= TOTAL);
	memcpy(l->mem + offset, buf, len);
	return 0;
}

/*
 * The client's stall timeout in these tests. 1 s was too short under valgrind
 * on a loaded 2-core machine: the first bytes of a healthy transfer came later.
 * The stalling servers stay silent for 20 s, far beyond it.
 */
#define STALL_S 3

struct run {
	struct server srv;
	struct sink_log log;
	struct download_result res;
	struct download_opts o;
	int rc;
};

static void run(struct run *r, struct reply *replies, size_t n, unsigned retries)
{
	struct download_sink sink = { .write = mem_write, .ctx = &r->log };
	char url[64];

	r->log.mem = calloc(1, TOTAL);
	r->o = (struct download_opts){ .retries = retries, .connect_timeout_s = 5,
				       .stall_timeout_s = STALL_S, .retry_delay_ms = 0, .marker_fd = -1 };
	server_start(&r->srv, replies, n);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ab/v2/rootfs.ext4", r->srv.port);
	r->rc = download_payload(url, TOTAL, &r->o, &sink, &r->res);
	server_stop(&r->srv);
}

static void expect_payload(struct run *r)
{
	uint8_t sha[SHA256_DIGEST_LENGTH];

	assert_int_equal(r->rc, 0);
	assert_null(r->res.detail);
	assert_true(r->res.bytes == TOTAL);
	assert_memory_equal(r->log.mem, payload, TOTAL);
	SHA256(payload, TOTAL, sha);
	assert_memory_equal(r->res.sha256, sha, sizeof(sha));
}

static void done(struct run *r)
{
	free(r->log.mem);
}

static int group_setup(void **state)
{
	const char *why;

	(void)state;
	payload = malloc(TOTAL);
	for (size_t i = 0; i < TOTAL; i++)
		payload[i] = (uint8_t)(i * 2654435761u >> 13);
	return download_global_init(&why);
}

static int group_teardown(void **state)
{
	(void)state;
	download_global_cleanup();
	free(payload);
	return 0;
}

/* ---- transfers ---- */

static void test_whole_payload(void **state)
{
	struct reply rp[] = { full(200, TOTAL) };
	struct run r = { 0 };

	(void)state;
	run(&r, rp, 1, 0);
	expect_payload(&r);
	assert_int_equal(r.res.attempts, 1);
	assert_true(r.res.received == TOTAL);
	assert_string_equal(rp[0].range, "");
	/* Whole chunks at chunk offsets, the tail last. */
	assert_int_equal(r.log.writes, 4);
	for (unsigned i = 0; i < 3; i++) {
		assert_true(r.log.offsets[i] == (uint64_t)i * DOWNLOAD_CHUNK);
		assert_int_equal(r.log.lens[i], DOWNLOAD_CHUNK);
	}
	assert_int_equal(r.log.lens[3], 4321);
	done(&r);
}

static void test_resume_after_break(void **state)
{
	const uint64_t cut = DOWNLOAD_CHUNK + DOWNLOAD_CHUNK / 2 + 7;
	struct reply rp[] = { full(200, cut), ranged(cut, TOTAL - cut) };
	struct run r = { 0 };
	char want[64];

	(void)state;
	run(&r, rp, 2, 5);
	expect_payload(&r);
	assert_int_equal(r.res.attempts, 2);
	assert_true(r.res.received == TOTAL);	/* nothing fetched twice */
	/* What arrived before the break was kept: the resume starts right after it. */
	snprintf(want, sizeof(want), "bytes=%" PRIu64 "-", cut);
	assert_string_equal(rp[1].range, want);
	/* The piece before the break, then back on chunk boundaries. */
	assert_true(r.log.offsets[1] == DOWNLOAD_CHUNK);
	assert_int_equal(r.log.lens[1], cut - DOWNLOAD_CHUNK);
	assert_true(r.log.offsets[2] == cut);
	assert_true(r.log.offsets[2] + r.log.lens[2] == 2 * DOWNLOAD_CHUNK);
	done(&r);
}

static void test_resume_at_chunk_boundary_and_repeatedly(void **state)
{
	const uint64_t c1 = DOWNLOAD_CHUNK, c2 = 2 * DOWNLOAD_CHUNK + 1;
	struct reply rp[] = { full(200, c1), ranged(c1, c2 - c1), ranged(c2, TOTAL - c2) };
	struct run r = { 0 };

	(void)state;
	run(&r, rp, 3, 2);
	expect_payload(&r);
	assert_int_equal(r.res.attempts, 3);
	assert_string_equal(rp[1].range, "bytes=1048576-");
	assert_string_equal(rp[2].range, "bytes=2097153-");
	done(&r);
}

static void test_200_on_resume_starts_over(void **state)
{
	const uint64_t cut = 2 * DOWNLOAD_CHUNK + 99;
	struct reply rp[] = { full(200, cut), full(200, TOTAL) };
	struct run r = { 0 };

	(void)state;
	run(&r, rp, 2, 5);
	/* The hash was started afresh: it covers the payload once, not the first part twice. */
	expect_payload(&r);
	assert_true(r.res.received == cut + TOTAL);
	assert_string_equal(rp[1].range, "bytes=2097251-");
	done(&r);
}

static void test_wrong_content_range_is_retried(void **state)
{
	const uint64_t cut = 500000;
	struct reply rp[] = { full(200, cut), ranged(cut + 1, TOTAL - cut - 1), ranged(cut, TOTAL - cut) };
	struct run r = { 0 };

	(void)state;
	run(&r, rp, 3, 5);
	expect_payload(&r);
	assert_int_equal(r.res.attempts, 3);
	/* The rejected response wrote nothing: the next request asked from the same place. */
	assert_string_equal(rp[2].range, "bytes=500000-");
	done(&r);
}

static void test_wrong_content_range_until_retries_spent(void **state)
{
	const uint64_t cut = 500000;
	struct reply rp[] = { full(200, cut), ranged(0, TOTAL), ranged(0, TOTAL) };
	struct run r = { 0 };

	(void)state;
	run(&r, rp, 3, 2);
	assert_int_equal(r.rc, -EPROTO);
	assert_string_equal(r.res.detail, "range");
	assert_int_equal(r.res.attempts, 3);
	assert_true(r.res.bytes == cut);
	done(&r);
}

static void test_416_means_the_file_changed(void **state)
{
	const uint64_t cut = 500000;
	struct reply rp[] = { full(200, cut),
			      { .status = 416, .content_range = "bytes */400000" } };
	struct run r = { 0 };

	(void)state;
	run(&r, rp, 2, 5);
	assert_int_equal(r.rc, -EPROTO);
	assert_string_equal(r.res.detail, "range");
	assert_int_equal(r.res.attempts, 2);
	done(&r);
}

static void test_not_found_is_not_retried(void **state)
{
	struct reply rp[] = { { .status = 404, .length = 9, .send = 9 } };
	struct run r = { 0 };

	(void)state;
	run(&r, rp, 1, 5);
	assert_int_equal(r.rc, -EPROTO);
	assert_string_equal(r.res.detail, "http-status");
	assert_int_equal(r.res.attempts, 1);
	assert_int_equal(r.log.writes, 0);
	done(&r);
}

static void test_server_error_is_retried(void **state)
{
	struct reply rp[] = { { .status = 503 }, { .status = 0 }, full(200, TOTAL) };
	struct run r = { 0 };

	(void)state;
	run(&r, rp, 3, 5);
	expect_payload(&r);
	assert_int_equal(r.res.attempts, 3);
	done(&r);
}

static void test_stalled_server_ends_the_attempt(void **state)
{
	const uint64_t cut = 300000;
	struct reply rp[] = { full(200, cut), ranged(cut, TOTAL - cut) };
	struct timespec t0, t1;
	struct run r = { 0 };

	(void)state;
	/* Silent for far longer than the stall timeout, without closing. */
	rp[0].stall_ms = 20000;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	run(&r, rp, 2, 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	expect_payload(&r);
	assert_int_equal(r.res.attempts, 2);
	assert_string_equal(rp[1].range, "bytes=300000-");
	/* The client gave up on its own, within a few seconds. */
	assert_true(t1.tv_sec - t0.tv_sec < 10);
	done(&r);
}

static void test_silent_server_ends_the_attempt(void **state)
{
	struct reply rp[] = { { .status = 0, .stall_ms = 20000 }, full(200, TOTAL) };
	struct timespec t0, t1;
	struct run r = { 0 };

	(void)state;
	/* Connected, request sent, and no answer ever comes. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	run(&r, rp, 2, 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	expect_payload(&r);
	assert_int_equal(r.res.attempts, 2);
	assert_true(t1.tv_sec - t0.tv_sec < 10);
	done(&r);
}

static void test_retries_spent(void **state)
{
	struct reply rp[] = { full(200, 1000), ranged(1000, 1000), ranged(2000, 1000) };
	struct run r = { 0 };

	(void)state;
	run(&r, rp, 3, 2);
	assert_int_equal(r.rc, -EIO);
	assert_string_equal(r.res.detail, "broken");
	assert_int_equal(r.res.attempts, 3);
	/* Where it got to is kept, hashed and reported, even though it failed. */
	assert_true(r.res.bytes == 3000);
	assert_memory_equal(r.log.mem, payload, 3000);
	done(&r);
}

static void test_body_longer_than_manifest(void **state)
{
	struct reply rp[] = { { .status = 200, .length = TOTAL + 10, .send = TOTAL + 10 } };
	struct run r = { 0 };

	(void)state;
	run(&r, rp, 1, 5);
	assert_int_equal(r.rc, -EFBIG);
	assert_string_equal(r.res.detail, "too-long");
	assert_int_equal(r.res.attempts, 1);
	done(&r);
}

static void test_sink_error_ends_it(void **state)
{
	struct reply rp[] = { full(200, TOTAL) };
	struct run r = { .log.fail_at = 2 };

	(void)state;
	run(&r, rp, 1, 5);
	assert_int_equal(r.rc, -EIO);
	assert_string_equal(r.res.detail, "write");
	assert_int_equal(r.res.attempts, 1);
	/* The failed chunk is not counted or hashed. */
	assert_true(r.res.bytes == DOWNLOAD_CHUNK);
	done(&r);
}

static void test_connection_refused_and_bad_urls(void **state)
{
	struct download_opts o = { .retries = 1, .connect_timeout_s = 5, .stall_timeout_s = STALL_S,
				   .marker_fd = -1 };
	struct sink_log log = { .mem = NULL };
	struct download_sink sink = { .write = mem_write, .ctx = &log };
	struct download_result res;
	struct server srv;
	char url[64];

	(void)state;
	/* A port that was just in use and is closed now. */
	server_start(&srv, NULL, 0);
	server_stop(&srv);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", srv.port);
	assert_int_equal(download_payload(url, TOTAL, &o, &sink, &res), -ECONNREFUSED);
	assert_string_equal(res.detail, "connect");
	assert_int_equal(res.attempts, 2);
	/* Plain HTTP only: anything else is refused before a connection is made. */
	assert_int_equal(download_payload("https://127.0.0.1/x", TOTAL, &o, &sink, &res), -EINVAL);
	assert_string_equal(res.detail, "url");
	assert_int_equal(res.attempts, 1);
	assert_int_equal(download_payload("file:///etc/passwd", TOTAL, &o, &sink, &res), -EINVAL);
	assert_int_equal(log.writes, 0);
}

static void test_markers(void **state)
{
	const uint64_t cut = 70000;
	struct reply rp[] = { full(200, cut), ranged(cut, TOTAL - cut) };
	struct run r = { 0 };
	struct download_sink sink = { .write = mem_write, .ctx = &r.log };
	char url[64], out[1024];
	int fds[2];
	ssize_t n;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	r.log.mem = calloc(1, TOTAL);
	r.o = (struct download_opts){ .retries = 1, .connect_timeout_s = 5, .stall_timeout_s = STALL_S,
				      .marker_fd = fds[1] };
	server_start(&r.srv, rp, 2);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/p", r.srv.port);
	r.rc = download_payload(url, TOTAL, &r.o, &sink, &r.res);
	server_stop(&r.srv);
	close(fds[1]);
	n = read(fds[0], out, sizeof(out) - 1);
	close(fds[0]);
	assert_true(n > 0);
	out[n] = '\0';
	expect_payload(&r);
	/* Under 16 MiB: no progress marker on the way, one at the end. */
	assert_string_equal(out,
			    "BROWNOUT pull-retry what=payload attempt=1 offset=70000 reason=broken status=200\n"
			    "BROWNOUT progress phase=pull bytes=3150049 total=3150049\n");
	done(&r);
}

/* ---- small files ---- */

static void test_small(void **state)
{
	struct download_opts o = { .retries = 1, .connect_timeout_s = 5, .stall_timeout_s = STALL_S,
				   .marker_fd = -1 };
	struct reply rp[] = { { .status = 200, .length = 100, .send = 100 },
			      { .status = 200, .length = 101, .send = 101 },
			      { .status = 404, .length = 100, .send = 100 } };
	struct download_result res;
	struct server srv;
	char url[64], buf[100];
	size_t len = 0;

	(void)state;
	server_start(&srv, rp, 3);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ab/v2/manifest", srv.port);
	assert_int_equal(download_small(url, buf, sizeof(buf), &len, &o, &res), 0);
	assert_int_equal(len, 100);
	assert_memory_equal(buf, payload, 100);
	/* One byte over the limit is refused, and not retried. */
	assert_int_equal(download_small(url, buf, sizeof(buf), &len, &o, &res), -EFBIG);
	assert_string_equal(res.detail, "too-big");
	assert_int_equal(res.attempts, 1);
	assert_int_equal(download_small(url, buf, sizeof(buf), &len, &o, &res), -EPROTO);
	assert_string_equal(res.detail, "http-status");
	server_stop(&srv);
}

/* ---- loading ---- */

/* A program on the download module starts without libcurl; the first init loads it. */
static void test_libcurl_is_loaded_by_the_first_init(void **state)
{
	const char *why = "unset";
	void *loaded;

	(void)state;
	assert_null(dlopen("libcurl.so.4", RTLD_LAZY | RTLD_NOLOAD));
	assert_int_equal(download_global_init(&why), 0);
	assert_null(why);
	loaded = dlopen("libcurl.so.4", RTLD_LAZY | RTLD_NOLOAD);
	assert_non_null(loaded);
	dlclose(loaded);
	download_global_cleanup();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_value),
		cmocka_unit_test(test_fresh_request),
		cmocka_unit_test(test_206_matching_range_accepted),
		cmocka_unit_test(test_206_mismatch_rejected),
		cmocka_unit_test(test_200_on_resume_restarts),
		cmocka_unit_test(test_416),
		cmocka_unit_test(test_other_statuses),
		cmocka_unit_test(test_whole_payload),
		cmocka_unit_test(test_resume_after_break),
		cmocka_unit_test(test_resume_at_chunk_boundary_and_repeatedly),
		cmocka_unit_test(test_200_on_resume_starts_over),
		cmocka_unit_test(test_wrong_content_range_is_retried),
		cmocka_unit_test(test_wrong_content_range_until_retries_spent),
		cmocka_unit_test(test_416_means_the_file_changed),
		cmocka_unit_test(test_not_found_is_not_retried),
		cmocka_unit_test(test_server_error_is_retried),
		cmocka_unit_test(test_stalled_server_ends_the_attempt),
		cmocka_unit_test(test_silent_server_ends_the_attempt),
		cmocka_unit_test(test_retries_spent),
		cmocka_unit_test(test_body_longer_than_manifest),
		cmocka_unit_test(test_sink_error_ends_it),
		cmocka_unit_test(test_connection_refused_and_bad_urls),
		cmocka_unit_test(test_markers),
		cmocka_unit_test(test_small),
	};

	const struct CMUnitTest first[] = {
		cmocka_unit_test(test_libcurl_is_loaded_by_the_first_init),
	};
	int failed = cmocka_run_group_tests_name("before libcurl is loaded", first, NULL, NULL);

	return failed + cmocka_run_group_tests(tests, group_setup, group_teardown);
}
