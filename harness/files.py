"""Files replaced whole: a reader sees the old file or the new one, never half
of one, whichever process or thread writes it."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def _temporary(path: Path) -> Path:
    # A name of its own per writer: threads of one process share a pid.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def replace_file(path: Path, data: str | bytes) -> None:
    """`path` holds `data` (text is written as UTF-8)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    try:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def replace_copy(source: Path, path: Path) -> None:
    """`path` holds a copy of `source`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
