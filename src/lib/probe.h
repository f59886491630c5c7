/* probe: the health check's verdict from successive reads of the status file. */
#ifndef BROWNOUT_PROBE_H
#define BROWNOUT_PROBE_H

#include <stdbool.h>

#include "status.h"

enum probe_verdict { PROBE_WAIT, PROBE_PASS, PROBE_FAIL };

struct probe {
	bool have_base;		/* a status was read; base_* hold it */
	uint64_t base_seq;
	pid_t base_pid;
	char version[STATUS_VERSION_MAX];	/* from the last good read, or "unknown" */
	const char *reason;	/* one word, set once the verdict is not PROBE_WAIT */
};

void probe_init(struct probe *p);

/*
 * Feed one status_read() result: rc and, when rc is 0, the status.
 * The app is alive once the same pid shows a larger seq; it passes if that
 * status says healthy=1. A missing file is waited for (the app may not have
 * written it yet); a garbled or unreadable one fails at once, since writes
 * are atomic and a reader never sees one half-written.
 */
enum probe_verdict probe_feed(struct probe *p, int rc, const struct status *st);

/* The time is up without a verdict: always PROBE_FAIL. */
enum probe_verdict probe_timeout(struct probe *p);

#endif
