"""A guest's disk writes as QEMU's blklogwrites driver logs them (writelog.py)
and the crash states a power cut could leave on the medium (states.py).
Host-side only: nothing here boots a guest."""
