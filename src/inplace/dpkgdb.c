#include "dpkgdb.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>

/* dpkg's own limit (lib/dpkg/dbmodify.c, IMPORTANTMAXLEN): longer names are not its journal. */
#define DPKGDB_ENTRY_MAX 10

static int dpkgdb_is_entry(const char *name)
{
	size_t len = strlen(name);

	return len > 0 && len <= DPKGDB_ENTRY_MAX && strspn(name, "0123456789") == len;
}

int dpkgdb_journal_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	errno = 0;
	while ((de = readdir(d)))
		n += dpkgdb_is_entry(de->d_name);
	if (errno != 0) {
		int err = -errno;

		closedir(d);
		return err;
	}
	closedir(d);
	return n;
}
