"""Where the harness puts large files it reads once and deletes: memory when
there is room, else the system's temporary directory.

An offline check copies a partition out of a disk (hundreds of MiB) and
debugfs copies a root tree out of that; on a disk-backed /tmp, writing them
and deleting them again took most of a check's time. /dev/shm holds them
only as long as the check runs.
"""
from __future__ import annotations

import shutil
from pathlib import Path

SHM = Path("/dev/shm")


def scratch_dir(room: int, shm: Path = SHM) -> Path | None:
    """`shm` when it has twice `room` bytes free (other jobs' scratch files
    come and go beside ours), else None: tempfile's default directory."""
    try:
        return shm if shm.is_dir() and shutil.disk_usage(shm).free > 2 * room else None
    except OSError:
        return None
