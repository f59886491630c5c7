"""Files replaced whole: a reader sees the old file or the new one, never half
of one, whichever process or thread writes it. And the locks that make a
read-then-write of such files one step between threads, processes and clones."""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Iterator


@contextlib.contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A temporary file beside `path` to write, put in its place if the block
    ends well, removed if not."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A name of its own per writer: threads of one process share a pid.
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def locked(directory: Path, name: str) -> Iterator[None]:
    """Hold the exclusive lock `name` of `directory` (the file .<name>.lock in it)
    for the block: one holder at a time, whichever thread, process or clone."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def try_lock(directory: Path, name: str) -> IO | None:
    """The exclusive lock `name` of `directory` (the one `locked` takes), held
    until the returned file is closed or its process dies; None, at once,
    while another holder has it."""
    directory.mkdir(parents=True, exist_ok=True)
    lock = open(directory / f".{name}.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    return lock


def replace_file(path: Path, data: str | bytes) -> None:
    """`path` holds `data` (text is written as UTF-8)."""
    with _replacing(path) as tmp:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)


def replace_copy(source: Path, path: Path) -> None:
    """`path` holds a copy of `source`."""
    with _replacing(path) as tmp:
        shutil.copyfile(source, tmp)


def data_ranges(fd: int, at: int, count: int) -> list[tuple[int, int]]:
    """The parts of [at, at + count) of an open file that are not holes."""
    ranges, end = [], at + count
    while at < end:
        try:
            data = os.lseek(fd, at, os.SEEK_DATA)
        except OSError:                  # ENXIO: no data after `at`
            break
        if data >= end:
            break
        hole = min(os.lseek(fd, data, os.SEEK_HOLE), end)
        ranges.append((data, hole - data))
        at = hole
    return ranges


def send(source: int, out: int, at: int, out_at: int, count: int) -> None:
    """Copy `count` bytes from `at` in one open file to `out_at` in another,
    in the kernel (the source's page cache to the output's)."""
    os.lseek(out, out_at, os.SEEK_SET)
    while count:
        sent = os.sendfile(out, source, at, count)
        if sent <= 0:
            raise OSError(f"file ended {count} bytes before the copy")
        at += sent
        count -= sent


def copy_sparse(source: Path, path: Path) -> None:
    """`path`, a new file, holds a copy of `source` with its holes left holes
    (a machine's memory file: what the guest never touched is not written)."""
    src = os.open(source, os.O_RDONLY)
    try:
        size = os.fstat(src).st_size
        out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.ftruncate(out, size)
            for at, count in data_ranges(src, 0, size):
                send(src, out, at, at, count)
        finally:
            os.close(out)
    finally:
        os.close(src)
