/*
 * capture: a test helper, not a module. What a function under test writes to
 * stdout (markers) and stderr (the lines for people), through a pipe each.
 * The pipes hold what one test writes (a few KiB) without a reader.
 */
#ifndef BROWNOUT_TEST_CAPTURE_H
#define BROWNOUT_TEST_CAPTURE_H

struct capture {
	int saved[2];
	int pipe[2][2];
	char out[2048], err[2048];
};

/* From here on, fd 1 and fd 2 go into c's pipes. */
void capture_start(struct capture *c);

/* fd 1 and fd 2 as they were; c->out and c->err hold what they got (NUL-terminated). */
void capture_end(struct capture *c);

#endif
