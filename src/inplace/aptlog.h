/*
 * aptlog: what apt-get's messages say went wrong, so the in-place client can
 * tell a verification refusal from a broken transfer. The words are apt
 * 2.6's, untranslated (the guest has no /usr/share/locale). Nothing here
 * reads or writes anything but the caller's memory.
 */
#ifndef BROWNOUT_APTLOG_H
#define BROWNOUT_APTLOG_H

#include <stddef.h>

/* In order of precedence: where a text says more than one, the larger wins. */
enum aptlog_kind {
	APTLOG_OTHER = 0,	/* nothing apt refused on purpose: the caller's own reason */
	APTLOG_HASH,		/* a file differs from the hashes (or size) the signed
				 * index gives for it */
	APTLOG_SIGNATURE,	/* the repository's InRelease/Release is unsigned or its
				 * signature does not verify; without it no hash is trusted */
};

/* What apt's text (any number of lines, NUL-terminated; NULL is empty) says. */
enum aptlog_kind aptlog_classify(const char *text);

/* Longest line part kept at once; a longer line is looked at in overlapping windows. */
#define APTLOG_WINDOW 1024

/*
 * One output stream of apt, classified as it arrives, in fixed memory: feed it
 * any chunks, then aptlog_finish. A stream read line by line rather than kept
 * whole, because apt prints its errors last, after a "Get:" line per file.
 */
struct aptlog {
	char buf[APTLOG_WINDOW];
	size_t len;
	enum aptlog_kind kind;
};

void aptlog_init(struct aptlog *log);
void aptlog_feed(struct aptlog *log, const char *data, size_t n);
/* The verdict on everything fed, the last unfinished line included. */
enum aptlog_kind aptlog_finish(struct aptlog *log);

#endif
