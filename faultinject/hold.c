/* hold: a phase-start stop the harness snapshots, then a cut spec read afresh. */
#include "hold.h"

#include "fileio.h"
#include "num.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const hold_phases[] = { "pull", "deploy", "bootloader", "confirm" };

int hold_spec_read(const char *path, char *buf, size_t size)
{
	size_t len;
	int rc;

	rc = fileio_read(path, buf, size, &len);
	if (rc < 0)
		return rc;
	while (len > 0 && (buf[len - 1] == '\0' || buf[len - 1] == ' ' || buf[len - 1] == '\n' ||
			   buf[len - 1] == '\t' || buf[len - 1] == '\r'))
		len--;
	/* Padding is trimmed first, so only a spec that fills the buffer is too long. */
	if (len == size)
		return -EFBIG;
	buf[len] = '\0';
	return 0;
}

int hold_parse(const char *text, char *phase, size_t size, uint64_t *at, char *err, size_t errsize)
{
	const char *p, *comma;
	size_t len;

	if (strncmp(text, "hold=", 5) != 0)
		return 0;
	p = text + 5;
	comma = strchr(p, ',');
	len = comma ? (size_t)(comma - p) : strlen(p);
	*at = 0;
	if (comma && (strncmp(comma, ",at=", 4) != 0 ||
		      num_parse_u64(comma + 4, strlen(comma + 4), UINT64_MAX, at) < 0 || *at == 0)) {
		snprintf(err, errsize, "%s: a hold takes at most at=<point from 1>", text);
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(hold_phases) / sizeof(hold_phases[0]); i++) {
		if (strlen(hold_phases[i]) == len && strncmp(p, hold_phases[i], len) == 0 && len < size) {
			memcpy(phase, p, len);
			phase[len] = '\0';
			return 1;
		}
	}
	snprintf(err, errsize, "%.*s: must be hold=pull, hold=deploy, hold=bootloader or hold=confirm, with at most at=<point>",
		 (int)(p - text + len), text);
	return -EINVAL;
}

static void hold_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int hold_wait(const char *path, const char *held, char *out, size_t size, unsigned timeout_ms,
	      unsigned poll_ms)
{
	char *seen = calloc(1, size);	/* the last read, when it differed from held */
	bool pending = false;		/* seen holds one */
	unsigned waited = 0;
	int rc;

	if (!seen)
		return -ENOMEM;
	for (;;) {
		rc = hold_spec_read(path, out, size);
		if (rc < 0)
			break;
		if (strcmp(out, held) != 0) {
			/* Two reads in a row agree: see hold.h on reads a snapshot cut in two. */
			if (pending && strcmp(out, seen) == 0)
				break;
			strcpy(seen, out);
			pending = true;
		} else {
			pending = false;
		}
		if (waited >= timeout_ms) {
			rc = -ETIMEDOUT;
			break;
		}
		/* A new content is read again at once, to confirm it. */
		hold_sleep_ms(pending ? 1 : poll_ms);
		waited += pending ? 1 : poll_ms;
	}
	free(seen);
	return rc;
}

int hold_log_add(struct hold_log *log, const struct cut_point *p)
{
	size_t len = strlen(p->path) + 1, len2 = strlen(p->path2) + 1;
	struct hold_point *h;
	char *paths;

	if (log->n == log->cap) {
		size_t cap = log->cap ? log->cap * 2 : 64;
		struct hold_point *grown = realloc(log->p, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		log->p = grown;
		log->cap = cap;
	}
	paths = malloc(len + len2);
	if (!paths)
		return -ENOMEM;
	memcpy(paths, p->path, len);
	memcpy(paths + len, p->path2, len2);
	h = &log->p[log->n++];
	*h = (struct hold_point){ .syscall = p->syscall, .kind = p->kind, .paths = paths };
	snprintf(h->phase, sizeof(h->phase), "%s", p->phase ? p->phase : "");
	return 0;
}

unsigned long long hold_log_count(const struct hold_log *log, const struct cut_spec *spec)
{
	/* One point to match against, the logged fields set in it in turn: those cut_match reads. */
	struct cut_point p = { 0 };
	unsigned long long n = 0;

	for (size_t i = 0; i < log->n; i++) {
		const struct hold_point *h = &log->p[i];
		size_t len = strlen(h->paths) + 1;

		p.syscall = h->syscall;
		p.kind = h->kind;
		p.phase = h->phase;
		memcpy(p.path, h->paths, len);
		strcpy(p.path2, h->paths + len);
		n += cut_match(spec, &p) != 0;
	}
	return n;
}

uint64_t hold_log_in_phase(const struct hold_log *log, const char *phase)
{
	uint64_t n = 0;

	for (size_t i = 0; i < log->n; i++)
		n += strcmp(log->p[i].phase, phase) == 0;
	return n;
}

void hold_log_free(struct hold_log *log)
{
	for (size_t i = 0; i < log->n; i++)
		free(log->p[i].paths);
	free(log->p);
	*log = (struct hold_log){ 0 };
}
