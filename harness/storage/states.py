"""The crash states a power cut can leave on a disk, from its write log, the
way CrashMonkey (Mohan et al., OSDI 2018) enumerates them:

- prefix: every write issued so far reached the medium (one state after each
  write; a flush changes nothing on the medium by itself);
- dropped: power went just before a flush completed, and some of the writes
  since the previous flush were still in the disk's volatile cache and lost;
- torn: power went during a write, and only its first sectors reached the
  medium; the rest holds its old data, zeroes or 0xff, as disks differ there.

Every state has a token (`prefix:123`, `dropped:130:120+121`,
`torn:57:4096:zero`) that a journal or a command line can carry, and a
fingerprint of the device contents it leaves, so that states leaving the same
bytes are tried once.
"""
from __future__ import annotations

import hashlib
import itertools
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import HarnessError
from .writelog import SECTOR, LogEntry, LogReader

KINDS = ("prefix", "dropped", "torn")
TAILS = ("old", "zero", "ff")
_TAIL_WORDS = {"old": "tail left as it was", "zero": "tail zeroed", "ff": "tail filled with 0xff"}
_TOKEN = re.compile(r"prefix:(?P<upto>\d+)"
                    r"|dropped:(?P<before>\d+):(?P<lost>\d+(?:\+\d+)*)"
                    r"|torn:(?P<entry>\d+):(?P<at>\d+):(?P<tail>old|zero|ff)")


@dataclass(frozen=True)
class CrashState:
    """Entries [0, upto) were issued before the power went; of them, `dropped`
    never reached the medium and `torn` (the last one) reached it only for its
    first `torn_at` bytes, the rest of its range holding `tail`."""
    kind: str
    upto: int
    dropped: tuple[int, ...] = ()
    torn: int | None = None
    torn_at: int = 0
    tail: str = ""

    def __post_init__(self) -> None:
        problem = self._problem()
        if problem:
            raise HarnessError(f"invalid crash state {self!r}: {problem}")

    def _problem(self) -> str:
        if self.kind not in KINDS:
            return f"kind is one of {', '.join(KINDS)}"
        if self.upto < 0:
            return "upto counts entries, from 0"
        if self.kind != "dropped" and self.dropped:
            return "only a dropped state drops writes"
        if self.kind != "torn" and (self.torn is not None or self.torn_at or self.tail):
            return "only a torn state tears a write"
        if self.kind == "dropped":
            if not self.dropped or list(self.dropped) != sorted(set(self.dropped)):
                return "dropped is a non-empty ascending tuple of distinct entries"
            if self.dropped[-1] >= self.upto:
                return "a dropped write was issued before the cut (below upto)"
        if self.kind == "torn":
            if self.torn is None or self.torn != self.upto - 1:
                return "the torn write is the last one issued (upto - 1)"
            if self.torn_at <= 0 or self.torn_at % SECTOR:
                return f"torn_at is a positive multiple of {SECTOR}"
            if self.tail not in TAILS:
                return f"tail is one of {', '.join(TAILS)}"
        return ""

    def token(self) -> str:
        if self.kind == "prefix":
            return f"prefix:{self.upto}"
        if self.kind == "dropped":
            return f"dropped:{self.upto}:{'+'.join(map(str, self.dropped))}"
        return f"torn:{self.torn}:{self.torn_at}:{self.tail}"

    def describe(self) -> str:
        if self.kind == "prefix":
            return f"after write {self.upto - 1}" if self.upto else "before any write"
        if self.kind == "dropped":
            *rest, last = self.dropped
            which = f"writes {', '.join(map(str, rest))} and {last}" if rest else f"write {last}"
            return f"{which} lost from the cache (epoch ending at {self.upto})"
        return f"write {self.torn} torn at byte {self.torn_at}, {_TAIL_WORDS[self.tail]}"


def parse_token(text: str) -> CrashState:
    """The state a token names; HarnessError (one line, with examples) when malformed."""
    m = _TOKEN.fullmatch(text)
    example = "e.g. prefix:123, dropped:130:120+121 or torn:57:4096:zero"
    if m is None:
        raise HarnessError(f"malformed crash state '{text}': {example}")
    try:
        if m["upto"] is not None:
            return CrashState("prefix", int(m["upto"]))
        if m["before"] is not None:
            lost = [int(n) for n in m["lost"].split("+")]
            if len(set(lost)) != len(lost):
                raise HarnessError("a write is dropped twice")
            return CrashState("dropped", int(m["before"]), tuple(sorted(lost)))
        entry = int(m["entry"])
        return CrashState("torn", entry + 1, torn=entry, torn_at=int(m["at"]), tail=m["tail"])
    except HarnessError as e:
        raise HarnessError(f"malformed crash state '{text}': {e}; {example}") from None


def epochs(entries: Sequence[LogEntry]) -> list[range]:
    """The log cut after each flush: each range holds the entries since the
    previous flush and the flush itself; the writes after the last flush, if
    any, make a last range without one."""
    ranges = []
    start = 0
    for i, entry in enumerate(entries):
        if entry.is_flush:
            ranges.append(range(start, i + 1))
            start = i + 1
    if start < len(entries):
        ranges.append(range(start, len(entries)))
    return ranges


def check(state: CrashState, entries: Sequence[LogEntry]) -> None:
    """HarnessError when `state` cannot come from this log (a state of another
    log, or a token typed by hand)."""
    def fail(why: str) -> HarnessError:
        return HarnessError(f"crash state {state.token()} does not fit this log of "
                            f"{len(entries)} entries: {why}")

    if state.upto > len(entries):
        raise fail("it cuts after the end")
    if state.dropped:
        flushes = [i for i in range(state.dropped[0], state.upto) if entries[i].is_flush]
        if flushes:
            raise fail(f"flush {flushes[-1]} completed before the cut, so the writes "
                       f"before it were on the medium")
        if not all(entries[i].is_write for i in state.dropped):
            raise fail("it drops an entry that is not a write")
    if state.torn is not None:
        entry = entries[state.torn]
        if not entry.is_write or state.torn_at >= entry.length:
            raise fail(f"entry {state.torn} is not a write longer than {state.torn_at} bytes")


def _subsets(lost: list[int], count: int, rng: random.Random) -> list[tuple[int, ...]]:
    """Up to `count` distinct subsets of at least two of `lost`: all of them
    when there are that few, else drawn at random (size first, then members)."""
    n = len(lost)
    if n < 2 or count <= 0:
        return []
    if 2 ** n - n - 1 <= count:
        return [c for k in range(2, n + 1) for c in itertools.combinations(lost, k)]
    picked: list[tuple[int, ...]] = []
    while len(picked) < count:
        pick = tuple(sorted(rng.sample(lost, rng.randint(2, n))))
        if pick not in picked:
            picked.append(pick)
    return picked


def _tear_points(length: int, count: int) -> list[int]:
    """Up to `count` of the 512-byte boundaries inside a write of `length`
    bytes: all when there are that few, else spread evenly from the first to
    the last."""
    inner = length // SECTOR - 1
    if count <= 0 or inner <= 0:
        return []
    if inner <= count:
        picks = list(range(1, inner + 1))
    elif count == 1:
        picks = [1 + (inner - 1) // 2]
    else:
        picks = [1 + round(t * (inner - 1) / (count - 1)) for t in range(count)]
    return [p * SECTOR for p in picks]


def enumerate_states(entries: Sequence[LogEntry], *, volatile: Callable[[LogEntry], bool],
                     seed: int, subsets: int = 8, tears_per_write: int = 4) -> list[CrashState]:
    """The crash states of a log: a prefix after each write; for each epoch,
    each of its volatile writes dropped alone and up to `subsets` random sets
    of them (the same for the same seed); each write over one sector torn at
    up to `tears_per_write` sector boundaries, with each tail. Ordered by upto,
    then kind (prefix, dropped, torn)."""
    states = [CrashState("prefix", 0)]
    states += [CrashState("prefix", i + 1) for i, e in enumerate(entries) if e.is_write]
    for index, epoch in enumerate(epochs(entries)):
        # The cut comes just before the epoch's flush completes: every write
        # of the epoch was issued, none is known to be on the medium.
        upto = epoch.stop - 1 if entries[epoch.stop - 1].is_flush else epoch.stop
        # Writes the disk took while its cache was off (U-Boot's, before
        # Linux turns the write cache on) went straight to the medium.
        lost = [i for i in range(epoch.start, upto) if entries[i].is_write and volatile(entries[i])]
        states += [CrashState("dropped", upto, (i,)) for i in lost]
        rng = random.Random(f"{seed}:{index}")
        states += [CrashState("dropped", upto, s) for s in _subsets(lost, subsets, rng)]
    for i, entry in enumerate(entries):
        if entry.is_write:
            states += [CrashState("torn", i + 1, torn=i, torn_at=at, tail=tail)
                       for at in _tear_points(entry.length, tears_per_write) for tail in TAILS]
    # A stable sort: within one upto and kind, the order they were made in.
    states.sort(key=lambda s: (s.upto, KINDS.index(s.kind)))
    return states


# A state's fingerprint is a set hash over the sectors it leaves written: the
# sum, modulo 2**128, of a 128-bit BLAKE2b of each written sector's number and
# content. A write changes it by the difference of its sectors' hashes, so a
# state costs what its own sectors cost, never the size of the disk. A sector
# no write touched adds nothing; one written with the bytes the base image has
# counts as written, so two states that differ only there keep apart (a state
# run once more than needed, never two different ones merged). Two different
# sector sets collide with probability about 2**-128 per pair of states:
# negligible for thousands of states.
_MOD = 1 << 128
_ZEROES = bytes(SECTOR)
_ONES = b"\xff" * SECTOR


# Sectors a fingerprint leaves out, as [start, stop) sector ranges.
Ignored = tuple[tuple[int, int], ...]


def _hashes(first: int, data: bytes | memoryview, ignored: Ignored = ()) -> list[int]:
    view = memoryview(data)
    return [0 if any(lo <= first + n < hi for lo, hi in ignored) else
            int.from_bytes(hashlib.blake2b(view[at:at + SECTOR], digest_size=16,
                                           salt=(first + n).to_bytes(16, "little")).digest(), "little")
            for n, at in enumerate(range(0, len(view), SECTOR))]


def _running_sums(values: Iterable[int]) -> list[int]:
    return [0, *itertools.accumulate(values)]


def fingerprints(entries: Sequence[LogEntry], states: Iterable[CrashState],
                 log_path: Path, ignored: Ignored = ()) -> dict[CrashState, str]:
    """A digest of the device contents each state leaves: equal for two states
    that leave every sector the same (see the set hash above), the `ignored`
    sectors left out."""
    wanted = list(dict.fromkeys(states))
    for state in wanted:
        check(state, entries)
    # Where each state is judged: a prefix or dropped state on the disk as the
    # first `upto` entries leave it, a torn one just before its torn write.
    at: dict[int, list[CrashState]] = {}
    for state in wanted:
        at.setdefault(state.upto - 1 if state.kind == "torn" else state.upto, []).append(state)
    result: dict[CrashState, str] = {}
    if not wanted:
        return result
    last = max(at)
    current: dict[int, int] = {}    # sector -> hash of its content now
    before: dict[int, int] = {}     # sector -> hash at the epoch's start (0: untouched)
    written: dict[int, list[int]] = {}  # entry -> its sectors' hashes, this epoch
    epoch_start = 0
    total = 0
    with LogReader(log_path) as reader:
        for i in range(last + 1):
            entry = entries[i] if i < len(entries) else None
            new = (_hashes(entry.offset // SECTOR, reader.read(entry), ignored)
                   if entry is not None and entry.is_write else [])
            here = at.get(i, [])
            torn = [state for state in here if state.kind == "torn"]
            deltas = _torn_deltas(torn, entry, new, current, ignored) if entry is not None and torn else {}
            for state in here:
                if state.kind == "dropped":
                    deltas[state] = _dropped_delta(state, entries, epoch_start, current,
                                                   before, written)
                result[state] = f"{(total + deltas.get(state, 0)) % _MOD:032x}"
            if entry is None:
                break
            if entry.is_flush:
                before.clear()
                written.clear()
                epoch_start = i + 1
            if new:
                first = entry.offset // SECTOR
                for n, h in enumerate(new):
                    old = current.get(first + n, 0)
                    before.setdefault(first + n, old)
                    current[first + n] = h
                    total += h - old
                written[i] = new
    return result


def _torn_deltas(states: list[CrashState], entry: LogEntry, new: list[int],
                 current: dict[int, int], ignored: Ignored) -> dict[CrashState, int]:
    """What each tear of one write adds to the sum: its head's new sectors,
    and its tail's pattern unless the tail keeps the old content."""
    first = entry.offset // SECTOR
    old = [current.get(first + n, 0) for n in range(len(new))]
    gain = _running_sums(h - o for h, o in zip(new, old))
    patterns = {"zero": _ZEROES, "ff": _ONES}
    tails: dict[str, list[int]] = {}
    deltas = {}
    for state in states:
        keep = state.torn_at // SECTOR
        deltas[state] = gain[keep]
        if state.tail in patterns:
            if state.tail not in tails:
                filled = _hashes(first, patterns[state.tail] * len(new), ignored)
                tails[state.tail] = _running_sums(h - o for h, o in zip(filled, old))
            deltas[state] += tails[state.tail][-1] - tails[state.tail][keep]
    return deltas


def _dropped_delta(state: CrashState, entries: Sequence[LogEntry], epoch_start: int,
                   current: dict[int, int], before: dict[int, int],
                   written: dict[int, list[int]]) -> int:
    """What the sum loses when the dropped writes never happened: each of
    their sectors goes back to the last kept write of the epoch to it, or to
    what it held when the epoch began."""
    lost = set(state.dropped)
    ranges = [(entries[d].offset // SECTOR, entries[d].end // SECTOR) for d in state.dropped]
    then = {s: before[s] for lo, hi in ranges for s in range(lo, hi)}
    for w in range(epoch_start, state.upto):
        if w in lost or w not in written:
            continue
        w_lo = entries[w].offset // SECTOR
        w_hi = w_lo + len(written[w])
        for lo, hi in ranges:
            for s in range(max(lo, w_lo), min(hi, w_hi)):
                then[s] = written[w][s - w_lo]
    return sum(then.values()) - sum(current[s] for s in then)


def unique(states: Iterable[CrashState],
           prints: dict[CrashState, str]) -> list[tuple[CrashState, list[CrashState]]]:
    """Each distinct device content once: the first state that leaves it, and
    the later states that leave the same bytes (often none)."""
    groups: dict[str, list[CrashState]] = {}
    for state in states:
        groups.setdefault(prints[state], []).append(state)
    return [(same[0], same[1:]) for same in groups.values()]
