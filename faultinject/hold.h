/*
 * hold: stop the update at the start of a phase, or at one point in it, in a
 * state the harness can snapshot, and resume it later with the cut point it
 * names then.
 *
 * The spec arrives in a file the rig provides (QEMU fw_cfg). "hold=<phase>"
 * asks the agent to stop the update at the write of the client's
 * "BROWNOUT phase name=<phase> state=start" marker, or, for a client that
 * prints no phases, at the first point a phase rule puts in <phase> (before
 * it counts); "hold=<phase>,at=<k>" at the entry of the phase's k-th point,
 * before it counts, so a cut at that point or a later one fires without the
 * time from the phase's start. Either says so, and polls the same
 * file until its content changes: a snapshot restored in another QEMU sees
 * that QEMU's file, which names the cut. The file keeps one size (padded with
 * spaces or newlines), since the guest kernel reads fw_cfg sizes only once.
 * Points seen before the hold are kept, so a new spec with filters counts
 * them exactly as a run without a hold would. The new content may be another
 * hold further on: the update goes on to it and holds again, its points
 * still kept, so one snapshot is taken from another's restore.
 */
#ifndef BROWNOUT_FI_HOLD_H
#define BROWNOUT_FI_HOLD_H

#include <stddef.h>
#include <stdint.h>

#include "cutpoint.h"

#define HOLD_POLL_MS 20u

/* Where to hold: a phase's start (at 0) or the entry of its at-th point. */
struct hold_target {
	char phase[CUT_PHASE_MAX];
	uint64_t at;
};

/* Read a spec file whole, trailing whitespace and NULs removed. 0 or a negative errno. */
int hold_spec_read(const char *path, char *buf, size_t size);

/*
 * 1, the phase in phase and the point in *at (0: the phase's start) if text
 * is "hold=<phase>" or "hold=<phase>,at=<k>" (pull, deploy, bootloader or
 * confirm; k from 1); 0 if text is not a hold; -EINVAL with a message in err
 * if it is a malformed one.
 */
int hold_parse(const char *text, char *phase, size_t size, uint64_t *at, char *err, size_t errsize);

/*
 * Poll path every poll_ms until its content differs from held, at most
 * timeout_ms; the new content in out. A new content counts once two reads in
 * a row give it: the guest kernel reads a fw_cfg file a byte at a time, so a
 * snapshot saved during a read restores into a device that goes on from the
 * byte it had reached, in the new file (the held spec's first bytes, then the
 * cut's). 0, -ETIMEDOUT, or a negative errno.
 */
int hold_wait(const char *path, const char *held, char *out, size_t size, unsigned timeout_ms,
	      unsigned poll_ms);

/*
 * A point as seen, as much of it as a cut spec filters on: its phase copied,
 * since cut_point only points at the tracer's, and its paths at their own
 * length. A cut_point has room for two paths of PATH_MAX: logged whole, the
 * 13,000 writes of RAUC's deploy would fill 100 MB of the guest's memory.
 */
struct hold_point {
	const char *syscall;
	enum target_kind kind;
	char phase[CUT_PHASE_MAX];
	char *paths;		/* path, then path2, each ending in its NUL */
};

/* The candidate points seen before the hold. */
struct hold_log {
	struct hold_point *p;
	size_t n, cap;
};

int hold_log_add(struct hold_log *log, const struct cut_point *p);

/* How many logged points match spec: the count a run without the hold would have. */
unsigned long long hold_log_count(const struct hold_log *log, const struct cut_spec *spec);

/* How many logged points are in phase. */
uint64_t hold_log_in_phase(const struct hold_log *log, const char *phase);

void hold_log_free(struct hold_log *log);

#endif
