/*
 * trace: run a command under ptrace with the seccomp filter and follow its
 * whole tree. Only the filter's calls stop a tracee (PTRACE_EVENT_SECCOMP);
 * each stop is classified (point.c), counted, recorded, or cut at.
 *
 * Every traced call waits for this loop, so while a cut is being made no
 * other tracee's write reaches the kernel: the tracee at the cut point is
 * the only one let on, and only for an "after" edge.
 */
#include "trace.h"

#include "arch.h"
#include "fdcopy.h"
#include "filter.h"
#include "marker.h"
#include "phase.h"
#include "point.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define TRACE_CONSOLE_MAX 4096	/* bytes of a console write scanned for markers */
#define TRACE_WORD_MAX 128	/* longest path value in the cut marker */
#define TRACE_WORD_MIN 16	/* ... and the shortest it is cut down to */

enum trace_child_stage { STAGE_TRACEME, STAGE_FILTER, STAGE_EXEC };

struct tracee {
	pid_t tid;
	int started;		/* its first stop (the attach SIGSTOP) has been seen */
};

struct tracer {
	const struct trace_opts *o;
	struct trace_result *res;
	struct tracee *t;
	size_t n, cap;
	pid_t main;
	struct phase phase;
	const struct cut_spec *cut;	/* o->cut, or after a hold the spec given then */
	struct cut_spec respecced;
	struct hold_target hold;	/* the pending hold: o's, then one respec gave; phase "": none */
	struct hold_log held;		/* points seen while a hold is pending */
	uint64_t held_in_phase;		/* those of them in the held phase */
	uint64_t matched;
	int said;		/* an error has been reported: trace_run adds nothing */
	struct cut_point pt;
	char console[TRACE_CONSOLE_MAX];
};

/* What the cut marker says beyond the point itself. */
struct trace_cut {
	uint64_t index;
	const char *edge;
	int64_t torn;		/* -1: not a torn cut */
	int has_ret;
	int64_t ret;
	int has_bytes;
	uint64_t bytes;
};

static struct tracee *trace_find(struct tracer *tr, pid_t tid)
{
	for (size_t i = 0; i < tr->n; i++) {
		if (tr->t[i].tid == tid)
			return &tr->t[i];
	}
	return NULL;
}

static struct tracee *trace_add(struct tracer *tr, pid_t tid)
{
	struct tracee *t = trace_find(tr, tid);

	if (t)
		return t;
	if (tr->n == tr->cap) {
		size_t cap = tr->cap ? tr->cap * 2 : 16;
		struct tracee *grown = realloc(tr->t, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		tr->t = grown;
		tr->cap = cap;
	}
	tr->t[tr->n] = (struct tracee){ .tid = tid };
	return &tr->t[tr->n++];
}

static void trace_forget(struct tracer *tr, pid_t tid)
{
	struct tracee *t = trace_find(tr, tid);

	if (t)
		*t = tr->t[--tr->n];
}

/* Resume a tracee; one killed meanwhile (ESRCH) is no error, its exit is reported next. */
static int trace_resume(pid_t tid, int request, int sig)
{
	if (ptrace(request, tid, NULL, (void *)(long)sig) < 0 && errno != ESRCH)
		return -errno;
	return 0;
}

static void trace_ended(struct tracer *tr, pid_t tid, int status)
{
	trace_forget(tr, tid);
	fdcopy_forget(tid);
	if (tid == tr->main)
		tr->res->status = status;
}

/* SIGKILL every tracee and reap them all, new ones included: the test trigger's "power off". */
static void trace_kill_all(struct tracer *tr)
{
	int status;
	pid_t tid;

	for (size_t i = 0; i < tr->n; i++)
		kill(tr->t[i].tid, SIGKILL);
	while ((tid = waitpid(-1, &status, __WALL)) > 0 || errno == EINTR) {
		if (tid <= 0)
			continue;
		if (WIFSTOPPED(status))
			kill(tid, SIGKILL);	/* a child that was being born */
		else
			trace_ended(tr, tid, status);
	}
}

/* The child: be traced, stop until the tracer is ready, filter, exec. Never returns. */
static void trace_child(char *const *argv, int errfd)
{
	int msg[2] = { STAGE_TRACEME, 0 };
	int rc;

	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
		goto fail;
	raise(SIGSTOP);
	msg[0] = STAGE_FILTER;
	rc = filter_install();
	if (rc < 0) {
		errno = -rc;
		goto fail;
	}
	msg[0] = STAGE_EXEC;
	execvp(argv[0], argv);
fail:
	msg[1] = errno;
	if (write(errfd, msg, sizeof(msg)) < 0)
		_exit(126);
	_exit(msg[1] == ENOENT ? 127 : 126);
}

static int trace_start(struct tracer *tr, int *errfd)
{
	const long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
			  PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACESECCOMP |
			  PTRACE_O_EXITKILL;
	int pipefd[2], status, rc;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return rc;
	}
	if (pid == 0) {
		close(pipefd[0]);
		trace_child(tr->o->argv, pipefd[1]);
	}
	close(pipefd[1]);
	*errfd = pipefd[0];
	tr->main = pid;
	if (!trace_add(tr, pid))
		return -ENOMEM;
	while (waitpid(pid, &status, __WALL) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (!WIFSTOPPED(status)) {
		trace_ended(tr, pid, status);	/* PTRACE_TRACEME failed; errfd says why */
		return 0;
	}
	trace_find(tr, pid)->started = 1;
	if (ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)opts) < 0)
		return -errno;
	return trace_resume(pid, PTRACE_CONT, 0);
}

static void trace_say(struct tracer *tr, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void trace_say(struct tracer *tr, const char *fmt, ...)
{
	va_list ap;

	fputs("brownout-fi: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	tr->said = 1;
}

/* One "BROWNOUT cut ..." line with a single write(2), drained to the UART before the reset. */
static void trace_cut_marker(const struct cut_point *p, const struct trace_cut *c)
{
	char index[24], offset[24], len[24], torn[24], ret[24], bytes[24], path[TRACE_WORD_MAX];
	struct marker_field f[10];
	size_t n = 0;
	int rc;

	snprintf(index, sizeof(index), "%" PRIu64, c->index);
	snprintf(offset, sizeof(offset), "%" PRId64, p->offset);
	snprintf(len, sizeof(len), "%" PRId64, p->len);
	f[n++] = (struct marker_field){ "index", index };
	f[n++] = (struct marker_field){ "syscall", p->syscall };
	f[n++] = (struct marker_field){ "edge", c->edge };
	f[n++] = (struct marker_field){ "phase", p->phase };
	f[n++] = (struct marker_field){ "path", path };
	f[n++] = (struct marker_field){ "offset", p->offset < 0 ? "-" : offset };
	f[n++] = (struct marker_field){ "len", p->len < 0 ? "-" : len };
	if (c->torn >= 0) {
		snprintf(torn, sizeof(torn), "%" PRId64, c->torn);
		f[n++] = (struct marker_field){ "torn", torn };
	}
	if (c->has_ret) {
		snprintf(ret, sizeof(ret), "%" PRId64, c->ret);
		f[n++] = (struct marker_field){ "ret", ret };
	}
	if (c->has_bytes) {
		snprintf(bytes, sizeof(bytes), "%" PRIu64, c->bytes);
		f[n++] = (struct marker_field){ "bytes", bytes };
	}
	/* The marker must fit a console line: shorten the path (keeping its end) until it does. */
	for (size_t width = sizeof(path);; width /= 2) {
		cut_word(path, width, p->path);
		rc = marker_emit(STDOUT_FILENO, "cut", f, n);
		if (rc != -ENOSPC || width <= TRACE_WORD_MIN)
			break;
	}
	if (rc < 0)
		fprintf(stderr, "brownout-fi: cut marker: %s\n", strerror(-rc));
	/* A tty's output queue is lost in the reset; wait until the UART has sent the marker. */
	if (isatty(STDOUT_FILENO))
		tcdrain(STDOUT_FILENO);
}

/* Let tid's call run and wait for its exit stop; *ret is its return value. */
static int trace_run_call(struct tracer *tr, pid_t tid, int64_t *ret)
{
	struct __ptrace_syscall_info info;
	int status, rc;

	rc = trace_resume(tid, PTRACE_SYSCALL, 0);
	while (rc == 0) {
		if (waitpid(tid, &status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!WIFSTOPPED(status)) {
			trace_ended(tr, tid, status);
			return -ESRCH;
		}
		if (WSTOPSIG(status) != (SIGTRAP | 0x80)) {
			/* Not expected before the exit stop; pass a signal on and keep waiting. */
			int sig = WSTOPSIG(status) == SIGTRAP ? 0 : WSTOPSIG(status);

			rc = trace_resume(tid, PTRACE_SYSCALL, sig);
			continue;
		}
		if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof(info), &info) < 0)
			return -errno;
		if (info.op != PTRACE_SYSCALL_INFO_EXIT)
			return -EPROTO;
		*ret = info.exit.rval;
		return 0;
	}
	return rc;
}

/* Shorten the write tid is stopped at to keep bytes. */
static int trace_tear(pid_t tid, const struct syscalls_entry *sc, const uint64_t *args,
		      uint64_t keep)
{
	uint64_t iovcnt;
	int rc;

	if (sc->kind == SYSCALLS_WRITE || sc->kind == SYSCALLS_PWRITE)
		return arch_set_arg(tid, 2, keep);
	rc = target_iov_shorten(tid, args[1], args[2], keep, &iovcnt);
	if (rc == 0 && iovcnt != args[2])
		rc = arch_set_arg(tid, 2, iovcnt);
	return rc;
}

/* Power off: the marker, then the trigger. With the real trigger nothing runs after it. */
static int trace_fire(struct tracer *tr, pid_t tid, const struct syscalls_entry *sc,
		      const uint64_t *args, const struct cut_point *p, struct trace_cut *c)
{
	const struct cut_spec *s = tr->cut;
	int rc;

	c->edge = s->edge == CUT_AFTER ? "after" : "before";
	c->torn = -1;
	if (s->has_torn) {
		uint64_t keep;

		if (!cut_tearable(p)) {
			trace_say(tr, "--cut %s: point %" PRIu64 " is %s on %s, which torn= cannot"
				  " shorten (add syscall=write or the like)", s->text, c->index,
				  sc->name, target_kind_name(p->kind));
			return -EINVAL;
		}
		keep = cut_torn_len(s->torn, p->offset, (uint64_t)p->len);

		rc = keep < (uint64_t)p->len ? trace_tear(tid, sc, args, keep) : 0;
		if (rc < 0) {
			trace_say(tr, "cannot shorten %s in pid %ld to %" PRIu64 " bytes: %s",
				  sc->name, (long)tid, keep, strerror(-rc));
			return rc;
		}
		c->torn = (int64_t)keep;
	}
	if (s->edge == CUT_AFTER) {
		rc = trace_run_call(tr, tid, &c->ret);
		if (rc < 0 && rc != -ESRCH) {
			trace_say(tr, "waiting for %s in pid %ld to return: %s", sc->name,
				  (long)tid, strerror(-rc));
			return rc;
		}
		c->has_ret = rc == 0;
	}
	trace_cut_marker(p, c);
	if (!tr->o->trigger_test) {
		/* The reset happens inside this write; returning from it means it did not. */
		if (write(tr->o->trigger_fd, "b", 1) < 0)
			rc = -errno;
		else
			rc = -EIO;
		trace_say(tr, "sysrq reset did not happen: %s", strerror(-rc));
		return rc;
	}
	if (write(tr->o->trigger_fd, "b\n", 2) != 2) {
		rc = -errno;
		trace_say(tr, "writing the test trigger: %s", strerror(-rc));
		return rc;
	}
	trace_kill_all(tr);
	tr->res->end = TRACE_CUT;
	return 1;
}

/*
 * After a hold, another one further on: at a point of a phase not yet
 * passed, or where a phase starts that has not started. The points logged
 * so far stay, so the cut that follows that hold counts from the start.
 * `pending`: the phase of the point whose entry the hold stopped, about to
 * count; NULL for a hold at a phase's start.
 */
static int trace_hold_again(struct tracer *tr, const struct hold_target *again, const char *pending)
{
	uint64_t logged = hold_log_in_phase(&tr->held, again->phase);
	uint64_t seen = logged + (pending && strcmp(pending, again->phase) == 0);

	if (again->at ? seen >= again->at
		      : seen > 0 || strcmp(tr->phase.name, again->phase) == 0) {
		if (again->at)
			trace_say(tr, "hold at point %" PRIu64 " of phase %s: the update held at phase "
				  "%s had reached point %" PRIu64 " of phase %s", again->at, again->phase,
				  tr->hold.phase, seen, again->phase);
		else
			trace_say(tr, "hold at phase %s: it started before the hold at phase %s",
				  again->phase, tr->hold.phase);
		return -EINVAL;
	}
	tr->hold = *again;
	tr->held_in_phase = logged;	/* the pending point counts once it is logged */
	return 0;
}

/*
 * The client is about to announce the held phase: say so, wait for the cut
 * (hold.h), and count the points seen so far against it; or, told to
 * hold again further on, go on to there. The client's
 * marker write is still pending, so it reaches the console after the hold.
 */
static int trace_hold(struct tracer *tr, const char *pending)
{
	struct hold_target again = { 0 };
	char points[24];
	uint64_t before;
	int rc;

	snprintf(points, sizeof(points), "%" PRIu64, tr->res->points);
	rc = marker_emit(STDOUT_FILENO, "hold",
			 MARKER({ "phase", tr->hold.phase }, { "points", points }));
	if (rc < 0)
		fprintf(stderr, "brownout-fi: hold marker: %s\n", strerror(-rc));
	if (isatty(STDOUT_FILENO))
		tcdrain(STDOUT_FILENO);
	rc = tr->o->respec(tr->o->respec_ctx, &tr->respecced, &again);
	if (rc < 0) {
		tr->said = 1;	/* respec has said why */
		return rc;
	}
	if (rc == 1)
		return trace_hold_again(tr, &again, pending);
	if (tr->respecced.has_bytes) {
		trace_say(tr, "--cut %s: bytes= cannot follow a hold (progress before it is not kept)",
			  tr->respecced.text);
		return -EINVAL;
	}
	before = hold_log_count(&tr->held, &tr->respecced);
	if (before >= tr->respecced.n) {
		trace_say(tr, "--cut %s: that point came before the hold at phase %s",
			  tr->respecced.text, tr->hold.phase);
		return -EINVAL;
	}
	tr->matched = before;
	tr->cut = &tr->respecced;
	tr->hold.phase[0] = '\0';
	hold_log_free(&tr->held);
	return 0;
}

/* A write on fd 1 or 2: follow phases, and count progress markers for a bytes= cut. */
static int trace_console(struct tracer *tr, pid_t tid, const struct syscalls_entry *sc,
			 const uint64_t *args)
{
	const struct cut_spec *s;
	struct phase_progress pr;
	int stream = (int)(uint32_t)args[0] - 1, lost;
	ssize_t n = point_console_data(tid, sc, args, tr->console, sizeof(tr->console), &lost);

	if (n < 0)
		return 0;	/* unreadable: the write fails with EFAULT */
	phase_feed(&tr->phase, stream, tr->console, (size_t)n, &pr);
	if (lost)
		phase_gap(&tr->phase, stream);
	if (tr->hold.phase[0] && !tr->hold.at && !tr->cut &&
	    strcmp(tr->phase.name, tr->hold.phase) == 0) {
		int rc = trace_hold(tr, NULL);

		if (rc < 0)
			return rc;
	}
	s = tr->cut;
	if (s && pr.seen && cut_bytes_match(s, tr->phase.name, pr.bytes) && ++tr->matched == s->n) {
		struct trace_cut c = { .index = tr->res->points, .has_bytes = 1, .bytes = pr.bytes };

		return trace_fire(tr, tid, sc, args, &tr->pt, &c);
	}
	return 0;
}

/* A seccomp stop: one of the filter's calls, at entry. Returns 1 after a cut. */
static int trace_seccomp(struct tracer *tr, pid_t tid)
{
	const struct cut_spec *s = tr->cut;
	struct __ptrace_syscall_info info;
	const struct syscalls_entry *sc;
	struct cut_point *p = &tr->pt;
	unsigned int cls;
	int rc;

	if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof(info), &info) < 0)
		return errno == ESRCH ? 0 : -errno;
	sc = info.op == PTRACE_SYSCALL_INFO_SECCOMP ? syscalls_by_nr((long)info.seccomp.nr) : NULL;
	if (!sc)
		return trace_resume(tid, PTRACE_CONT, 0);

	cls = point_build(tid, sc, info.seccomp.args, tr->phase.name, p);
	if (cls & POINT_CONSOLE) {
		rc = trace_console(tr, tid, sc, info.seccomp.args);
		if (rc != 0)
			return rc;
	}
	if (cls & POINT_CANDIDATE) {
		/* p has the markers' phase; a phase rule it matches has the last word. */
		rules_apply(tr->o->rules, p);
		/*
		 * A client that prints no phases reaches the held phase at the first
		 * point a rule puts in it, a hold at the phase's k-th point at that
		 * point: hold there, before the point counts.
		 */
		if (tr->hold.phase[0] && !tr->cut && strcmp(p->phase, tr->hold.phase) == 0 &&
		    (!tr->hold.at || tr->held_in_phase + 1 == tr->hold.at)) {
			rc = trace_hold(tr, p->phase);
			if (rc < 0)
				return rc;
			s = tr->cut;
		}
		p->index = ++tr->res->points;
		if (tr->o->rec) {
			rc = record_point(tr->o->rec, p);
			if (rc < 0) {
				trace_say(tr, "%s: %s", tr->o->rec->path, strerror(-rc));
				return rc;
			}
		}
		if (tr->hold.phase[0] && !tr->cut) {
			rc = hold_log_add(&tr->held, p);
			if (rc < 0)
				return rc;
			tr->held_in_phase += strcmp(p->phase, tr->hold.phase) == 0;
		}
		if (s && cut_match(s, p) && ++tr->matched == s->n) {
			struct trace_cut c = { .index = p->index };

			return trace_fire(tr, tid, sc, info.seccomp.args, p, &c);
		}
	}
	return trace_resume(tid, PTRACE_CONT, 0);
}

/* A ptrace event stop: note new tracees before their first stop, drop a thread an exec replaced. */
static int trace_event(struct tracer *tr, pid_t tid, int event)
{
	unsigned long msg = 0;

	if (event == PTRACE_EVENT_SECCOMP)
		return trace_seccomp(tr, tid);
	if (ptrace(PTRACE_GETEVENTMSG, tid, NULL, &msg) == 0) {
		if (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK ||
		    event == PTRACE_EVENT_CLONE) {
			if (!trace_add(tr, (pid_t)msg))
				return -ENOMEM;
		} else if (event == PTRACE_EVENT_EXEC && (pid_t)msg != tid) {
			trace_forget(tr, (pid_t)msg);
		}
	}
	return trace_resume(tid, PTRACE_CONT, 0);
}

static int trace_stop(struct tracer *tr, pid_t tid, int status)
{
	int sig = WSTOPSIG(status), event = (unsigned int)status >> 16;
	struct tracee *t = trace_add(tr, tid);
	siginfo_t si;

	if (!t)
		return -ENOMEM;
	if (!t->started) {
		t->started = 1;
		/* A new child's attach stop: swallow the SIGSTOP. */
		if (sig == SIGSTOP && event == 0)
			return trace_resume(tid, PTRACE_CONT, 0);
	}
	if (sig == SIGTRAP && event != 0)
		return trace_event(tr, tid, event);
	if (sig == (SIGTRAP | 0x80))
		return trace_resume(tid, PTRACE_CONT, 0);
	/* A group-stop has no siginfo: let the tracee run on. Otherwise deliver the signal. */
	if (ptrace(PTRACE_GETSIGINFO, tid, NULL, &si) < 0 && errno == EINVAL)
		return trace_resume(tid, PTRACE_CONT, 0);
	return trace_resume(tid, PTRACE_CONT, sig);
}

/* Why the command did not start, from the child's report; 0 if it did. */
static int trace_exec_error(struct tracer *tr, int errfd)
{
	int msg[2];
	ssize_t n = read(errfd, msg, sizeof(msg));

	if (n != (ssize_t)sizeof(msg))
		return 0;
	if (msg[0] == STAGE_EXEC) {
		tr->res->end = TRACE_NOEXEC;
		tr->res->exec_errno = msg[1];
		return 0;
	}
	trace_say(tr, "%s: %s",
		  msg[0] == STAGE_TRACEME ? "PTRACE_TRACEME" : "installing the seccomp filter",
		  strerror(msg[1]));
	return -msg[1];
}

static int trace_loop(struct tracer *tr)
{
	int status, rc;
	pid_t tid;

	for (;;) {
		tid = waitpid(-1, &status, __WALL);
		if (tid < 0) {
			if (errno == EINTR)
				continue;
			return errno == ECHILD ? 0 : -errno;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			trace_ended(tr, tid, status);
			continue;
		}
		if (!WIFSTOPPED(status))
			continue;
		rc = trace_stop(tr, tid, status);
		if (rc != 0)
			return rc;
	}
}

int trace_run(const struct trace_opts *o, struct trace_result *res)
{
	struct tracer *tr = calloc(1, sizeof(*tr));
	int errfd = -1, rc;

	memset(res, 0, sizeof(*res));
	if (!tr)
		return -ENOMEM;
	tr->o = o;
	tr->res = res;
	tr->cut = o->cut;
	if (o->hold_phase) {
		snprintf(tr->hold.phase, sizeof(tr->hold.phase), "%s", o->hold_phase);
		tr->hold.at = o->hold_at;
	}
	phase_init_as(&tr->phase, o->initial_phase ? o->initial_phase : "none");
	res->end = TRACE_EXITED;

	rc = trace_start(tr, &errfd);
	if (rc == 0)
		rc = trace_loop(tr);
	if (rc < 0) {
		if (!tr->said)
			trace_say(tr, "tracing %s: %s", o->argv[0], strerror(-rc));
		trace_kill_all(tr);
	} else if (rc == 0) {
		rc = trace_exec_error(tr, errfd);
	} else {
		rc = 0;		/* cut */
	}
	if (errfd >= 0)
		close(errfd);
	hold_log_free(&tr->held);
	free(tr->t);
	free(tr);
	return rc;
}
