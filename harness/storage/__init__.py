"""A guest's disk writes as QEMU's blklogwrites driver logs them (writelog.py).
Host-side only: nothing here boots a guest."""
