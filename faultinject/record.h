/*
 * record: record mode's output, one JSON object per candidate point and line:
 *   {"index":1,"syscall":"pwrite64","edge":"-","phase":"deploy","target":"block",
 *    "path":"/dev/vda4","path2":"","offset":1048576,"len":1048576,"pid":123,"rule":null,
 *    "ms":2345}
 * offset and len are null where they do not apply (fsync, rename, ...); rule
 * is the line of the phase rule that gave the phase (rules.h), null where the
 * markers did; ms is when the point was reached, in milliseconds since the
 * record was opened (the traced run's start): what a trial pays, under the
 * agent, to reach the point (a campaign splits its snapshots by it).
 */
#ifndef BROWNOUT_FI_RECORD_H
#define BROWNOUT_FI_RECORD_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "cutpoint.h"

struct record {
	FILE *f;
	const char *path;
	char *line;		/* one formatted line, RECORD_LINE_MAX bytes */
	struct timespec opened;	/* CLOCK_MONOTONIC at record_open: each point's ms counts from it */
};

/* Enough for two paths of PATH_MAX bytes each escaped as \u00XX. */
#define RECORD_LINE_MAX (2 * 6 * PATH_MAX + 512)

/*
 * Write s as a JSON string, quotes included, into buf. Bytes that are not
 * valid UTF-8 are written as \u00XX, so the line stays valid JSON whatever a
 * path holds. Returns the length, or -ENOSPC if it does not fit with a NUL.
 */
int record_json_string(char *buf, size_t size, const char *s);

/*
 * Format one point, reached ms milliseconds into the run, as a JSON line
 * (newline included). Returns the length or -ENOSPC.
 */
int record_format(char *buf, size_t size, const struct cut_point *p, uint64_t ms);

/* Create (truncate) path. Returns 0 or a negative errno; the error is not reported. */
int record_open(struct record *r, const char *path);

/*
 * Append one point, timed now, and flush it to the kernel, so a killed run
 * leaves whole lines.
 */
int record_point(struct record *r, const struct cut_point *p);

/* fsync and close; the file is on the probe partition and must survive the next cut. */
int record_close(struct record *r);

#endif
