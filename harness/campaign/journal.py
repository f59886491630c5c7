"""The journal: one typed entry per trial, written and read here alone.

A journal is JSON lines, appended and fsync'd per trial, so an interrupted
campaign resumes where it stopped. Each line is an `Entry`: the trial's
result (trial.TrialResult), which planned trial it was, and the grading every
consumer (campaign summary, report, evidence, results) reads from it: its
kind, its outcome, and why it failed its expectation. Lines of older shapes
(no `schema`) still load; their verdicts stand as recorded, without the
boot-by-boot evidence that grades a newer entry.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..errors import HarnessError
from ..images import source_commit
from ..methods import images_key
from ..trial.run import Measures, TrialResult, fault_model

log = logging.getLogger(__name__)

# Fields every journal line has: what tells a journal from any other JSON lines.
ENTRY_FIELDS = ("id", "method", "payload", "final", "verdicts", "measures", "reproduce")
# Trials that ended without a verdict: the harness could not finish them.
UNFINISHED = ("error", "timeout")
HAPPY_FINAL = "v2"
CLEAN = "atomic+completes"
AFTER_BROKEN = "after a broken boot"
COMMIT_UNDONE = "committed, then rolled back"
_MEASURES = {f.name for f in dataclasses.fields(Measures)}


@dataclass(frozen=True)
class Entry:
    id: str
    method: str
    payload: str
    final: str                   # v1 | v2 | v2-bad | mixed | bricked | missed | error | timeout
    verdicts: tuple[str, ...]
    measures: Measures
    reproduce: str
    seed: int | None = None
    planned_phase: str = ""
    recorded_kind: str = ""      # as planned: happy | rollback | refusal | downtime | cut
    time: float | None = None
    slot: str = ""
    cut_spec: str = ""
    cut: dict[str, str] | None = None
    client: str = "safe"
    notes: tuple[str, ...] = ()
    log_dir: str = ""
    started: str = "cold"
    dpkg: dict | None = None
    dpkg_rerun: dict | None = None
    mixed_roots: tuple[dict, ...] = ()
    boots: tuple[dict, ...] = ()
    anomalies: tuple[str, ...] = ()
    rollback: str | None = None
    refusal: str | None = None
    update_error: dict[str, str] | None = None
    lazy_writeback: bool = False
    start: str = "v1"            # the version the device ran when the update was offered
    equivalents: int = 0         # storage model: other crash states this trial's verdict stands for
    equivalent_kinds: dict[str, int] | None = None   # those states per kind (None: not recorded)
    timings: dict | None = None  # where the trial's host time went (trial/run.py TIMINGS)
    error: str = ""
    console_tail: str = ""
    # Not booted after its cut: the trial (id) whose cut left the same disk, and that disk's fingerprint.
    same_disk_as: dict[str, str] | None = None
    images: dict | None = None   # the image steps' keys the trial ran on
    commit: str = ""             # the harness's source commit ("+dirty" with uncommitted changes)
    schema: int | None = None    # None: a line of an older journal shape

    # -- reading and writing -------------------------------------------------

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Entry:
        missing = [k for k in ENTRY_FIELDS if k not in d]
        if missing or not isinstance(d.get("measures"), dict):
            raise HarnessError(f"lacks {', '.join(missing or ['measures'])}")
        m = d["measures"]
        try:
            measures = Measures(**{k: v for k, v in m.items() if k in _MEASURES})
        except TypeError as e:
            raise HarnessError(f"measures: {e}") from None
        known = {f.name for f in dataclasses.fields(cls)} - {"measures", "recorded_kind"}
        values = {k: v for k, v in d.items() if k in known}
        for k in ("verdicts", "notes", "mixed_roots", "boots", "anomalies"):
            if k in values:
                values[k] = tuple(values[k] or ())
        return cls(measures=measures, recorded_kind=d.get("kind") or "", **values)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["kind"] = d.pop("recorded_kind")
        return d

    @classmethod
    def of_trial(cls, cut_id: str, kind: str, planned_phase: str, result: TrialResult,
                 seed: int | None = None, at: float | None = None, images: dict | None = None,
                 commit: str = "", equivalents: int = 0,
                 equivalent_kinds: dict[str, int] | None = None) -> Entry:
        return cls.from_dict({"id": cut_id, "seed": seed, "planned_phase": planned_phase, "kind": kind,
                              "time": at, "images": images, "commit": commit, "equivalents": equivalents,
                              "equivalent_kinds": equivalent_kinds,
                              **result.as_dict()})

    # -- grading ---------------------------------------------------------------

    @property
    def legacy(self) -> bool:
        return self.schema is None

    @property
    def kind(self) -> str:
        """happy | rollback | refusal | downtime | cut: as planned, else from the trial."""
        if self.recorded_kind:
            return self.recorded_kind
        if self.cut_spec:
            return "cut"
        if self.payload == "v2-bad":
            return "rollback"
        if self.payload in ("v2-tampered", "v2-badsig"):
            return "refusal"
        return "happy"

    @property
    def phase(self) -> str:
        return (self.cut or {}).get("phase") or self.planned_phase or "-"

    @property
    def model(self) -> str:
        return fault_model(self.cut)

    @property
    def outcome(self) -> str:
        verdicts = set(self.verdicts)
        if self.final in ("missed", "bricked", *UNFINISHED):
            return self.final
        if "committed-rolled-back" in verdicts:
            return COMMIT_UNDONE
        # Whether the device's own re-run gets it out of a mixed root is what
        # separates a method that heals (in-place under apt) from one that stays broken.
        if self.final == "mixed":
            return "mixed, re-run completes" if "completes" in verdicts else "mixed, not completed"
        if {"atomic", "completes"} <= verdicts:
            # Reaching the old or new version is not enough when the device booted
            # something broken on the way (an older entry has no boots to tell).
            return f"{CLEAN} {AFTER_BROKEN}" if self.anomalies else CLEAN
        if "atomic" in verdicts:
            return "atomic, not completed"
        return f"not atomic ({self.final})"

    @property
    def failure(self) -> str | None:
        """Why the trial failed its expectation, or None when it met it."""
        k, final, verdicts = self.kind, self.final, set(self.verdicts)
        if final in UNFINISHED:
            return f"{final}: {self.error or 'no reason recorded'}"
        if "committed-rolled-back" in verdicts:
            return COMMIT_UNDONE
        if k == "cut":
            return None if self.outcome == CLEAN else self.outcome
        if k == "rollback":
            return None if "rolled-back" in verdicts else f"did not roll back (final {final})"
        if k == "refusal":
            return None if "refused" in verdicts else f"not refused (final {final})"
        if final != HAPPY_FINAL:
            return f"ended on {final}, not {HAPPY_FINAL}"
        if self.anomalies:
            return f"ended on {final} {AFTER_BROKEN}"
        return None


class Journal:
    """JSON lines, one per trial, appended and fsync'd (file, then directory on creation)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path).resolve()

    def append(self, entry: Entry) -> None:
        new = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as f:
            f.write(json.dumps(entry.to_dict()) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if new:
            fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def record(self, cut_id: str, kind: str, planned_phase: str, result: TrialResult,
               seed: int | None = None, equivalents: int = 0,
               equivalent_kinds: dict[str, int] | None = None) -> Entry:
        """Append the result of one trial, stamped with the time, the image keys and the
        source commit it ran on; returns its entry."""
        entry = Entry.of_trial(cut_id, kind, planned_phase, result, seed, time.time(),
                               images_key(result.method), source_commit(), equivalents, equivalent_kinds)
        self.append(entry)
        return entry

    def entries(self, quiet: bool = False) -> list[Entry]:
        """Every entry; a torn line (an interrupted append) is skipped, and said unless `quiet`."""
        if not self.path.exists():
            return []
        entries, torn = parse_journal(self.path.read_text())
        for n in torn if not quiet else ():
            print(f"brownout: journal {self.path} line {n} is incomplete; ignored", file=sys.stderr)
        return entries

    def done(self) -> set[str]:
        """Trials with a verdict; one that ended in error or timeout is run again on resume."""
        return {e.id for e in latest(self.entries()) if e.id and e.final not in UNFINISHED}


def latest(entries: Iterable[Entry]) -> list[Entry]:
    """One entry per trial id, the last written (a resumed campaign re-runs its
    errors and timeouts); entries without an id all stay."""
    entries = list(entries)
    last = {e.id: i for i, e in enumerate(entries) if e.id}
    return [e for i, e in enumerate(entries) if not e.id or last[e.id] == i]


def parse_journal(text: str) -> tuple[list[Entry], list[int]]:
    """The entries of a journal's text, and the numbers of lines that are no entry."""
    entries, torn = [], []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entries.append(Entry.from_dict(json.loads(line)))
        except (ValueError, HarnessError, AttributeError):
            torn.append(n)
    return entries, torn


def load_journal(path: Path) -> list[Entry]:
    """A journal's entries, or a clear error when `path` is missing or not a journal.
    Only the last line may be torn (an interrupted append); it is left out."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"no journal at {path}")
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise HarnessError(f"{path} is not a brownout journal (not text)") from None
    lines = text.rstrip("\n").splitlines()
    entries: list[Entry] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError:
            if n == len(lines) and entries:
                log.warning("journal %s: last line %d is incomplete; ignored", path, n)
                continue
            raise HarnessError(f"{path} is not a brownout journal: line {n} is not JSON") from None
        if not isinstance(raw, dict):
            raise HarnessError(f"{path} is not a brownout journal: entry {n} lacks {', '.join(ENTRY_FIELDS)}")
        try:
            entries.append(Entry.from_dict(raw))
        except HarnessError as e:
            raise HarnessError(f"{path} is not a brownout journal: entry {n} {e}") from None
    return entries


def merge(out: Path, sources: list[Path]) -> list[Entry]:
    """Join journals (shards) into `out`: one entry per id, the later source winning,
    ordered by time; written to a temporary file, fsync'd, renamed, directory fsync'd."""
    by_id: dict[str, Entry] = {}
    unnamed: list[Entry] = []     # trials without a planned cut have no id to merge on
    for source in sources:
        for entry in load_journal(source):
            if not entry.id:
                unnamed.append(entry)
                continue
            if entry.id in by_id:
                log.warning("trial %s appears twice; keeping the one from %s", entry.id, source)
            by_id[entry.id] = entry
    merged = sorted([*by_id.values(), *unnamed], key=lambda e: e.time or 0)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w") as f:
        f.writelines(json.dumps(e.to_dict()) + "\n" for e in merged)
        f.flush()
        os.fsync(f.fileno())
    tmp.rename(out)
    # The rename is durable only once the directory is.
    fd = os.open(out.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return merged
