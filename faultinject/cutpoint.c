/* cutpoint: parse a cut spec, match points against it, the torn-write length. */
#include "cutpoint.h"

#include "num.h"
#include "phase.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* An n beyond any real run; keeps the counters far from overflow. */
#define CUT_N_MAX 1000000000000ull

enum cut_key { KEY_N, KEY_EDGE, KEY_SYSCALL, KEY_PHASE, KEY_PATH, KEY_TARGET, KEY_TORN,
	       KEY_BYTES, KEY_COUNT };

static const char *const cut_keys[KEY_COUNT] = {
	[KEY_N] = "n", [KEY_EDGE] = "edge", [KEY_SYSCALL] = "syscall", [KEY_PHASE] = "phase",
	[KEY_PATH] = "path", [KEY_TARGET] = "target", [KEY_TORN] = "torn", [KEY_BYTES] = "bytes",
};

/* The keys a spec may give, and those a phase rule may: what a call targets. */
#define CUT_KEYS_ALL ((1u << KEY_COUNT) - 1)
#define CUT_KEYS_FILTER (1u << KEY_SYSCALL | 1u << KEY_PATH | 1u << KEY_TARGET)

static int cut_error(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int cut_number(const char *key, const char *v, uint64_t min, uint64_t *out, char *err,
		      size_t errsize)
{
	int rc = num_parse_u64(v, strlen(v), CUT_N_MAX, out);

	if (rc == -ERANGE)
		return cut_error(err, errsize, "%s=%s: larger than %llu", key, v, CUT_N_MAX);
	if (rc < 0)
		return cut_error(err, errsize, "%s=%s: not a decimal number", key, v);
	if (*out < min)
		return cut_error(err, errsize, "%s=%s: must be at least %llu", key, v,
				 (unsigned long long)min);
	return 0;
}

/* One key=value; key and value are NUL-terminated pieces of a copy of the spec. */
static int cut_field(struct cut_spec *s, enum cut_key key, const char *v, char *err,
		     size_t errsize)
{
	switch (key) {
	case KEY_N:
		return cut_number("n", v, 1, &s->n, err, errsize);
	case KEY_EDGE:
		if (strcmp(v, "before") == 0)
			s->edge = CUT_BEFORE;
		else if (strcmp(v, "after") == 0)
			s->edge = CUT_AFTER;
		else
			return cut_error(err, errsize, "edge=%s: must be before or after", v);
		return 0;
	case KEY_SYSCALL:
		s->syscall = syscalls_by_name(v);
		if (!s->syscall)
			return cut_error(err, errsize, "syscall=%s: not one the agent stops on", v);
		if (s->syscall->nr < 0)
			return cut_error(err, errsize,
					 "syscall=%s: no such system call on this architecture"
					 " (use the *at variant)", v);
		return 0;
	case KEY_PHASE:
		/* Whether the run can have the phase (a rule may give it) is the agent's to check. */
		if (!phase_name_ok(v))
			return cut_error(err, errsize,
					 "phase=%s: not a phase name (a lowercase letter, then"
					 " lowercase letters, digits or '-', at most %d bytes)",
					 v, CUT_PHASE_MAX - 1);
		strcpy(s->phase, v);
		return 0;
	case KEY_PATH:
		if (!*v)
			return cut_error(err, errsize, "path=: empty glob");
		if (strlen(v) >= sizeof(s->path))
			return cut_error(err, errsize, "path=: glob longer than %zu bytes",
					 sizeof(s->path) - 1);
		strcpy(s->path, v);
		return 0;
	case KEY_TARGET:
		s->has_target = 1;
		if (target_kind_parse(v, &s->target) < 0)
			return cut_error(err, errsize,
					 "target=%s: must be file, dir, block, path or none", v);
		return 0;
	case KEY_TORN:
		s->has_torn = 1;
		return cut_number("torn", v, 0, &s->torn, err, errsize);
	case KEY_BYTES:
		s->has_bytes = 1;
		return cut_number("bytes", v, 0, &s->bytes, err, errsize);
	case KEY_COUNT:
		break;
	}
	return cut_error(err, errsize, "internal: key %d", (int)key);
}

/* Combinations that cannot mean anything, each with the reason. */
static int cut_check(struct cut_spec *s, const int *seen, char *err, size_t errsize)
{
	if (!seen[KEY_N])
		return cut_error(err, errsize, "n= is required (the n-th matching point, from 1)");
	if (s->has_torn) {
		if (seen[KEY_EDGE] && s->edge == CUT_BEFORE)
			return cut_error(err, errsize,
					 "torn= lets the shortened write run and cuts after it;"
					 " edge=before contradicts it");
		if (s->syscall && !syscalls_is_write(s->syscall))
			return cut_error(err, errsize,
					 "torn= applies to write, pwrite64, writev, pwritev and"
					 " pwritev2, not %s", s->syscall->name);
		if (s->has_target && s->target != TARGET_FILE && s->target != TARGET_BLOCK)
			return cut_error(err, errsize, "torn= applies to file or block targets, not %s",
					 target_kind_name(s->target));
		s->edge = CUT_AFTER;
	}
	if (s->has_bytes) {
		static const enum cut_key other[] = { KEY_SYSCALL, KEY_PATH, KEY_TARGET, KEY_TORN };

		for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
			if (seen[other[i]])
				return cut_error(err, errsize,
						 "bytes= counts progress markers; it cannot be"
						 " combined with %s=", cut_keys[other[i]]);
		}
	}
	return 0;
}

static int cut_unknown_key(const char *field, unsigned allowed, char *err, size_t errsize)
{
	char known[96] = "";
	size_t len = 0;

	for (int k = 0; k < KEY_COUNT; k++) {
		if (allowed & 1u << k)
			len += (size_t)snprintf(known + len, sizeof(known) - len, "%s%s",
						len ? ", " : "", cut_keys[k]);
	}
	return cut_error(err, errsize, "unknown key '%s' (known: %s)", field, known);
}

/*
 * The key=value fields of text (shorter than CUT_SPEC_MAX), separated by any
 * of seps, into spec; only the keys in allowed, each at most once (seen[]).
 */
static int cut_fields(const char *text, const char *seps, unsigned allowed, struct cut_spec *spec,
		      int *seen, char *err, size_t errsize)
{
	char copy[CUT_SPEC_MAX];
	char *field, *save = NULL;

	strcpy(spec->text, text);
	strcpy(copy, text);
	for (field = strtok_r(copy, seps, &save); field; field = strtok_r(NULL, seps, &save)) {
		char *eq = strchr(field, '=');
		int key = -1, rc;

		if (!eq || eq == field)
			return cut_error(err, errsize, "'%s' is not key=value", field);
		*eq = '\0';
		for (int k = 0; k < KEY_COUNT; k++) {
			if (strcmp(field, cut_keys[k]) == 0)
				key = k;
		}
		if (key < 0 || !(allowed & 1u << key))
			return cut_unknown_key(field, allowed, err, errsize);
		if (seen[key])
			return cut_error(err, errsize, "key '%s' given twice", field);
		seen[key] = 1;
		rc = cut_field(spec, (enum cut_key)key, eq + 1, err, errsize);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void cut_spec_init(struct cut_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->edge = CUT_BEFORE;
}

int cut_parse(const char *text, struct cut_spec *spec, char *err, size_t errsize)
{
	int seen[KEY_COUNT] = { 0 };
	int rc;

	cut_spec_init(spec);
	if (!text || !*text)
		return cut_error(err, errsize, "empty spec (at least n=<int>)");
	if (strlen(text) >= CUT_SPEC_MAX)
		return cut_error(err, errsize, "spec longer than %d bytes", CUT_SPEC_MAX - 1);
	/* strtok_r would merge ",," into one separator; an empty field is an error here. */
	if (text[0] == ',' || text[strlen(text) - 1] == ',' || strstr(text, ",,"))
		return cut_error(err, errsize, "empty field in '%s'", text);
	rc = cut_fields(text, ",", CUT_KEYS_ALL, spec, seen, err, errsize);
	if (rc < 0)
		return rc;
	return cut_check(spec, seen, err, errsize);
}

int cut_parse_filter(const char *text, struct cut_spec *spec, char *err, size_t errsize)
{
	int seen[KEY_COUNT] = { 0 };

	cut_spec_init(spec);
	if (strlen(text) >= CUT_SPEC_MAX)
		return cut_error(err, errsize, "filters longer than %d bytes", CUT_SPEC_MAX - 1);
	/* Written as a cut spec's, "path=/x,syscall=fsync" would be one glob that never matches. */
	if (strchr(text, ','))
		return cut_error(err, errsize, "',' in '%s': filters are separated by blanks", text);
	return cut_fields(text, " \t", CUT_KEYS_FILTER, spec, seen, err, errsize);
}

int cut_match(const struct cut_spec *spec, const struct cut_point *p)
{
	if (spec->has_bytes)
		return 0;	/* counts markers, not points */
	if (spec->syscall && strcmp(spec->syscall->name, p->syscall) != 0)
		return 0;
	if (spec->phase[0] && strcmp(spec->phase, p->phase) != 0)
		return 0;
	if (spec->has_target && spec->target != p->kind)
		return 0;
	if (spec->path[0] && fnmatch(spec->path, p->path, 0) != 0 &&
	    (!p->path2[0] || fnmatch(spec->path, p->path2, 0) != 0))
		return 0;
	return 1;
}

int cut_bytes_match(const struct cut_spec *spec, const char *phase, uint64_t b)
{
	if (!spec->has_bytes || b < spec->bytes)
		return 0;
	return !spec->phase[0] || strcmp(spec->phase, phase) == 0;
}

uint64_t cut_torn_len(uint64_t torn, int64_t offset, uint64_t len)
{
	uint64_t start = offset < 0 ? 0 : (uint64_t)offset % CUT_SECTOR;

	if (torn >= len)
		return len;
	/* Measured from the sector the write starts in, so the prefix ends on a sector boundary. */
	if (start + torn < CUT_SECTOR)
		return 0;
	return (start + torn) / CUT_SECTOR * CUT_SECTOR - start;
}

void cut_word(char *dst, size_t size, const char *s)
{
	size_t len = strlen(s), skip = 0, pos = 0;

	if (len == 0) {
		strcpy(dst, "-");
		return;
	}
	/* The end of a path (the file name) says more than its start. */
	if (len >= size) {
		strcpy(dst, "...");
		pos = 3;
		skip = len - (size - 1 - pos);
	}
	for (size_t i = skip; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		dst[pos++] = c < 0x21 || c > 0x7e ? '_' : (char)c;
	}
	dst[pos] = '\0';
}

int cut_tearable(const struct cut_point *p)
{
	return syscalls_is_write(syscalls_by_name(p->syscall)) &&
	       (p->kind == TARGET_FILE || p->kind == TARGET_BLOCK) && p->len >= 0;
}
