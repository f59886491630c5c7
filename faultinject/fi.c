/*
 * brownout-fi: the in-guest fault-injection agent. Runs an update command
 * under ptrace and either lists every candidate cut point (--record) or cuts
 * the power at one (--cut): "b" to /proc/sysrq-trigger, an immediate reset
 * with no sync. --trigger PATH is the test mode: "b\n" to PATH and the traced
 * tree SIGKILLed instead.
 *
 * Candidate points, numbered from 1 in the order the agent sees them: write,
 * pwrite64, writev, pwritev(2) to a regular file or block device; fsync,
 * fdatasync, syncfs of a file, directory or block device; sync_file_range,
 * ftruncate; sync; rename(at/at2), link(at), unlink(at), truncate; ioctl
 * BLKFLSBUF, BLKDISCARD, BLKSECDISCARD, BLKZEROOUT, BLKRRPART, BLKPG on a
 * block device. Writes to pipes, sockets and ttys are not points; writes to
 * fd 1 and 2 are read for "BROWNOUT phase" and "BROWNOUT progress" markers
 * (and are points as well if stdout is redirected to a file). The order is
 * the same from run to run only for a command whose threads and processes
 * do not write concurrently.
 *
 * Output on stdout, each line with one write(2):
 *   BROWNOUT cut index=<i> syscall=<name> edge=before|after phase=<p> path=<target>
 *       offset=<o|-> len=<l|-> [torn=<bytes let through>] [ret=<return value>] [bytes=<b>]
 *     index: the point's number as --record lists it (a bytes= cut: the
 *     points seen so far); path: no spaces ('_'), "-" if none, long ones
 *     keep their end after "..."; ret only for edge=after.
 *   BROWNOUT cut-missed spec=<spec> points=<count> status=<command's exit status>
 * --record FILE: one JSON object per point and line, see record.h.
 *
 * --phase-rules FILE names the phase of points by what they target, for
 * clients that print no phase markers (rules.h): a point a rule matches
 * gets that rule's phase, in the record, in cut specs' phase= and in the
 * cut marker; others keep the markers' phase. A malformed file is refused
 * before the command starts (exit 2, one line naming the line).
 *
 * bytes=N cuts at the write of the first (n-th) "BROWNOUT progress ...
 * bytes=<b>" marker with b >= N. brownout-ab prints one each time another
 * 16 MiB of payload has gone to the slot (and one at the end), so the cut
 * comes up to 16 MiB plus one write after N bytes, never before.
 *
 * Exit status: the command's (128+N if killed by signal N) when it ends;
 * 0 after a test-mode cut; 2 usage or spec error; 3 the cut never fired
 * (a "BROWNOUT cut-missed" marker says so); 125 the agent failed (it kills
 * the command); 126/127 the command could not be run / was not found.
 */
#include "cutpoint.h"
#include "hold.h"
#include "marker.h"
#include "phase.h"
#include "record.h"
#include "rules.h"
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FI_EXIT_USAGE 2
#define FI_EXIT_MISSED 3
#define FI_EXIT_FAILED 125
#define FI_SYSRQ "/proc/sysrq-trigger"

#define FI_HOLD_TIMEOUT_MS (600u * 1000u)

struct fi {
	const char *record_path;
	const char *spec_text;		/* --cut's, or the --cut-file's content */
	const char *cut_file;
	const char *trigger_path;	/* NULL: the real sysrq trigger */
	const char *rules_path;		/* NULL: phases from the markers only */
	const char *initial_phase;	/* --phase: NULL, "none" before the first marker */
	char **argv;
	struct rules rules;
	struct cut_spec spec;
	char file_text[CUT_SPEC_MAX];
	char hold_phase[CUT_PHASE_MAX];	/* "": no hold */
	uint64_t hold_at;		/* 0: at the phase's start */
};

static void fi_usage(FILE *f)
{
	fprintf(f,
		"usage: brownout-fi (--record FILE | --cut SPEC | --cut-file FILE) [--trigger PATH]\n"
		"                   [--phase-rules FILE] [--phase NAME] -- COMMAND [ARGS...]\n"
		"  --record FILE   list every candidate point of the run as JSON lines in FILE\n"
		"  --cut SPEC      cut the power at the point SPEC names, e.g. n=3,edge=after\n"
		"  --cut-file FILE the same, SPEC read from FILE (trailing blanks ignored); a FILE\n"
		"                  holding hold=pull|deploy|bootloader|confirm stops the command where\n"
		"                  that phase starts (,at=K: at its K-th point), says \"BROWNOUT hold\",\n"
		"                  and waits for FILE to name the cut (for snapshots: see hold.h)\n"
		"  --trigger PATH  test mode: write \"b\\n\" to PATH and kill the command instead of\n"
		"                  resetting through " FI_SYSRQ "\n"
		"  --phase-rules FILE\n"
		"                  the phase of the points a rule matches, one rule a line:\n"
		"                  <phase> path=<glob> [target=<kind>] [syscall=<name>]; others\n"
		"                  keep the phase the command's markers give\n"
		"  --phase NAME    the phase of the points before the command's first phase\n"
		"                  marker (default none): a command that is one phase as a whole\n"
		"  --help          show this help\n"
		"SPEC: comma-separated key=value: n=<int> (required, >= 1), edge=before|after,\n"
		"  syscall=<name>, phase=pull|deploy|bootloader|none|<the --phase NAME>|\n"
		"  <a phase the rules give>,\n"
		"  path=<glob>, target=file|dir|block|path|none, torn=<bytes>, bytes=<N>\n"
		"exit status: the command's; 2 usage or spec error; 3 the cut never fired;\n"
		"  125 the agent failed; 126/127 the command could not be run / was not found\n");
}

static int fi_set(const char *opt, const char **slot, const char *value)
{
	if (*slot) {
		fprintf(stderr, "brownout-fi: %s given twice\n", opt);
		return -EINVAL;
	}
	if (!*value) {
		fprintf(stderr, "brownout-fi: %s: empty argument\n", opt);
		return -EINVAL;
	}
	*slot = value;
	return 0;
}

/* A phase= the run cannot have is a mistake in the spec, not a cut that never fires. */
static int fi_phase_check(const struct fi *fi, const struct cut_spec *spec, char *err,
			  size_t errsize)
{
	if (!spec->phase[0] || phase_builtin(spec->phase) ||
	    (fi->initial_phase && strcmp(spec->phase, fi->initial_phase) == 0) ||
	    rules_give_phase(&fi->rules, spec->phase))
		return 0;
	snprintf(err, errsize, "phase=%s: must be pull, deploy, bootloader, none, the --phase or a phase"
		 " the --phase-rules give", spec->phase);
	return -EINVAL;
}

/* Returns 1 to run, 0 to exit 0 (--help), -EINVAL on a usage error (reported). */
static int fi_parse_args(struct fi *fi, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "record", required_argument, NULL, 'r' },
		{ "cut", required_argument, NULL, 'c' },
		{ "cut-file", required_argument, NULL, 'f' },
		{ "trigger", required_argument, NULL, 't' },
		{ "phase-rules", required_argument, NULL, 'p' },
		{ "phase", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char err[512];
	int c, rc;

	/* "+": stop at the command, whose own options are not ours. */
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			rc = fi_set("--record", &fi->record_path, optarg);
			break;
		case 'c':
			rc = fi_set("--cut", &fi->spec_text, optarg);
			break;
		case 'f':
			rc = fi_set("--cut-file", &fi->cut_file, optarg);
			break;
		case 't':
			rc = fi_set("--trigger", &fi->trigger_path, optarg);
			break;
		case 'p':
			rc = fi_set("--phase-rules", &fi->rules_path, optarg);
			break;
		case 'P':
			rc = fi_set("--phase", &fi->initial_phase, optarg);
			if (rc == 0 && !phase_name_ok(optarg)) {
				fprintf(stderr, "brownout-fi: --phase %s: not a phase name (a lowercase"
					" letter, then lowercase letters, digits or '-')\n", optarg);
				rc = -EINVAL;
			}
			break;
		case 'h':
			fi_usage(stdout);
			return 0;
		default:
			return -EINVAL;	/* getopt_long has said what is wrong */
		}
		if (rc < 0)
			return rc;
	}
	if (optind >= argc) {
		fprintf(stderr, "brownout-fi: no command (brownout-fi [options] -- COMMAND [ARGS...])\n");
		return -EINVAL;
	}
	if (!!fi->record_path + !!fi->spec_text + !!fi->cut_file != 1) {
		fprintf(stderr, "brownout-fi: give exactly one of --record, --cut and --cut-file\n");
		return -EINVAL;
	}
	/* Before the cut spec: its phase= may be one the rules give. */
	if (fi->rules_path && rules_load(&fi->rules, fi->rules_path, err, sizeof(err)) < 0) {
		fprintf(stderr, "brownout-fi: --phase-rules %s: %s\n", fi->rules_path, err);
		return -EINVAL;
	}
	if (fi->cut_file) {
		rc = hold_spec_read(fi->cut_file, fi->file_text, sizeof(fi->file_text));
		if (rc < 0) {
			fprintf(stderr, "brownout-fi: --cut-file %s: %s\n", fi->cut_file, strerror(-rc));
			return -EINVAL;
		}
		fi->spec_text = fi->file_text;
		rc = hold_parse(fi->file_text, fi->hold_phase, sizeof(fi->hold_phase), &fi->hold_at, err,
				sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "brownout-fi: --cut-file %s: %s\n", fi->cut_file, err);
			return -EINVAL;
		}
		if (rc == 1) {
			fi->argv = argv + optind;
			return 1;
		}
	}
	if (fi->trigger_path && !fi->spec_text) {
		fprintf(stderr, "brownout-fi: --trigger is for --cut and --cut-file\n");
		return -EINVAL;
	}
	if (fi->spec_text && (cut_parse(fi->spec_text, &fi->spec, err, sizeof(err)) < 0 ||
			      fi_phase_check(fi, &fi->spec, err, sizeof(err)) < 0)) {
		fprintf(stderr, "brownout-fi: --cut %s: %s\n", fi->spec_text, err);
		return -EINVAL;
	}
	fi->argv = argv + optind;
	return 1;
}

/* Opened before the command starts, so a cut never has to open anything. */
static int fi_open_trigger(const struct fi *fi)
{
	const char *path = fi->trigger_path ? fi->trigger_path : FI_SYSRQ;
	int fd;

	if (fi->trigger_path)
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	else
		fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		fprintf(stderr, "brownout-fi: %s: %s%s\n", path, strerror(errno),
			fi->trigger_path ? "" : " (needs root; --trigger PATH to test)");
	return fd;
}

static int fi_missed(const struct fi *fi, const struct trace_result *res)
{
	char spec[CUT_SPEC_MAX], points[24], status[16];
	int rc;

	cut_word(spec, sizeof(spec), fi->spec_text);
	snprintf(points, sizeof(points), "%" PRIu64, res->points);
	snprintf(status, sizeof(status), "%d",
		 WIFEXITED(res->status) ? WEXITSTATUS(res->status) : 128 + WTERMSIG(res->status));
	rc = marker_emit(STDOUT_FILENO, "cut-missed",
			 MARKER({ "spec", spec }, { "points", points }, { "status", status }));
	if (rc < 0)
		fprintf(stderr, "brownout-fi: stdout: %s\n", strerror(-rc));
	return FI_EXIT_MISSED;
}

static int fi_exit_code(const struct fi *fi, const struct trace_result *res)
{
	switch (res->end) {
	case TRACE_CUT:
		return 0;
	case TRACE_NOEXEC:
		fprintf(stderr, "brownout-fi: %s: %s\n", fi->argv[0], strerror(res->exec_errno));
		return res->exec_errno == ENOENT ? 127 : 126;
	case TRACE_EXITED:
		break;
	}
	if (fi->spec_text)
		return fi_missed(fi, res);
	if (WIFSIGNALED(res->status))
		return 128 + WTERMSIG(res->status);
	return WEXITSTATUS(res->status);
}

/* After a hold: the cut the spec file names now, or another hold further on (hold.h). */
static int fi_respec(void *ctx, struct cut_spec *spec, struct hold_target *again)
{
	struct fi *fi = ctx;
	char held[CUT_SPEC_MAX], err[256];
	int rc;

	strcpy(held, fi->file_text);
	rc = hold_wait(fi->cut_file, held, fi->file_text, sizeof(fi->file_text), FI_HOLD_TIMEOUT_MS,
		       HOLD_POLL_MS);
	if (rc < 0) {
		fprintf(stderr, "brownout-fi: waiting for %s to name the cut after the hold: %s\n",
			fi->cut_file, strerror(-rc));
		return rc;
	}
	rc = hold_parse(fi->file_text, again->phase, sizeof(again->phase), &again->at, err, sizeof(err));
	if (rc == 0) {
		rc = cut_parse(fi->file_text, spec, err, sizeof(err));
		if (rc == 0)
			rc = fi_phase_check(fi, spec, err, sizeof(err));
	}
	if (rc < 0) {
		fprintf(stderr, "brownout-fi: --cut-file %s after the hold: %s: %s\n", fi->cut_file,
			fi->file_text, err);
		return rc;
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct fi fi = { 0 };
	struct record rec = { 0 };
	struct trace_opts o = { .trigger_fd = -1 };
	struct trace_result res;
	int rc, code;

	rc = fi_parse_args(&fi, argc, argv);
	if (rc <= 0) {
		code = rc < 0 ? FI_EXIT_USAGE : 0;
		goto out;
	}

	o.argv = fi.argv;
	o.rules = &fi.rules;
	o.initial_phase = fi.initial_phase;
	code = FI_EXIT_FAILED;
	if (fi.record_path) {
		rc = record_open(&rec, fi.record_path);
		if (rc < 0) {
			fprintf(stderr, "brownout-fi: %s: %s\n", fi.record_path, strerror(-rc));
			goto out;
		}
		o.rec = &rec;
	} else {
		if (fi.hold_phase[0]) {
			o.hold_phase = fi.hold_phase;
			o.hold_at = fi.hold_at;
			o.respec = fi_respec;
			o.respec_ctx = &fi;
		} else {
			o.cut = &fi.spec;
		}
		o.trigger_test = fi.trigger_path != NULL;
		o.trigger_fd = fi_open_trigger(&fi);
		if (o.trigger_fd < 0)
			goto out;
	}

	rc = trace_run(&o, &res);
	code = rc < 0 ? FI_EXIT_FAILED : fi_exit_code(&fi, &res);
	if (o.rec) {
		int crc = record_close(&rec);

		if (crc < 0) {
			fprintf(stderr, "brownout-fi: %s: %s\n", fi.record_path, strerror(-crc));
			code = FI_EXIT_FAILED;
		}
	}
out:
	if (o.trigger_fd >= 0)
		close(o.trigger_fd);
	rules_free(&fi.rules);
	return code;
}
