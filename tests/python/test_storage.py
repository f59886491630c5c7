"""Write logs, crash states and their disk images (harness/storage/), on logs
that qemu-io writes through the blklogwrites driver and on logs made here."""
from __future__ import annotations

import random
import struct
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from harness import HarnessError
from harness.storage import writelog as wl

BASE_SIZE = 4 << 20


def run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def write_log(path: Path, requests: Sequence[tuple], *, count: int | None = None,
              magic: int = wl.MAGIC, sectorsize: int = 512) -> Path:
    """A log in blklogwrites' layout: ("w", offset, data), ("f",), ("d", offset, length)."""
    body = bytearray()
    for request in requests:
        if request[0] == "w":
            _, offset, data = request
            body += struct.pack("<QQQQ", offset // 512, len(data) // 512, 0, 0).ljust(512, b"\0")
            body += data
        elif request[0] == "f":
            body += struct.pack("<QQQQ", 0, 0, wl.FLUSH, 0).ljust(512, b"\0")
        else:
            _, offset, length = request
            body += struct.pack("<QQQQ", offset // 512, length // 512, wl.DISCARD, 0).ljust(512, b"\0")
    total = len(requests) if count is None else count
    path.write_bytes(struct.pack("<QQQI", magic, 1, total, sectorsize).ljust(512, b"\0") + body)
    return path


def qemu_log(tmp_path: Path, base: Path, commands: Sequence[str]) -> tuple[Path, Path]:
    """(log, device): qemu-io's `commands` on a qcow2 overlay of `base` through blklogwrites."""
    log, device = tmp_path / "writes.log", tmp_path / "device.qcow2"
    log.touch()
    run("qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(base), str(device))
    # writeback, as a guest with its write cache on: in writethrough mode QEMU
    # follows each write with a flush, which the log shows as a flush entry.
    run("qemu-io", "-t", "writeback", "--image-opts",
        f"driver=blklogwrites,file.driver=qcow2,file.file.filename={device},"
        f"log.driver=file,log.filename={log},log-sector-size=512,log-super-update-interval=1",
        *[arg for command in commands for arg in ("-c", command)])
    return log, device


@pytest.fixture
def base(tmp_path: Path) -> Path:
    path = tmp_path / "base.raw"
    path.write_bytes(random.Random(1).randbytes(BASE_SIZE))
    return path


# --- the write log ----------------------------------------------------------

def test_the_parser_reads_what_qemu_writes(tmp_path: Path, base: Path) -> None:
    log, _ = qemu_log(tmp_path, base, ["write -P 0xab 4096 8192", "flush", "write -P 0xcd 0 512",
                                       "write -z 8192 1024", "discard 16384 4096"])
    entries = wl.read_log(log)
    assert wl.entry_count(log) == len(entries)
    assert [e.number for e in entries] == list(range(len(entries)))
    assert entries[1].is_flush and entries[-1].is_flush  # qemu-io flushes as it closes
    assert [(e.offset, e.length, e.flags) for e in entries if not e.is_flush] == [
        (4096, 8192, 0), (0, 512, 0), (8192, 1024, 0), (16384, 4096, wl.DISCARD)]
    writes = [e for e in entries if e.is_write]
    assert [wl.read_data(log, e) for e in writes] == [b"\xab" * 8192, b"\xcd" * 512, bytes(1024)]
    discard = next(e for e in entries if e.is_discard)
    assert not discard.is_write and discard.end == 16384 + 4096
    # A discard has no data in the log: the next header follows its own.
    assert entries[discard.number + 1].data_at == discard.data_at + 512


def test_a_log_without_a_superblock_yet_counts_no_entries(tmp_path: Path) -> None:
    log = tmp_path / "empty.log"
    log.touch()
    assert wl.entry_count(log) == 0
    with pytest.raises(HarnessError, match="no superblock yet"):
        wl.read_log(log)


@pytest.mark.parametrize("case, match", [
    ("missing", "No such file"),
    ("short", "shorter than its 28-byte superblock"),
    ("magic", "not a blklogwrites log"),
    ("sectorsize", "log sector size 4096, only 512"),
    ("truncated", "truncated: 2 of 3 entries read"),
    ("past-end", "entry 1's data ends at byte 3072, past the end of the file at byte 2560"),
])
def test_a_bad_log_is_one_line_saying_what_is_wrong(tmp_path: Path, case: str, match: str) -> None:
    log = tmp_path / "bad.log"
    two = [("w", 0, b"x" * 512), ("w", 512, b"y" * 1024)]
    if case == "short":
        log.write_bytes(b"\x01" * 10)
    elif case == "magic":
        write_log(log, two, magic=0x1234)
    elif case == "sectorsize":
        write_log(log, two, sectorsize=4096)
    elif case == "truncated":
        write_log(log, two, count=3)
    elif case == "past-end":
        write_log(log, two)
        log.write_bytes(log.read_bytes()[:-512])
    with pytest.raises(HarnessError, match=match) as e:
        wl.read_log(log)
    assert "\n" not in str(e.value)
    if case in ("missing", "magic"):
        with pytest.raises(HarnessError):
            wl.entry_count(log)


def test_the_reader_reads_part_of_a_write(tmp_path: Path) -> None:
    log = write_log(tmp_path / "w.log", [("w", 512, b"a" * 512 + b"b" * 512), ("f",)])
    entries = wl.read_log(log)
    with wl.LogReader(log) as reader:
        assert reader.read(entries[0], 512) == b"b" * 512
        with pytest.raises(HarnessError, match="not a write"):
            reader.read(entries[1])
