/*
 * brownout-treedigest: the digest of a root tree inside an ext4 image, for
 * the harness's offline checks (harness/checks/ext4tree.py), which name what
 * it leaves out. Prints "<sha256> <entries>"; see ext4tree.h.
 */
#include "ext4tree.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TREEDIGEST_LISTS_MAX 64

static void treedigest_usage(FILE *to)
{
	fputs("usage: brownout-treedigest [--manifest FILE] [--skip PATH]... [--skip-prefix TEXT]...\n"
	      "                           [--skip-under DIR]... IMAGE ROOT\n"
	      "Print the digest of the tree at ROOT in the ext4 file system IMAGE and its\n"
	      "number of entries: \"<sha256> <entries>\".\n"
	      "  --manifest FILE    also write each entry's path and digest (16 hex digits) there,\n"
	      "                     each followed by a NUL\n"
	      "  --skip PATH        leave the entry PATH (relative to ROOT) out\n"
	      "  --skip-prefix TEXT leave out every entry whose path starts with TEXT\n"
	      "  --skip-under DIR   leave out everything below DIR (DIR itself stays)\n"
	      "Exit status: 0 printed, 1 the tree could not be read, 2 usage error.\n", to);
}

static int treedigest_add(const char **list, size_t *n, const char *value)
{
	if (*n == TREEDIGEST_LISTS_MAX) {
		fprintf(stderr, "brownout-treedigest: more than %d paths of one kind to skip\n",
			TREEDIGEST_LISTS_MAX);
		return -E2BIG;
	}
	list[(*n)++] = value;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "manifest", required_argument, NULL, 'm' },
		{ "skip", required_argument, NULL, 's' },
		{ "skip-prefix", required_argument, NULL, 'p' },
		{ "skip-under", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *exact[TREEDIGEST_LISTS_MAX], *prefix[TREEDIGEST_LISTS_MAX], *under[TREEDIGEST_LISTS_MAX];
	struct ext4tree_skip skip = { .exact = exact, .prefix = prefix, .under = under };
	struct ext4tree_result result;
	const char *manifest_path = NULL;
	FILE *manifest = NULL;
	int opt, rc = 0;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'm':
			manifest_path = optarg;
			break;
		case 's':
			rc = treedigest_add(exact, &skip.n_exact, optarg);
			break;
		case 'p':
			rc = treedigest_add(prefix, &skip.n_prefix, optarg);
			break;
		case 'u':
			rc = treedigest_add(under, &skip.n_under, optarg);
			break;
		case 'h':
			treedigest_usage(stdout);
			return 0;
		default:
			treedigest_usage(stderr);
			return 2;
		}
		if (rc < 0)
			return 2;
	}
	if (argc - optind != 2) {
		treedigest_usage(stderr);
		return 2;
	}
	if (manifest_path) {
		manifest = fopen(manifest_path, "w");
		if (!manifest) {
			fprintf(stderr, "brownout-treedigest: %s: %s\n", manifest_path, strerror(errno));
			return 1;
		}
	}
	rc = ext4tree_digest(argv[optind], argv[optind + 1], &skip, manifest, &result);
	if (manifest && fclose(manifest) != 0 && rc == 0) {
		fprintf(stderr, "brownout-treedigest: %s: %s\n", manifest_path, strerror(errno));
		rc = -EIO;
	}
	if (rc < 0)
		return 1;
	printf("%s %llu\n", result.tree, result.entries);
	return 0;
}
