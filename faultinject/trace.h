/*
 * trace: run a command under ptrace with the seccomp filter, follow it and
 * every process and thread it starts, label candidate points with the
 * client's phase (or a phase rule's), record them or cut at the one a spec names.
 */
#ifndef BROWNOUT_FI_TRACE_H
#define BROWNOUT_FI_TRACE_H

#include <stdint.h>

#include "cutpoint.h"
#include "hold.h"
#include "record.h"
#include "rules.h"

struct trace_opts {
	char *const *argv;		/* the command; argv[0] is looked up in PATH */
	const struct cut_spec *cut;	/* NULL: no cut */
	struct record *rec;		/* NULL: no record */
	const struct rules *rules;	/* phase rules; NULL or none: the markers' phases */
	int trigger_fd;			/* the cut writes here */
	int trigger_test;		/* 1: write "b\n", kill the traced tree, return;
					   0: write "b" to sysrq-trigger, the kernel resets */
	const char *initial_phase;	/* NULL: "none" until the first phase marker */
	const char *hold_phase;		/* non-NULL: hold at this phase's start (hold.h), */
	uint64_t hold_at;		/* or, non-zero, at the entry of its point number hold_at */
	/*
	 * Then what comes next: 0, the cut in *spec; 1, another hold further on,
	 * in *again (a snapshot taken from this one's restore); or a negative
	 * errno after saying why.
	 */
	int (*respec)(void *ctx, struct cut_spec *spec, struct hold_target *again);
	void *respec_ctx;
};

enum trace_end {
	TRACE_EXITED,	/* the command ended (no cut, or the cut never fired) */
	TRACE_CUT,	/* the cut fired (test trigger: the tree is killed and reaped) */
	TRACE_NOEXEC,	/* the command could not be started: exec_errno */
};

struct trace_result {
	enum trace_end end;
	int status;		/* TRACE_EXITED: the command's wait status */
	int exec_errno;
	uint64_t points;	/* candidate points seen */
};

/*
 * Run and follow the command until every traced process has ended or the
 * cut has fired. Returns 0, or a negative errno after reporting on stderr
 * what failed (the traced processes are killed then).
 */
int trace_run(const struct trace_opts *o, struct trace_result *res);

#endif
