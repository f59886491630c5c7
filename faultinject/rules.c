/* rules: phase rules, a point's phase from what it targets. */
#include "rules.h"

#include "fileio.h"
#include "phase.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RULES_BLANKS " \t"

static int rules_error(char *err, size_t errsize, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int rules_error(char *err, size_t errsize, unsigned line, const char *fmt, ...)
{
	int n = snprintf(err, errsize, "line %u: ", line);
	va_list ap;

	if (n >= 0 && (size_t)n < errsize) {
		va_start(ap, fmt);
		vsnprintf(err + n, errsize - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int rules_add(struct rules *rules, const struct rule *r)
{
	if (rules->n == rules->cap) {
		size_t cap = rules->cap ? rules->cap * 2 : 8;
		struct rule *grown = realloc(rules->r, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		rules->r = grown;
		rules->cap = cap;
	}
	rules->r[rules->n++] = *r;
	return 0;
}

/* One line, NUL-terminated, no newline: a rule, a comment, or blank. */
static int rules_line(struct rules *rules, unsigned line, char *text, char *err, size_t errsize)
{
	char *phase = text + strspn(text, RULES_BLANKS), *filters, *end;
	struct rule r = { .line = line };
	char why[256];

	if (*phase == '\0' || *phase == '#')
		return 0;
	end = phase + strlen(phase);
	while (end > phase && strchr(RULES_BLANKS, end[-1]))
		*--end = '\0';
	filters = phase + strcspn(phase, RULES_BLANKS);
	if (*filters)
		*filters++ = '\0';
	filters += strspn(filters, RULES_BLANKS);
	if (!phase_name_ok(phase))
		return rules_error(err, errsize, line,
				   "'%s' is not a phase name (a lowercase letter, then lowercase letters,"
				   " digits or '-', at most %d bytes; a rule is <phase> path=<glob>"
				   " [target=<kind>] [syscall=<name>])", phase, CUT_PHASE_MAX - 1);
	if (cut_parse_filter(filters, &r.filter, why, sizeof(why)) < 0)
		return rules_error(err, errsize, line, "%s", why);
	if (!r.filter.path[0])
		return rules_error(err, errsize, line, "%s: no path=<glob>", phase);
	strcpy(r.phase, phase);
	if (rules_add(rules, &r) < 0) {
		snprintf(err, errsize, "line %u: %s", line, strerror(ENOMEM));
		return -ENOMEM;
	}
	return 0;
}

int rules_parse(struct rules *rules, const char *text, size_t len, char *err, size_t errsize)
{
	char buf[RULES_LINE_MAX];
	unsigned line = 0;
	size_t pos = 0;
	int rc = 0;

	*rules = (struct rules){ 0 };
	while (pos < len && rc == 0) {
		const char *start = text + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;

		line++;
		pos += n + (nl != NULL);
		if (n > 0 && start[n - 1] == '\r')
			n--;	/* written on another system */
		if (memchr(start, '\0', n))
			rc = rules_error(err, errsize, line, "a NUL byte: not a text file");
		else if (n >= sizeof(buf))
			rc = rules_error(err, errsize, line, "longer than %zu bytes", sizeof(buf) - 1);
		else {
			memcpy(buf, start, n);
			buf[n] = '\0';
			rc = rules_line(rules, line, buf, err, errsize);
		}
	}
	if (rc < 0)
		rules_free(rules);
	return rc;
}

int rules_load(struct rules *rules, const char *path, char *err, size_t errsize)
{
	char *text = malloc(RULES_FILE_MAX + 1);
	size_t len;
	int rc;

	*rules = (struct rules){ 0 };
	if (!text) {
		snprintf(err, errsize, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	/* One byte more than the largest file, to tell an oversized one. */
	rc = fileio_read(path, text, RULES_FILE_MAX + 1, &len);
	if (rc < 0) {
		snprintf(err, errsize, "%s", strerror(-rc));
	} else if (len > RULES_FILE_MAX) {
		snprintf(err, errsize, "larger than %d bytes", RULES_FILE_MAX);
		rc = -EFBIG;
	} else {
		rc = rules_parse(rules, text, len, err, errsize);
	}
	free(text);
	return rc;
}

const struct rule *rules_match(const struct rules *rules, const struct cut_point *p)
{
	for (size_t i = 0; rules && i < rules->n; i++) {
		if (cut_match(&rules->r[i].filter, p))
			return &rules->r[i];
	}
	return NULL;
}

void rules_apply(const struct rules *rules, struct cut_point *p)
{
	const struct rule *r = rules_match(rules, p);

	if (r) {
		p->phase = r->phase;
		p->rule = r->line;
	}
}

int rules_give_phase(const struct rules *rules, const char *phase)
{
	for (size_t i = 0; rules && i < rules->n; i++) {
		if (strcmp(rules->r[i].phase, phase) == 0)
			return 1;
	}
	return 0;
}

void rules_free(struct rules *rules)
{
	free(rules->r);
	*rules = (struct rules){ 0 };
}
