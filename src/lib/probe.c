/* probe: the health check's verdict from successive reads of the status file. */
#include "probe.h"

#include <errno.h>
#include <string.h>

void probe_init(struct probe *p)
{
	memset(p, 0, sizeof(*p));
	strcpy(p->version, "unknown");
}

static enum probe_verdict probe_fail(struct probe *p, const char *reason)
{
	p->reason = reason;
	return PROBE_FAIL;
}

enum probe_verdict probe_feed(struct probe *p, int rc, const struct status *st)
{
	if (rc == -ENOENT)
		return PROBE_WAIT;
	if (rc == -EINVAL || rc == -EFBIG)
		return probe_fail(p, "garbled");
	if (rc < 0)
		return probe_fail(p, "unreadable");

	memcpy(p->version, st->version, sizeof(p->version));
	/* A new pid (the app restarted) or a seq going back starts the count anew. */
	if (!p->have_base || st->pid != p->base_pid || st->seq < p->base_seq) {
		p->have_base = true;
		p->base_seq = st->seq;
		p->base_pid = st->pid;
		return PROBE_WAIT;
	}
	if (st->seq == p->base_seq)
		return PROBE_WAIT;
	if (!st->healthy)
		return probe_fail(p, "unhealthy");
	p->reason = "ok";
	return PROBE_PASS;
}

enum probe_verdict probe_timeout(struct probe *p)
{
	/* Never read a status: no app wrote one. Read one that never moved: the app is hung or dead. */
	return probe_fail(p, p->have_base ? "stale" : "no-status");
}
