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
from harness.storage import materialize as mat
from harness.storage import states as st
from harness.storage import writelog as wl
from harness.storage.states import CrashState
from harness.storage.writelog import LogEntry

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


def raw_image(path: Path, tmp_path: Path) -> bytes:
    out = tmp_path / (path.name + ".raw")
    run("qemu-img", "convert", "-O", "raw", str(path), str(out))
    return out.read_bytes()


@pytest.fixture
def base(tmp_path: Path) -> Path:
    path = tmp_path / "base.raw"
    path.write_bytes(random.Random(1).randbytes(BASE_SIZE))
    return path


def written_sectors(state: CrashState, entries: Sequence[LogEntry], log: Path) -> dict[int, bytes]:
    """The sectors a state leaves written, by applying its writes one by one:
    the slow, obvious model the fingerprints and images are checked against."""
    sectors: dict[int, bytes] = {}
    for i, entry in enumerate(entries[:state.upto]):
        if not entry.is_write or i in state.dropped:
            continue
        data = wl.read_data(log, entry)
        if i == state.torn:
            fill = {"zero": b"\0", "ff": b"\xff", "old": b""}[state.tail]
            data = data[:state.torn_at] + fill * (entry.length - state.torn_at)
        for at in range(0, len(data), 512):
            sectors[entry.offset // 512 + at // 512] = data[at:at + 512]
    return sectors


def expected_image(base: Path, sectors: dict[int, bytes]) -> bytes:
    image = bytearray(base.read_bytes())
    for sector, data in sectors.items():
        image[sector * 512:(sector + 1) * 512] = data
    return bytes(image)


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


# --- crash states -----------------------------------------------------------

def entry(number: int, offset: int = 0, length: int = 512, flags: int = 0) -> LogEntry:
    return LogEntry(number, offset, length, flags, 512 * (number + 1))


def flush(number: int) -> LogEntry:
    return entry(number, 0, 0, wl.FLUSH)


# 0-1 U-Boot's writes (write-through), a flush, six of Linux's, a flush, one more.
ENTRIES = [entry(0), entry(1, 4096, 4096), flush(2),
           *[entry(n, 512 * n, 1024 if n % 2 else 512) for n in range(3, 9)], flush(9),
           entry(10, 0, 1024)]


def volatile(e: LogEntry) -> bool:
    return e.number >= 3


def test_epochs_end_at_each_flush_and_the_last_one_may_have_none() -> None:
    assert st.epochs(ENTRIES) == [range(0, 3), range(3, 10), range(10, 11)]
    assert st.epochs([flush(0), flush(1)]) == [range(0, 1), range(1, 2)]
    assert st.epochs([]) == []


def test_one_prefix_per_write_and_one_before_any() -> None:
    states = st.enumerate_states(ENTRIES, volatile=volatile, seed=1)
    prefixes = [s.upto for s in states if s.kind == "prefix"]
    writes = [e.number for e in ENTRIES if e.is_write]
    assert prefixes == [0, *[n + 1 for n in writes]]
    assert [s.upto for s in states] == sorted(s.upto for s in states)


def test_only_volatile_writes_are_dropped_and_only_before_their_flush() -> None:
    states = st.enumerate_states(ENTRIES, volatile=volatile, seed=1)
    dropped = [s for s in states if s.kind == "dropped"]
    assert {n for s in dropped for n in s.dropped} == {3, 4, 5, 6, 7, 8, 10}
    singles = [s for s in dropped if len(s.dropped) == 1]
    assert [(s.upto, s.dropped) for s in singles] == [
        (9, (3,)), (9, (4,)), (9, (5,)), (9, (6,)), (9, (7,)), (9, (8,)), (11, (10,))]
    sets = [s for s in dropped if len(s.dropped) > 1]
    # Six volatile writes in the middle epoch: 57 subsets of two or more, eight drawn.
    assert len(sets) == 8 and len(set(sets)) == 8 and all(s.upto == 9 for s in sets)
    # An epoch of write-through writes loses nothing.
    assert not [s for s in dropped if s.upto == 2]


def test_the_same_seed_draws_the_same_subsets_and_another_seed_others() -> None:
    def drawn(seed: int) -> list[CrashState]:
        return [s for s in st.enumerate_states(ENTRIES, volatile=volatile, seed=seed)
                if len(s.dropped) > 1]

    assert drawn(1) == drawn(1)
    assert drawn(1) != drawn(2)


def test_few_volatile_writes_give_every_subset() -> None:
    entries = [entry(0), entry(1, 512), entry(2, 1024), flush(3)]
    sets = [s.dropped for s in st.enumerate_states(entries, volatile=lambda e: True, seed=1)
            if len(s.dropped) > 1]
    assert sets == [(0, 1), (0, 2), (1, 2), (0, 1, 2)]


def test_tears_fall_on_sector_boundaries_inside_the_write() -> None:
    states = st.enumerate_states(ENTRIES, volatile=volatile, seed=1)
    torn = [s for s in states if s.kind == "torn"]
    # 4096 bytes: seven boundaries, four spread from first to last; 1024: one.
    assert sorted({s.torn_at for s in torn if s.torn == 1}) == [512, 1536, 2560, 3584]
    assert {s.torn_at for s in torn if s.torn in (3, 5, 7, 10)} == {512}
    assert not [s for s in torn if ENTRIES[s.torn or 0].length == 512]
    assert all(s.upto == (s.torn or 0) + 1 and s.torn_at % 512 == 0 for s in torn)
    assert [s.tail for s in torn if s.torn == 10] == ["old", "zero", "ff"]
    assert len(torn) == 3 * (4 + 4 * 1)
    every = st.enumerate_states(ENTRIES, volatile=volatile, seed=1, tears_per_write=9)
    assert [s.torn_at for s in every if s.torn == 1 and s.tail == "old"] == [512 * n for n in range(1, 8)]


def test_tokens_round_trip_and_say_what_the_state_is() -> None:
    for state in st.enumerate_states(ENTRIES, volatile=volatile, seed=3):
        assert st.parse_token(state.token()) == state
    assert st.parse_token("prefix:123").describe() == "after write 122"
    assert st.parse_token("prefix:0").describe() == "before any write"
    assert st.parse_token("dropped:130:120+121").describe() == \
        "writes 120 and 121 lost from the cache (epoch ending at 130)"
    assert st.parse_token("torn:57:4096:zero") == CrashState("torn", 58, torn=57, torn_at=4096, tail="zero")
    assert st.parse_token("torn:57:4096:zero").describe() == "write 57 torn at byte 4096, tail zeroed"


@pytest.mark.parametrize("text", ["", "prefix", "prefix:-1", "prefix:1:2", "dropped:5", "dropped:5:",
                                  "dropped:5:6", "dropped:5:1+1", "torn:3:100:zero", "torn:3:0:old",
                                  "torn:3:512:blue", "lost:3"])
def test_a_malformed_token_is_one_line_with_an_example(text: str) -> None:
    with pytest.raises(HarnessError) as e:
        st.parse_token(text)
    assert "\n" not in str(e.value) and "malformed crash state" in str(e.value) and "e.g." in str(e.value)


def test_a_state_that_does_not_fit_the_log_is_refused(tmp_path: Path) -> None:
    log = write_log(tmp_path / "w.log", [("w", 0, b"a" * 512)])
    for text, why in [("prefix:9", "after the end"), ("dropped:3:0", "flush 1 completed"),
                      ("torn:0:512:old", "not a write longer than 512")]:
        entries = [entry(0), flush(1), entry(2)]
        with pytest.raises(HarnessError, match=why):
            st.fingerprints(entries, [st.parse_token(text)], log)


# --- fingerprints -----------------------------------------------------------

A, B, C, Z = b"a" * 512, b"b" * 512, b"c" * 512, bytes(512)


def test_states_that_leave_the_same_bytes_share_a_fingerprint(tmp_path: Path) -> None:
    log = write_log(tmp_path / "w.log", [
        ("w", 0, A + A), ("f",),
        ("w", 0, A),           # 2: what sector 0 already holds
        ("w", 4096, B),        # 3
        ("w", 4096, C),        # 4: overwrites 3
        ("w", 8192, Z + Z),    # 5: zeroes
        ("f",)])
    entries = wl.read_log(log)
    p = st.parse_token
    prints = st.fingerprints(entries, [p(t) for t in (
        "prefix:0", "prefix:1", "prefix:3", "prefix:4", "prefix:6", "dropped:6:2", "dropped:6:3",
        "dropped:6:4", "dropped:6:3+4", "dropped:6:3+4+5", "torn:0:512:old", "torn:5:512:zero",
        "torn:5:512:old", "torn:5:512:ff")], log)

    def same(a: str, b: str) -> bool:
        return prints[p(a)] == prints[p(b)]

    assert same("dropped:6:2", "prefix:6")      # the lost write changed nothing
    assert same("dropped:6:3", "prefix:6")      # a later write covered it
    assert not same("dropped:6:4", "prefix:6")  # sector 8 holds b, not c
    assert same("dropped:6:3+4+5", "prefix:3")  # nothing of the epoch but the rewrite of a
    assert not same("dropped:6:3+4", "prefix:3")  # ... yet zeroes written are not untouched sectors
    assert same("torn:5:512:zero", "prefix:6")  # zeroes torn into zeroes
    assert not same("torn:5:512:old", "prefix:6") and not same("torn:5:512:ff", "prefix:6")
    assert not same("torn:0:512:old", "prefix:1")
    assert not same("prefix:0", "prefix:1") and not same("prefix:3", "prefix:4")
    pairs = st.unique([p("prefix:6"), p("dropped:6:2"), p("dropped:6:4"), p("dropped:6:3")], prints)
    assert pairs == [(p("prefix:6"), [p("dropped:6:2"), p("dropped:6:3")]), (p("dropped:6:4"), [])]


def test_fingerprints_are_equal_exactly_when_the_written_sectors_are(tmp_path: Path) -> None:
    rng = random.Random(5)
    requests: list[tuple] = []
    for _ in range(40):
        if rng.random() < 0.2:
            requests.append(("f",))
        else:
            data = b"".join(rng.choice([A, B, Z]) for _ in range(rng.randint(1, 4)))
            requests.append(("w", 512 * rng.randint(0, 12), data))
    log = write_log(tmp_path / "w.log", requests)
    entries = wl.read_log(log)
    states = st.enumerate_states(entries, volatile=lambda e: e.number % 3 != 0, seed=2)
    prints = st.fingerprints(entries, states, log)
    contents = {s: frozenset(written_sectors(s, entries, log).items()) for s in states}

    def partition(key: dict) -> set[frozenset[CrashState]]:
        groups: dict = {}
        for s in states:
            groups.setdefault(key[s], set()).add(s)
        return {frozenset(g) for g in groups.values()}

    assert partition(prints) == partition(contents)
    assert 1 < len(partition(prints)) < len(states)


# --- crash-state images -----------------------------------------------------

COMMANDS = ["write -P 0xab 4096 8192", "flush", "write -P 0xcd 0 512", "write -P 0xee 6144 4096",
            "flush", "write -z 1048576 2048", "write -P 0x11 2097152 65536", "write -P 0x22 2099200 1024"]


def test_each_kind_of_state_is_materialised_byte_for_byte(tmp_path: Path, base: Path) -> None:
    log, device = qemu_log(tmp_path, base, COMMANDS)
    entries = wl.read_log(log)
    assert "".join("F" if e.is_flush else "W" for e in entries) == "WFWWFWWWF"
    p = st.parse_token
    # Write 3 overlaps write 0, 5 writes zeroes, 7 overlaps 6.
    states = [p("prefix:9"), p("prefix:1"), p("prefix:4"), p("dropped:4:2+3"), p("dropped:8:5+7"),
              p("dropped:8:6"), *[p(f"torn:6:31744:{tail}") for tail in st.TAILS]]
    for n, state in enumerate(states):
        out = mat.materialize(state, entries, log, base, tmp_path / f"state{n}.qcow2")
        assert raw_image(out, tmp_path) == expected_image(base, written_sectors(state, entries, log)), \
            state.describe()
    # The last prefix is the disk the guest wrote: parser and replay agree with QEMU.
    assert raw_image(tmp_path / "state0.qcow2", tmp_path) == raw_image(device, tmp_path)


def test_a_write_covered_by_later_ones_is_not_written() -> None:
    entries = [entry(0, 0, 4096), entry(1, 1024, 1024), entry(2, 3072, 2048), entry(3, 0, 512)]
    plan = mat.pieces(CrashState("prefix", 4), entries)
    assert [(p.offset, p.length) for p in plan] == [(0, 512), (512, 512), (1024, 1024), (2048, 1024),
                                                    (3072, 2048)]
    # Each piece's data: where its write's data is in the log, plus how far into the write it starts.
    assert [p.source for p in plan] == [2048, 512 + 512, 1024, 512 + 2048, 1536]
    assert [(p.offset, p.length) for p in mat.pieces(CrashState("dropped", 4, (3,)), entries)] == [
        (0, 1024), (1024, 1024), (2048, 1024), (3072, 2048)]


def test_a_failed_materialise_is_one_line_and_leaves_no_image(tmp_path: Path, base: Path) -> None:
    log = write_log(tmp_path / "w.log", [("w", BASE_SIZE, A)])  # past the end of the disk
    out = tmp_path / "state.qcow2"
    with pytest.raises(HarnessError) as e:
        mat.materialize(CrashState("prefix", 1), wl.read_log(log), log, base, out)
    assert "qemu-io" in str(e.value) and "\n" not in str(e.value)
    assert not out.exists()
    with pytest.raises(HarnessError) as e:
        mat.materialize(CrashState("prefix", 1), wl.read_log(log), log, tmp_path / "none.raw", out)
    assert "\n" not in str(e.value) and not out.exists()
