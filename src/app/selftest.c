/* selftest: the app's power-on self-test. */
#include "selftest.h"

#include <errno.h>
#include <time.h>

/*
 * The v2-bad release (-DAPP_SELFTEST_BROKEN) models a real, small defect: the
 * CRC-32 polynomial constant was mistyped (last digit 1, not 0). That build
 * starts, runs and heartbeats like a good one; only its known-answer test
 * notices, so it reports healthy=0. That is the case an update method must
 * roll back from: the new version boots fine and is still broken.
 */
#ifdef APP_SELFTEST_BROKEN
#define SELFTEST_CRC32_POLY 0xEDB88321u
#else
#define SELFTEST_CRC32_POLY 0xEDB88320u
#endif

/* The standard CRC-32 check value: the CRC of the ASCII digits "123456789". */
#define SELFTEST_KAT_INPUT "123456789"
#define SELFTEST_KAT_CRC 0xCBF43926u

uint32_t selftest_crc32(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t crc = 0xFFFFFFFFu;

	/* Bitwise, no table: the app checks a handful of bytes once at start. */
	while (len--) {
		crc ^= *p++;
		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (SELFTEST_CRC32_POLY & -(crc & 1u));
	}
	return ~crc;
}

static int selftest_clock(void)
{
	struct timespec a, b;

	/* The heartbeat schedule depends on CLOCK_MONOTONIC working and not going back. */
	if (clock_gettime(CLOCK_MONOTONIC, &a) < 0 || clock_gettime(CLOCK_MONOTONIC, &b) < 0)
		return -errno;
	if (b.tv_sec < a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec < a.tv_nsec))
		return -ERANGE;
	return 0;
}

int selftest_run(const char **reason)
{
	int rc;

	if (selftest_crc32(SELFTEST_KAT_INPUT, sizeof(SELFTEST_KAT_INPUT) - 1) != SELFTEST_KAT_CRC) {
		*reason = "crc-kat";
		return -EBADMSG;
	}
	rc = selftest_clock();
	if (rc < 0) {
		*reason = "clock";
		return rc;
	}
	*reason = "ok";
	return 0;
}
