/*
 * phase: follow the update client's phase and progress from the markers it
 * prints. Fed the bytes of every write to the client's stdout and stderr, it
 * reassembles lines (a marker may arrive in pieces) and reads
 *   BROWNOUT phase name=<X> state=start|end ...   -> phase X, or "none" after end
 *   BROWNOUT progress ... bytes=<b> ...           -> progress b
 */
#ifndef BROWNOUT_FI_PHASE_H
#define BROWNOUT_FI_PHASE_H

#include <stddef.h>
#include <stdint.h>

#include "marker.h"

#define PHASE_NAME_MAX 32
#define PHASE_STREAMS 2		/* stdout, stderr: lines are reassembled per stream */

struct phase_line {
	char buf[MARKER_MAX];
	size_t len;
	int skip;		/* the current line is too long or lost a piece: drop it */
};

struct phase {
	char name[PHASE_NAME_MAX];	/* the current phase, "none" outside one */
	struct phase_line line[PHASE_STREAMS];
};

/* What one piece of output said about progress. */
struct phase_progress {
	int seen;		/* a progress marker with bytes= ended in this piece */
	uint64_t bytes;		/* the largest bytes= among them */
};

void phase_init(struct phase *ph);
/* The same, in phase name until the first marker: a command that is one phase
 * as a whole and prints no markers (a confirm run under the agent). */
void phase_init_as(struct phase *ph, const char *name);

/*
 * Feed len bytes written to stream (0: stdout, 1: stderr). Complete marker
 * lines change ph->name; progress markers are reported in *pr.
 */
void phase_feed(struct phase *ph, int stream, const char *data, size_t len,
		struct phase_progress *pr);

/* Part of a write was not read: the line it was in cannot be trusted. */
void phase_gap(struct phase *ph, int stream);

/*
 * True if name may name a phase in a cut spec or a phase rule: a lowercase
 * letter, then lowercase letters, digits or '-', shorter than PHASE_NAME_MAX.
 */
int phase_name_ok(const char *name);

/* True for the phases our clients announce, and "none": pull, deploy, bootloader, none. */
int phase_builtin(const char *name);

#endif
