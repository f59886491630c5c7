/*
 * dpkgdb: what dpkg left of its database between two runs. dpkg records every
 * change of a package's state in a journal file of its own in
 * /var/lib/dpkg/updates/ (names of digits only) and folds the journal into
 * the status file when it closes a database it opened for writing. A power
 * cut after the last change and before that fold leaves every package
 * settled and the journal unfolded: dpkg --audit sees nothing amiss, yet the
 * status file on disk is not the database dpkg reads.
 */
#ifndef BROWNOUT_DPKGDB_H
#define BROWNOUT_DPKGDB_H

#define DPKGDB_UPDATES_DIR "/var/lib/dpkg/updates"

/*
 * The number of journal entries in dir (dpkg's rule: a name of at most 10
 * digits), 0 when dir does not exist, or a negative errno.
 */
int dpkgdb_journal_entries(const char *dir);

#endif
