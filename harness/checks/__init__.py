"""Device and disk checks: a device's disk and partitions, the offline checks
of file systems and root trees, and the digests that name a version."""
