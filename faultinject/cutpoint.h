/*
 * cutpoint: where to cut. A spec names the n-th candidate point that passes
 * its filters and an edge; matching a point against it and the torn-write
 * length are plain functions of their arguments.
 *
 * SPEC: comma-separated key=value, each key at most once:
 *   n=<int>             required, >= 1: the n-th point passing the filters
 *   edge=before|after   before: cut at syscall entry, the call not run;
 *                       after: let it run, cut at its exit (default before)
 *   syscall=<name>      write, pwrite64, fsync, renameat2, ... (this arch's)
 *   phase=<name>        pull, deploy, bootloader, none (outside a phase), or
 *                       one a phase rule gives (rules.h): [a-z][a-z0-9-]*
 *   path=<glob>         fnmatch(3) on the point's path, or a rename's or
 *                       link's second path; '*' matches '/' too
 *   target=<kind>       file, dir, block, path (rename, link, unlink,
 *                       truncate) or none (sync)
 *   torn=<bytes>        shorten the write to a sector-aligned prefix of at
 *                       most this many bytes, let it run, cut after it; not
 *                       a filter: the point n names must be a write,
 *                       pwrite64, writev, pwritev or pwritev2 to a file or
 *                       block device (else the agent fails, exit 125)
 *   bytes=<N>           the n-th "BROWNOUT progress ... bytes=<b>" marker the
 *                       command prints with b >= N (the marker's write is the
 *                       point; edge and phase apply to it)
 */
#ifndef BROWNOUT_FI_CUTPOINT_H
#define BROWNOUT_FI_CUTPOINT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "syscalls.h"
#include "target.h"

#define CUT_SPEC_MAX 256
#define CUT_GLOB_MAX 256
#define CUT_PHASE_MAX 32
#define CUT_SECTOR 512u

enum cut_edge { CUT_BEFORE, CUT_AFTER };

struct cut_spec {
	char text[CUT_SPEC_MAX];	/* as given, for the cut-missed marker */
	uint64_t n;
	enum cut_edge edge;
	const struct syscalls_entry *syscall;	/* NULL: any */
	char phase[CUT_PHASE_MAX];		/* "": any */
	char path[CUT_GLOB_MAX];		/* "": any */
	int has_target;
	enum target_kind target;
	int has_torn;
	uint64_t torn;
	int has_bytes;
	uint64_t bytes;
};

/* A candidate point, as record mode lists it and a spec matches it. */
struct cut_point {
	uint64_t index;			/* 1-based, over every candidate point */
	const char *syscall;
	enum target_kind kind;
	const char *phase;
	unsigned rule;			/* the phase rule that gave phase (its line), 0: the markers did */
	char path[PATH_MAX];		/* "" if none */
	char path2[PATH_MAX];		/* a rename's or link's new path, else "" */
	int64_t offset;			/* -1: not applicable */
	int64_t len;			/* -1: not applicable */
	long pid;
};

/*
 * Parse text into spec. On error returns -EINVAL and puts one line saying
 * what is wrong into err (no newline).
 */
int cut_parse(const char *text, struct cut_spec *spec, char *err, size_t errsize);

/*
 * Parse the filters of a phase rule (rules.h): key=value fields separated by
 * blanks, keys among syscall, path and target, read as cut_parse reads them;
 * no ',' (a glob may say '?' for one). Empty text is no filter. n is left 0.
 * Errors as cut_parse's.
 */
int cut_parse_filter(const char *text, struct cut_spec *spec, char *err, size_t errsize);

/* True if point p passes every filter of spec (n and bytes are counted by the caller). */
int cut_match(const struct cut_spec *spec, const struct cut_point *p);

/* True if a torn= cut can shorten p: a write-family call to a file or block device. */
int cut_tearable(const struct cut_point *p);

/* True if a progress marker with bytes=b passes a bytes= spec in phase. */
int cut_bytes_match(const struct cut_spec *spec, const char *phase, uint64_t b);

/*
 * The bytes of a write of len bytes at offset to let through for torn=torn:
 * all of it if torn >= len, else the longest prefix of at most torn bytes
 * that ends on a 512-byte sector boundary (offset -1: taken as 0), so a
 * sector is either written whole or not at all. Possibly 0.
 */
uint64_t cut_torn_len(uint64_t torn, int64_t offset, uint64_t len);

/*
 * Copy s into dst as one marker value (no spaces: the harness splits on
 * them): bytes outside 0x21..0x7e become '_', an empty s becomes "-", and a
 * value longer than size - 1 keeps its end, after "...". size >= 8.
 */
void cut_word(char *dst, size_t size, const char *s);

#endif
