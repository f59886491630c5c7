"""Crash states of a recorded disk life, planned and made ready to power on.

The life (life.py) is recorded once per method and payload under
build/records/life/, and a copy is kept in the cache for other clones. A life
holds the bytes the update wrote onto the method's pristine disk, so it is
taken only on the very builds of the images it was recorded on (load_life):
a rebuild of the same inputs is not byte for byte the same. A state names
which of its writes reached the medium
(states.py); it is made as a qcow2 overlay on the method's pristine disk only
when its trial runs, and removed with the trial's disk.
"""
from __future__ import annotations

import json
import logging
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .. import HarnessError
from ..checks.device import Partition, partitions, pristine_disk
from ..files import locked, replace_copy
from ..images import BUILD, CACHE
from ..methods import get as get_method, images_builds, images_key
from .life import FIRMWARE, PLACEMENT, PlacedEntry, life_paths, record_life
from .materialize import materialize
from .states import CrashState, enumerate_states, fingerprints, parse_token, unique
from .writelog import SECTOR, LogEntry, LogReader, read_log

LIFE = BUILD / "records" / "life"
KEPT_LIVES = CACHE / "lives"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Life:
    method: str
    payload: str
    client: str
    log: Path
    entries: list[LogEntry]
    placed: list[PlacedEntry]

    def where(self, state: CrashState) -> PlacedEntry:
        """Where power went: the last write the state issued (the torn one, if any)."""
        number = state.torn if state.torn is not None else max(state.upto - 1, 0)
        return self.placed[number]

    def point(self, state: CrashState) -> dict[str, str]:
        """The journal's record of the state, as a syscall cut's marker fields would be."""
        at = self.where(state)
        entry = self.entries[at.number]
        return {"model": "storage", "kind": state.kind, "state": state.describe(), "index": str(at.number),
                "phase": at.phase, "partition": at.partition or "-", "boot": str(at.boot), "stage": at.stage,
                "offset": str(entry.offset), "len": str(entry.length)}


def load_life(method: str, payload: str, directory: Path = LIFE, client: str = "safe") -> Life:
    log_path, index_path = life_paths(method, payload, directory, client)
    hint = f"run './brownout record --model storage --method {method}" + \
        ("'" if client == "safe" else f" --client {client}'")
    if not index_path.exists() or not log_path.exists():
        raise HarnessError(f"no recorded disk life of {method} {payload} at {log_path}: {hint}")
    try:
        index = json.loads(index_path.read_text())
        header = index["life"]
        placed = [PlacedEntry(**p) for p in index["entries"]]
    except (ValueError, KeyError, TypeError):
        raise HarnessError(f"{index_path} is not a brownout disk life: {hint}") from None
    if header.get("images") != images_key(method, client):
        raise HarnessError(f"{index_path} was recorded on other images than the ones built now: {hint} again")
    if header.get("builds") != images_builds(method, client):
        raise HarnessError(f"{index_path} was recorded on other builds of the images than the ones built now "
                           f"(a build is not byte for byte reproducible): {hint} again")
    if header.get("placement") != PLACEMENT:
        raise HarnessError(f"{index_path} places its entries another way than this brownout does: {hint} again")
    entries = read_log(log_path)
    if len(entries) != len(placed):
        raise HarnessError(f"{log_path} has {len(entries)} entries, its index {len(placed)}: {hint} again")
    return Life(method, payload, client, log_path, entries, placed)


def ensure_life(method: str, payload: str = "v2", directory: Path = LIFE, client: str = "safe",
                kept: Path = KEPT_LIVES) -> Life:
    """The recorded life, taken from `kept` or else recorded first where none
    fits the images built now. Under a lock: parallel workers record it once,
    and never interleave a log with another recording's index."""
    with locked(directory, f"{method}-{payload}-{client}"):
        try:
            return load_life(method, payload, directory, client)
        except HarnessError as e:
            missing = e
        if _take_kept_life(method, payload, directory, client, kept):
            return load_life(method, payload, directory, client)
        log.info("%s; recording it now", missing)
        record_life(method, payload, directory, client=client)
        keep_life(method, payload, directory, client, kept)
        return load_life(method, payload, directory, client)


def keep_life(method: str, payload: str, directory: Path = LIFE, client: str = "safe",
              kept: Path = KEPT_LIVES) -> None:
    """A copy of the life in `directory` for other clones; failing to keep it
    costs them a recording."""
    try:
        # The kept pair (log, index) is written and read by one clone at a time.
        with locked(kept, f"{method}-{payload}-{client}"):
            _copy_life(method, payload, client, directory, kept)
    except OSError as e:
        log.warning("disk life of %s %s recorded, but not kept for other clones (%s)", method, payload, e)


def _copy_life(method: str, payload: str, client: str, source: Path, target: Path) -> None:
    """The life in `source` into `target`, its log first and its index last: a
    log without its index is no life."""
    for path, copy in zip(life_paths(method, payload, source, client), life_paths(method, payload, target, client)):
        replace_copy(path, copy)


def _take_kept_life(method: str, payload: str, directory: Path, client: str, kept: Path) -> bool:
    """Put the life kept for other clones in `directory` if it fits the images built now."""
    try:
        with locked(kept, f"{method}-{payload}-{client}"):
            load_life(method, payload, kept, client)
            _copy_life(method, payload, client, kept, directory)
    except (HarnessError, OSError):
        return False
    log.info("%s %s's disk life taken from %s, recorded there on these very builds", method, payload, kept)
    return True


def prepare(method: str, payload: str, token: str, run_dir: Path,
            client: str = "safe") -> tuple[Path, dict[str, str]]:
    """The state's disk (an overlay on the pristine disk, in run_dir) and its journal record."""
    life = load_life(method, payload, client=client)
    state = parse_token(token)
    if state.upto > len(life.entries):
        raise HarnessError(f"state {token}: the recorded life has only {len(life.entries)} entries")
    run_dir.mkdir(parents=True, exist_ok=True)
    disk = materialize(state, life.entries, life.log, pristine_disk(method, client),
                       run_dir / "crash-state.qcow2")
    return disk, life.point(state)


@dataclass(frozen=True)
class PlannedState:
    state: CrashState
    phase: str
    same_as: int          # other states that leave the same disk, judged by this one
    same_kinds: tuple[tuple[str, int], ...] = ()   # those states per kind (prefix, dropped, torn)


def every_state(life: Life, seed: int) -> list[CrashState]:
    volatile = {p.number for p in life.placed if p.volatile}
    return enumerate_states(life.entries, volatile=lambda e: e.number in volatile, seed=seed)


def equivalence_keys(life: Life, states: list[CrashState],
                     layout: dict[str, Partition] | None = None) -> dict[CrashState, str]:
    """Equal for states judged once for all: states that leave the same disk;
    and, for a method with a target slot, states whose env is one the life had
    before any env named that slot first (so no boot reads it) and that differ
    only in that slot, which the update rewrites before it is ever booted."""
    disk = fingerprints(life.entries, states, life.log)
    method = get_method(life.method)
    if method.target_slot is None:
        return {s: f"disk:{disk[s]}" for s in states}
    target = method.target_slot
    layout = layout or {p.name: p for p in partitions(life.method)}
    env, slot = (_sectors(layout[name]) for name in ("env", target.partition))
    env_only = fingerprints(life.entries, states, life.log, ignored=((0, env[0]), (env[1], 1 << 62)))
    not_slot = fingerprints(life.entries, states, life.log, ignored=(slot,))
    naming = _first_env_naming(life, target.named_by)
    blind_envs = {env_only[s] for s in states if s.kind == "prefix" and s.upto <= naming}
    return {s: f"slot-blind:{not_slot[s]}" if env_only[s] in blind_envs else f"disk:{disk[s]}"
            for s in states}


def _sectors(partition: Partition) -> tuple[int, int]:
    return partition.offset // SECTOR, (partition.offset + partition.size) // SECTOR


def _first_env_naming(life: Life, named_by: str) -> int:
    """The first env write that holds `named_by` (the life's length if none)."""
    wanted = named_by.encode()
    with LogReader(life.log) as reader:
        for placed, entry in zip(life.placed, life.entries):
            if placed.partition == "env" and entry.is_write and wanted in reader.read(entry):
                return placed.number
    return len(life.entries)


def plan_states(life: Life, cuts: str, seed: int, entries: range | None = None) -> list[PlannedState]:
    """Every distinct crash state of the life (`cuts` == 'all'), or every state in
    the firmware's writes and a seeded sample of `cuts` distinct states per other
    phase. With `entries`, only the states whose power went within those log
    entries, and the firmware's. Equivalent states (equivalence_keys) are judged once."""
    states = every_state(life, seed)
    distinct = unique(states, equivalence_keys(life, states))
    by_phase: dict[str, list[PlannedState]] = {}
    for state, same in distinct:
        at = life.where(state)
        if entries is not None and at.phase != FIRMWARE and at.number not in entries:
            continue
        kinds = tuple(sorted(Counter(s.kind for s in same).items()))
        by_phase.setdefault(at.phase, []).append(PlannedState(state, at.phase, len(same), kinds))
    rng = random.Random(seed)
    planned: list[PlannedState] = []
    for phase, members in by_phase.items():
        if cuts != "all" and phase != FIRMWARE and len(members) > int(cuts):
            members = sorted(rng.sample(members, int(cuts)), key=lambda p: (p.state.upto, p.state.token()))
        planned += members
    return sorted(planned, key=lambda p: (p.state.upto, p.state.token()))


def summarize_life(life: Life) -> str:
    """One line per boot and phase: entries, flushes, bytes; what the log holds."""
    rows: dict[tuple[int, str], list[int]] = {}
    for placed, entry in zip(life.placed, life.entries):
        row = rows.setdefault((placed.boot, placed.phase), [0, 0, 0])
        row[0] += 1
        row[1] += entry.is_flush
        row[2] += entry.length
    lines = [f"disk life of {life.method} {life.payload}: {len(life.entries)} entries in {life.log}"]
    lines += [f"  boot {boot} {phase}: {n} entries, {flushes} flushes, {size / 2 ** 20:.1f} MiB"
              for (boot, phase), (n, flushes, size) in rows.items()]
    return "\n".join(lines)


def summarize_plan(life: Life, planned: list[PlannedState]) -> str:
    kinds: dict[str, int] = {}
    for p in planned:
        kinds[p.state.kind] = kinds.get(p.state.kind, 0) + 1
    same = sum(p.same_as for p in planned)
    return (f"{len(planned)} distinct crash states of {life.method}'s disk life to judge "
            f"({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}; "
            f"{same} more states leave the same disk as one of them, or one that differs only "
            f"in a slot no boot reads)")
