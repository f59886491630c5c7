"""A disk image of one crash state: a qcow2 overlay on the disk the log began
from, with the writes the state keeps applied by one qemu-io process. The
overlay holds only what the writes changed; the base is never copied."""
from __future__ import annotations

import bisect
import json
import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import HarnessError
from ..scratch import scratch_dir
from .states import CrashState, check
from .writelog import LogEntry, LogReader


@dataclass(frozen=True)
class Piece:
    """A range of the device and what to put there: `source`, the byte of the
    log where its data starts, or a fill ("zero", "ff")."""
    offset: int
    length: int
    source: int | None = None
    fill: str = ""

    @property
    def end(self) -> int:
        return self.offset + self.length

    def part(self, start: int, stop: int) -> Piece:
        source = None if self.source is None else self.source + start - self.offset
        return Piece(start, stop - start, source, self.fill)


def pieces(state: CrashState, entries: Sequence[LogEntry]) -> list[Piece]:
    """The writes `state` leaves on the medium, as disjoint pieces in device
    order: a later write's range is cut out of every earlier one, so a late
    state rewrites each byte once, not once per write to it."""
    check(state, entries)
    applied = []
    lost = set(state.dropped)
    for i, entry in enumerate(entries[:state.upto]):
        # A discard leaves the data as it was: a disk may or may not zero a
        # discarded range. Ours run with discard=off, so logs have none.
        if not entry.is_write or i in lost:
            continue
        if i != state.torn:
            applied.append(Piece(entry.offset, entry.length, entry.data_at))
            continue
        applied.append(Piece(entry.offset, state.torn_at, entry.data_at))
        if state.tail != "old":
            applied.append(Piece(entry.offset + state.torn_at, entry.length - state.torn_at,
                                 fill=state.tail))
    kept = []
    starts: list[int] = []  # the ranges later pieces cover: sorted, disjoint, merged
    ends: list[int] = []
    for piece in reversed(applied):
        at = piece.offset
        k = bisect.bisect_right(ends, at)
        while at < piece.end:
            stop = starts[k] if k < len(starts) else piece.end
            if stop > at:
                kept.append(piece.part(at, min(stop, piece.end)))
            if k == len(starts):
                break
            at = max(at, ends[k])
            k += 1
        lo = bisect.bisect_left(ends, piece.offset)
        hi = bisect.bisect_right(starts, piece.end)
        merged_start = min([piece.offset, *starts[lo:hi]])
        merged_end = max([piece.end, *ends[lo:hi]])
        starts[lo:hi] = [merged_start]
        ends[lo:hi] = [merged_end]
    kept.sort(key=lambda p: p.offset)
    return kept


def _run(args: list[str], what: str) -> None:
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        lines = (result.stderr.strip() or result.stdout.strip() or "no message").splitlines()
        raise HarnessError(f"{what} failed: {lines[-1]}")


def _format(base: Path) -> str:
    result = subprocess.run(["qemu-img", "info", "--output=json", str(base)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        lines = (result.stderr.strip() or "no message").splitlines()
        raise HarnessError(f"base image {base}: {lines[-1]}")
    return str(json.loads(result.stdout)["format"])


def _copy(src: int, offset: int, length: int, path: Path) -> None:
    """`length` bytes of the log from `offset` into a file of their own: qemu-io
    reads a write's data from the start of a file."""
    with open(path, "wb") as out:
        while length:
            sent = os.sendfile(out.fileno(), src, offset, length)
            if sent == 0:
                raise HarnessError(f"the write log ends before byte {offset + length}: "
                                   f"it changed since it was read")
            offset += sent
            length -= sent


def materialize(state: CrashState, entries: Sequence[LogEntry], log_path: Path,
                base: Path, out: Path) -> Path:
    """`out`, a qcow2 overlay on `base` (raw or qcow2) holding the disk as
    `state` leaves it. On failure no `out` is left."""
    base, out = Path(base).resolve(), Path(out)
    if out.resolve() == base:
        raise HarnessError(f"crash state image {out} would replace its base: choose another path")
    plan = pieces(state, entries)
    base_format = _format(base)
    room = sum(p.length for p in plan if p.source is not None)
    # Not next to `out`, whose path may have blanks: qemu-io splits a command at them.
    # The writes' data waits for qemu-io in memory when there is room for it.
    spool = scratch_dir(room)
    with tempfile.TemporaryDirectory(prefix="brownout-state-", dir=spool) as tmp, \
            LogReader(log_path) as reader:
        commands = []
        for n, piece in enumerate(plan):
            if piece.source is not None:
                data = Path(tmp) / str(n)
                _copy(reader.fileno(), piece.source, piece.length, data)
                how = f"-s {data}"
            else:
                how = "-z" if piece.fill == "zero" else "-P 0xff"
            commands += ["-c", f"write -q {how} {piece.offset} {piece.length}"]
        try:
            _run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", base_format,
                  "-b", str(base), str(out)], f"qemu-img create {out} on {base}")
            if commands:
                _run(["qemu-io", "-f", "qcow2", str(out), *commands],
                     f"qemu-io writing crash state {state.token()} to {out}")
        except BaseException:
            out.unlink(missing_ok=True)
            raise
    return out
