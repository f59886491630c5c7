"""A guest's disk writes as QEMU's blklogwrites driver logs them (writelog.py),
the crash states a power cut could leave on the medium (states.py), and a
disk image of one such state (materialize.py). Host-side only: nothing here
boots a guest."""
