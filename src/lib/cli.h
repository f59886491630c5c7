/*
 * cli: a program's command line, read from two tables: its options (what
 * each sets in the program's own struct, at an offset), and its commands with
 * their argument. --help is made from both; a usage error is one line on
 * stderr. Every program in src/ reads its command line this way.
 */
#ifndef BROWNOUT_CLI_H
#define BROWNOUT_CLI_H

#include <stddef.h>
#include <stdint.h>

/* A number macro as a string, for help texts: CLI_STR(UPDATE_STALL_MAX) is "3600". */
#define CLI_STR(x) CLI_STR_(x)
#define CLI_STR_(x) #x

/* What an option's argument is, and what it sets. */
enum cli_kind {
	CLI_PATH,	/* a const char *: a non-empty path */
	CLI_FLAG,	/* a bool: set when given, takes no argument */
	CLI_UINT,	/* an unsigned: a decimal number in min..max */
	CLI_LONG,	/* a long: a decimal number in min..max */
	CLI_U64,	/* a uint64_t: a decimal number in min..max */
};

/* An option: a row of the program's table, a static const one. */
struct cli_opt {
	const char *name;	/* --<name> */
	const char *arg;	/* its argument in --help ("PATH", "N"); NULL for a flag */
	const char *help;	/* what it does, for --help; a "\n" starts another line */
	enum cli_kind kind;
	size_t offset;		/* of what it sets, as kind says, in the program's struct */
	uint64_t min, max;	/* a number's range */
};

/* A command: its name and its one argument (NULL: it takes none), as --help shows them. */
struct cli_command {
	const char *name;
	const char *arg;
	const char *help;	/* a "\n" starts another line */
};

/* A program's command line. Its tables end with a row whose name is NULL, as getopt_long's. */
struct cli {
	const char *name;	/* the program: the first word of each message */
	const struct cli_command *cmds;	/* NULL: no command, no argument at all */
	const struct cli_opt *opts;
	const char *about;	/* lines --help prints after the usage line, or NULL */
	const char *tail;	/* what --help prints last: the exit statuses, ... */
};

/*
 * Parse argv: the options into self (the program's struct the offsets are
 * into), then one of cli's commands with its argument (*arg, NULL if it takes
 * none). Returns the command's index in cli->cmds (0 for a program without
 * commands); or -1 when the program is done, with its exit status in
 * *status: 0 after --help, 2 after a usage error.
 */
int cli_parse(const struct cli *cli, void *self, int argc, char **argv, const char **arg,
	      int *status);

#endif
