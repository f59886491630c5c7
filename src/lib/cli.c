/* cli: a program's command line from its tables of options and commands. */
#include "cli.h"

#include "num.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The most options one program takes, --help not counted. */
#define CLI_OPTS_MAX 24
/* getopt_long's value for option i: clear of every short option and of '?'. */
#define CLI_VAL 256

/* "install URL", "--pubkey PATH": a command or an option as --help shows it. */
static const char *cli_text(const char *prefix, const char *name, const char *arg, char *buf,
			    size_t size)
{
	snprintf(buf, size, "%s%s%s%s", prefix, name, arg ? " " : "", arg ? arg : "");
	return buf;
}

/* "  <left>   <help>", help's further lines under its first. */
static void cli_help_row(const char *left, const char *help)
{
	const char *line = help, *nl;

	printf("  %-22s ", left);
	while ((nl = strchr(line, '\n')) != NULL) {
		printf("%.*s\n%25s", (int)(nl - line), line, "");
		line = nl + 1;
	}
	printf("%s\n", line);
}

static void cli_usage(const struct cli *cli)
{
	const struct cli_command *cmd;
	const struct cli_opt *o;
	char text[64];

	printf("usage: %s [options]", cli->name);
	for (cmd = cli->cmds; cmd && cmd->name; cmd++)
		printf("%s%s", cmd == cli->cmds ? " " : " | ",
		       cli_text("", cmd->name, cmd->arg, text, sizeof(text)));
	printf("\n%s", cli->about ? cli->about : "");
	for (cmd = cli->cmds; cmd && cmd->name; cmd++)
		cli_help_row(cli_text("", cmd->name, cmd->arg, text, sizeof(text)), cmd->help);
	printf("options:\n");
	for (o = cli->opts; o->name; o++)
		cli_help_row(cli_text("--", o->name, o->arg, text, sizeof(text)), o->help);
	cli_help_row("--help", "show this help");
	printf("%s", cli->tail ? cli->tail : "");
}

/* arg into what o sets in self; 0, or -EINVAL after saying what is wrong. */
static int cli_take(const struct cli *cli, const struct cli_opt *o, void *self, const char *arg)
{
	void *to = (char *)self + o->offset;
	uint64_t v;

	switch (o->kind) {
	case CLI_FLAG:
		*(bool *)to = true;
		return 0;
	case CLI_PATH:
		if (!*arg) {
			fprintf(stderr, "%s: --%s: empty path\n", cli->name, o->name);
			return -EINVAL;
		}
		*(const char **)to = arg;
		return 0;
	case CLI_UINT:
	case CLI_LONG:
	case CLI_U64:
		break;
	}
	if (num_parse_u64(arg, strlen(arg), o->max, &v) < 0 || v < o->min) {
		fprintf(stderr, "%s: --%s: '%s' is not %" PRIu64 "..%" PRIu64 "\n", cli->name,
			o->name, arg, o->min, o->max);
		return -EINVAL;
	}
	if (o->kind == CLI_UINT)
		*(unsigned *)to = (unsigned)v;
	else if (o->kind == CLI_LONG)
		*(long *)to = (long)v;
	else
		*(uint64_t *)to = v;
	return 0;
}

/* What follows the options: a command's index in cli->cmds, or -1 after saying what is wrong. */
static int cli_command(const struct cli *cli, int argc, char **argv, const char **arg)
{
	const char *name = optind < argc ? argv[optind] : NULL;
	const struct cli_command *cmd;
	int nargs = argc - optind - 1;
	char text[64];

	*arg = NULL;
	if (!cli->cmds) {
		if (!name)
			return 0;
		fprintf(stderr, "%s: unexpected argument '%s'\n", cli->name, name);
		return -1;
	}
	if (!name) {
		fprintf(stderr, "%s: no command (", cli->name);
		for (cmd = cli->cmds; cmd->name; cmd++)
			fprintf(stderr, "%s%s", cmd == cli->cmds ? "" : cmd[1].name ? ", " : " or ",
				cli_text("", cmd->name, cmd->arg, text, sizeof(text)));
		fprintf(stderr, "); see --help\n");
		return -1;
	}
	for (cmd = cli->cmds; cmd->name && strcmp(name, cmd->name) != 0; cmd++)
		;
	if (!cmd->name) {
		fprintf(stderr, "%s: unknown command '%s'; see --help\n", cli->name, name);
		return -1;
	}
	if (nargs != (cmd->arg ? 1 : 0)) {
		fprintf(stderr, "%s: %s takes %s%s; see --help\n", cli->name, name,
			cmd->arg ? "one " : "no arguments", cmd->arg ? cmd->arg : "");
		return -1;
	}
	if (cmd->arg)
		*arg = argv[optind + 1];
	return (int)(cmd - cli->cmds);
}

int cli_parse(const struct cli *cli, void *self, int argc, char **argv, const char **arg,
	      int *status)
{
	struct option opts[CLI_OPTS_MAX + 2];
	size_t n = 0;
	int val, cmd;

	*status = 2;
	*arg = NULL;
	for (const struct cli_opt *o = cli->opts; o->name && n < CLI_OPTS_MAX; o++, n++)
		opts[n] = (struct option){ o->name, o->kind == CLI_FLAG ? no_argument
									: required_argument,
					   NULL, CLI_VAL + (int)n };
	opts[n] = (struct option){ "help", no_argument, NULL, 'h' };
	opts[n + 1] = (struct option){ NULL, 0, NULL, 0 };

	while ((val = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (val == 'h') {
			cli_usage(cli);
			*status = 0;
			return -1;
		}
		if (val < CLI_VAL)
			return -1;	/* getopt_long has said what is wrong */
		if (cli_take(cli, &cli->opts[val - CLI_VAL], self, optarg) < 0)
			return -1;
	}
	cmd = cli_command(cli, argc, argv, arg);
	if (cmd >= 0)
		*status = 0;
	return cmd;
}
