"""The write log of QEMU's blklogwrites driver: every write, discard and flush
a guest issued to its disk, in completion order, in the dm-log-writes format
(Linux drivers/md/dm-log-writes.c).

Layout with log-sector-size=512, all fields little-endian: sector 0 holds the
superblock (magic, version 1, nr_entries, sectorsize); entries follow from log
sector 1, each a header sector (sector, nr_sectors, flags, data_len) and then
its data. As QEMU's block/blklogwrites.c writes it (7.2, checked with qemu-io):
- `sector` and `nr_sectors` count log sectors, so only a 512-byte log sector
  gives 512-byte device sectors as dm-log-writes has them;
- a flush has nr_sectors 0; a discard has its range's nr_sectors but no data
  in the log, so the next header follows its header directly (not after
  nr_sectors + 1 sectors as for a write);
- a write-zeroes request is logged as a write of zeroes, data included;
- data_len is always 0 and QEMU has no MARK or METADATA entries (Linux has);
  FUA is never set: a write-through disk (a guest's write cache off, or
  cache=writethrough) gets each write followed by a flush, logged as one;
- the superblock's nr_entries is rewritten on every flush and every
  log-super-update-interval entries (default 4096): entries logged since then
  are in the file but not counted, so a recorder sets the interval to 1.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from .. import HarnessError

MAGIC = 0x6a736677736872
VERSION = 1
SECTOR = 512

FLUSH = 1
FUA = 2
DISCARD = 4
MARK = 8
METADATA = 16
_KNOWN_FLAGS = FLUSH | FUA | DISCARD | MARK | METADATA

_SUPER = struct.Struct("<QQQI")
_ENTRY = struct.Struct("<QQQQ")


@dataclass(frozen=True)
class LogEntry:
    """One logged request. `offset` and `length` are bytes on the device;
    `data_at` is where its data starts in the log file (writes only)."""
    number: int
    offset: int
    length: int
    flags: int
    data_at: int

    @property
    def is_flush(self) -> bool:
        return bool(self.flags & FLUSH)

    @property
    def is_discard(self) -> bool:
        return bool(self.flags & DISCARD)

    @property
    def is_write(self) -> bool:
        """Data that reaches the medium: not a flush's empty payload, not a discard."""
        return self.length > 0 and not self.is_discard

    @property
    def end(self) -> int:
        return self.offset + self.length


def _superblock(path: Path, f: BinaryIO) -> tuple[int, int, int] | None:
    """(version, nr_entries, sectorsize), or None while QEMU has not
    written the superblock yet (an empty file, or a sector of zeroes ahead of
    the first entries: it writes sector 0 after the entry that triggers it)."""
    raw = f.read(_SUPER.size)
    if not raw.strip(b"\0"):
        return None
    if len(raw) < _SUPER.size:
        raise HarnessError(f"write log {path}: {len(raw)} bytes, shorter than its "
                           f"{_SUPER.size}-byte superblock: not a blklogwrites log")
    magic, version, count, sectorsize = _SUPER.unpack(raw)
    if magic != MAGIC:
        raise HarnessError(f"write log {path}: magic {magic:#x}, not {MAGIC:#x}: "
                           f"not a blklogwrites log")
    return version, count, sectorsize


def _open(path: Path) -> BinaryIO:
    try:
        return open(path, "rb")
    except OSError as e:
        raise HarnessError(f"cannot read write log {path}: {e.strerror}") from None


def entry_count(path: Path) -> int:
    """How many entries the superblock counts: one small read, for polling a
    log while QEMU writes it. 0 before QEMU has written the superblock."""
    with _open(Path(path)) as f:
        sb = _superblock(Path(path), f)
    return sb[1] if sb else 0


def read_log(path: Path) -> list[LogEntry]:
    """Every entry the superblock counts, headers only (the data stays in the file)."""
    path = Path(path)
    with _open(path) as f:
        size = os.fstat(f.fileno()).st_size
        sb = _superblock(path, f)
        if sb is None:
            raise HarnessError(f"write log {path} has no superblock yet: QEMU writes it "
                               f"at a flush or every log-super-update-interval entries")
        version, count, sectorsize = sb
        if version != VERSION:
            raise HarnessError(f"write log {path}: version {version}, only {VERSION} is known")
        if sectorsize != SECTOR:
            raise HarnessError(f"write log {path}: log sector size {sectorsize}, only "
                               f"{SECTOR} is supported: record with log-sector-size={SECTOR}")
        entries = []
        at = SECTOR
        for number in range(count):
            f.seek(at)
            raw = f.read(_ENTRY.size)
            if len(raw) < _ENTRY.size:
                raise HarnessError(f"write log {path} is truncated: {number} of {count} "
                                   f"entries read before its end at byte {size}")
            sector, sectors, flags, _data_len = _ENTRY.unpack(raw)
            if flags & ~_KNOWN_FLAGS:
                raise HarnessError(f"write log {path}: entry {number} at byte {at} has "
                                   f"unknown flags {flags:#x}: not a blklogwrites entry")
            data_sectors = 0 if flags & DISCARD else sectors
            data_at = at + SECTOR
            at = data_at + data_sectors * SECTOR
            if at > size:
                raise HarnessError(f"write log {path}: entry {number}'s data ends at byte "
                                   f"{at}, past the end of the file at byte {size}")
            entries.append(LogEntry(number, sector * SECTOR, sectors * SECTOR, flags, data_at))
    return entries


class LogReader:
    """The log file kept open, to read one entry's data after another."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._file = _open(self.path)

    def fileno(self) -> int:
        return self._file.fileno()

    def read(self, entry: LogEntry, start: int = 0, length: int | None = None) -> bytes:
        """`length` bytes (default: to its end) of a write's data from byte `start` of it."""
        if not entry.is_write:
            raise HarnessError(f"log entry {entry.number} is not a write: it has no data")
        if length is None:
            length = entry.length - start
        data = os.pread(self.fileno(), length, entry.data_at + start)
        if len(data) != length:
            raise HarnessError(f"write log {self.path}: entry {entry.number}'s data is cut "
                               f"short: the file changed since it was read")
        return data

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> LogReader:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def read_data(path: Path, entry: LogEntry) -> bytes:
    """A write's data; LogReader reads many without reopening the log."""
    with LogReader(path) as reader:
        return reader.read(entry)
