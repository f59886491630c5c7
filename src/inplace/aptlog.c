/* aptlog: what apt-get's messages say went wrong. */
#include "aptlog.h"

#include <string.h>

struct aptlog_word {
	const char *text;
	enum aptlog_kind kind;
};

/*
 * Checked against apt 2.6.1's sources and the messages apt-get 2.6.1 prints
 * for a rogue-signed, an unsigned and a tampered flat repository.
 */
static const struct aptlog_word aptlog_words[] = {
	/* methods/gpgv.cc: why gpgv's verdict is not good enough. */
	{ "The following signatures couldn't be verified", APTLOG_SIGNATURE },
	{ "The following signatures were invalid", APTLOG_SIGNATURE },
	{ "At least one invalid signature was encountered", APTLOG_SIGNATURE },
	/* methods/gpgv.cc: gpgv's status words, kept in the lines listing the signers. */
	{ "NO_PUBKEY", APTLOG_SIGNATURE },
	{ "BADSIG", APTLOG_SIGNATURE },
	{ "EXPKEYSIG", APTLOG_SIGNATURE },
	{ "EXPSIG", APTLOG_SIGNATURE },
	{ "REVKEYSIG", APTLOG_SIGNATURE },
	/* apt-pkg/acquire-item.cc: "The repository '%s' is not signed." */
	{ "is not signed", APTLOG_SIGNATURE },
	/* acquire-item.cc, debmetaindex.cc: the signer apt was told to expect. */
	{ "Signed-By", APTLOG_SIGNATURE },
	/* acquire-item.cc: a file is not what the signed index says. */
	{ "Hash Sum mismatch", APTLOG_HASH },
	/* acquire-item.cc: after any such refusal, the size ("File has unexpected size") too. */
	{ "Hashes of expected file:", APTLOG_HASH },
};

#define APTLOG_NWORDS (sizeof(aptlog_words) / sizeof(aptlog_words[0]))

enum aptlog_kind aptlog_classify(const char *text)
{
	enum aptlog_kind kind = APTLOG_OTHER;

	if (!text)
		return APTLOG_OTHER;
	for (size_t i = 0; i < APTLOG_NWORDS; i++)
		if (aptlog_words[i].kind > kind && strstr(text, aptlog_words[i].text))
			kind = aptlog_words[i].kind;
	return kind;
}

/* What a full window keeps: enough that a word cut at its end is whole in the next. */
static size_t aptlog_keep(void)
{
	size_t longest = 0;

	for (size_t i = 0; i < APTLOG_NWORDS; i++) {
		size_t len = strlen(aptlog_words[i].text);

		if (len > longest)
			longest = len;
	}
	return longest - 1;
}

void aptlog_init(struct aptlog *log)
{
	log->len = 0;
	log->kind = APTLOG_OTHER;
}

static void aptlog_scan(struct aptlog *log)
{
	enum aptlog_kind kind;

	log->buf[log->len] = '\0';
	kind = aptlog_classify(log->buf);
	if (kind > log->kind)
		log->kind = kind;
}

void aptlog_feed(struct aptlog *log, const char *data, size_t n)
{
	size_t keep = aptlog_keep();

	for (size_t i = 0; i < n; i++) {
		char c = data[i];

		if (c == '\n') {
			aptlog_scan(log);
			log->len = 0;
			continue;
		}
		if (log->len + 1 == sizeof(log->buf)) {
			aptlog_scan(log);
			memmove(log->buf, log->buf + log->len - keep, keep);
			log->len = keep;
		}
		/* A NUL would end the window's string early; no word contains one. */
		log->buf[log->len++] = c == '\0' ? ' ' : c;
	}
}

enum aptlog_kind aptlog_finish(struct aptlog *log)
{
	aptlog_scan(log);
	log->len = 0;
	return log->kind;
}
