/* phase: follow the update client's phase and progress from the markers it prints. */
#include "phase.h"

#include "num.h"

#include <stdio.h>
#include <string.h>

#define PHASE_PREFIX "BROWNOUT "

static const char *const phase_builtins[] = { "pull", "deploy", "bootloader", "none" };

void phase_init(struct phase *ph)
{
	phase_init_as(ph, "none");
}

void phase_init_as(struct phase *ph, const char *name)
{
	memset(ph, 0, sizeof(*ph));
	snprintf(ph->name, sizeof(ph->name), "%s", name);
}

/* The value of key=... among the space-separated words of line, or NULL; *len is its length. */
static const char *phase_value(const char *line, const char *key, size_t *len)
{
	size_t klen = strlen(key);

	for (const char *w = line; *w;) {
		size_t wlen = strcspn(w, " ");

		if (wlen > klen && strncmp(w, key, klen) == 0 && w[klen] == '=') {
			*len = wlen - klen - 1;
			return w + klen + 1;
		}
		w += wlen;
		w += strspn(w, " ");
	}
	return NULL;
}

/* The event word: "BROWNOUT <event> ..." */
static int phase_event_is(const char *line, const char *event)
{
	size_t elen = strlen(event), plen = strlen(PHASE_PREFIX);

	return strncmp(line, PHASE_PREFIX, plen) == 0 && strncmp(line + plen, event, elen) == 0 &&
	       (line[plen + elen] == ' ' || line[plen + elen] == '\0');
}

static void phase_line_done(struct phase *ph, char *line, struct phase_progress *pr)
{
	const char *name, *state, *bytes;
	size_t nlen, slen, blen;
	uint64_t b;

	if (phase_event_is(line, "phase")) {
		name = phase_value(line, "name", &nlen);
		state = phase_value(line, "state", &slen);
		if (!name || !state || nlen == 0 || nlen >= sizeof(ph->name))
			return;
		if (slen == 5 && strncmp(state, "start", 5) == 0) {
			char next[PHASE_NAME_MAX];

			memcpy(next, name, nlen);
			next[nlen] = '\0';
			/* The name goes into the cut marker: printable ASCII, or the marker is not one. */
			if (marker_value_ok(next))
				strcpy(ph->name, next);
		} else if (slen == 3 && strncmp(state, "end", 3) == 0) {
			strcpy(ph->name, "none");
		}
	} else if (phase_event_is(line, "progress")) {
		bytes = phase_value(line, "bytes", &blen);
		if (!bytes || num_parse_u64(bytes, blen, UINT64_MAX, &b) < 0)
			return;
		if (!pr->seen || b > pr->bytes)
			pr->bytes = b;
		pr->seen = 1;
	}
}

void phase_feed(struct phase *ph, int stream, const char *data, size_t len,
		struct phase_progress *pr)
{
	struct phase_line *l;

	pr->seen = 0;
	pr->bytes = 0;
	if (stream < 0 || stream >= PHASE_STREAMS)
		return;
	l = &ph->line[stream];
	for (size_t i = 0; i < len; i++) {
		char c = data[i];

		if (c == '\n') {
			/* A console may have added a carriage return. */
			if (l->len > 0 && l->buf[l->len - 1] == '\r')
				l->len--;
			l->buf[l->len] = '\0';
			if (!l->skip)
				phase_line_done(ph, l->buf, pr);
			l->len = 0;
			l->skip = 0;
		} else if (l->skip) {
			continue;
		} else if (c == '\0' || l->len + 1 >= sizeof(l->buf)) {
			l->skip = 1;	/* not a marker: too long, or binary */
		} else {
			l->buf[l->len++] = c;
		}
	}
}

void phase_gap(struct phase *ph, int stream)
{
	if (stream < 0 || stream >= PHASE_STREAMS)
		return;
	ph->line[stream].len = 0;
	ph->line[stream].skip = 1;
}

int phase_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= PHASE_NAME_MAX || name[0] < 'a' || name[0] > 'z')
		return 0;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") == len;
}

int phase_builtin(const char *name)
{
	for (size_t i = 0; i < sizeof(phase_builtins) / sizeof(phase_builtins[0]); i++) {
		if (strcmp(name, phase_builtins[i]) == 0)
			return 1;
	}
	return 0;
}
