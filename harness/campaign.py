"""Cut campaigns: record an update's cut points, plan a selection, run a trial per
point (pytest-xdist underneath), keep every result in a journal.

The record is tied to the images it was made from: a record from other images
is refused, since its point indices would address other syscalls. The journal
is JSON lines, appended and fsync'd per trial, so an interrupted campaign
resumes where it stopped.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from . import HarnessError, methods
from .images import BUILD, REPO, STEP_BY_NAME, built_key
from .trial import TrialResult, TrialSpec, record_points

PHASES = ("pull", "deploy", "bootloader")
EDGES = ("before", "after")
RECORDS = BUILD / "records"


@dataclass(frozen=True)
class PlannedCut:
    id: str
    method: str
    payload: str
    phase: str
    index: int
    edge: str
    client: str = "safe"

    @property
    def spec(self) -> str:
        return f"n={self.index},edge={self.edge}"

    def trial(self) -> TrialSpec:
        return TrialSpec(self.method, self.payload, cut=self.spec, client=self.client)


def images_key(method: str) -> dict[str, str | None]:
    return {step: built_key(STEP_BY_NAME[step]) for step in methods.get(method).record_steps}


def record_path(method: str) -> Path:
    return RECORDS / f"{method}.jsonl"


def record(method: str, payload: str = "v2") -> Path:
    points = record_points(TrialSpec(method, payload))
    if not points:
        raise HarnessError("the agent recorded no cut points")
    path = record_path(method)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        f.write(json.dumps({"record": {"method": method, "payload": payload, "images": images_key(method)}}) + "\n")
        for point in points:
            f.write(json.dumps(point) + "\n")
        f.flush()
        os.fsync(f.fileno())
    tmp.rename(path)
    return path


def load_record(method: str, path: Path | None = None) -> tuple[dict, list[dict]]:
    path = path or record_path(method)
    if not path.exists():
        raise HarnessError(f"no record of cut points at {path}: run './brownout record --method {method}'")
    try:
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        header = lines[0]["record"]
    except (ValueError, KeyError, IndexError):
        raise HarnessError(f"{path} is not a brownout record: run './brownout record --method {method}'") from None
    if header.get("method") != method:
        raise HarnessError(f"{path} records method '{header.get('method')}', not '{method}'")
    if header.get("images") != images_key(method):
        raise HarnessError(f"{path} was recorded on other images than the ones built now: "
                           f"run './brownout record --method {method}' again")
    return header, lines[1:]


def plan(method: str, payload: str, points: list[dict], cuts: str, seed: int,
         client: str = "safe") -> list[PlannedCut]:
    """Every bootloader point; for pull and deploy all points (`cuts` == 'all') or
    a sample of `cuts` (point, edge) pairs per phase, drawn with `seed`."""
    rng = random.Random(seed)
    planned: list[PlannedCut] = []
    for phase in PHASES:
        pairs = [(p["index"], edge) for p in points if p["phase"] == phase for edge in EDGES]
        if phase != "bootloader" and cuts != "all":
            pairs = sorted(rng.sample(pairs, min(int(cuts), len(pairs))))
        planned += [PlannedCut(f"{method}-{phase}-cut{index:03d}-{edge}" + ("" if client == "safe" else f"-{client}"),
                               method, payload, phase, index, edge, client)
                    for index, edge in pairs]
    return planned


def save_plan(planned: list[PlannedCut], path: Path) -> None:
    path.write_text(json.dumps([asdict(c) for c in planned]))


def load_plan(path: Path) -> list[PlannedCut]:
    return [PlannedCut(**c) for c in json.loads(path.read_text())]


class Journal:
    """JSON lines, one per trial, appended and fsync'd (file, then directory on creation)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path).resolve()

    def append(self, cut: PlannedCut | None, result: TrialResult, seed: int | None = None) -> None:
        entry = {"id": cut.id if cut else "", "seed": seed, "planned_phase": cut.phase if cut else "",
                 "time": time.time(), **result.as_dict()}
        new = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as f:
            f.write(json.dumps(entry) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if new:
            fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def entries(self) -> list[dict]:
        if not self.path.exists():
            return []
        out = []
        for n, line in enumerate(self.path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                # A line torn by an interruption: the trial is simply run again.
                print(f"brownout: journal {self.path} line {n} is incomplete; ignored", file=sys.stderr)
        return out

    def done(self) -> set[str]:
        return {e["id"] for e in self.entries() if e.get("id")}


def run(planned: list[PlannedCut], journal: Journal, seed: int, jobs: int, resume: bool,
        snapshots: bool = True) -> int:
    """Run the planned trials under pytest(-xdist); returns pytest's exit status.
    Trials start from snapshots (harness/snapshot.py) unless `snapshots` is false."""
    todo = [c for c in planned if not (resume and c.id in journal.done())]
    if resume:
        print(f"brownout: resuming: {len(planned) - len(todo)} of {len(planned)} trials already in {journal.path}")
    if not todo:
        return 0
    work = journal.path.with_suffix(".plan.json")
    work.parent.mkdir(parents=True, exist_ok=True)
    save_plan(todo, work)
    env = dict(os.environ, BROWNOUT_PLAN=str(work), BROWNOUT_JOURNAL=str(journal.path),
               BROWNOUT_SEED=str(seed), BROWNOUT_REQUIRE_IMAGES="1",
               BROWNOUT_SNAPSHOTS="1" if snapshots else "0")
    argv = [sys.executable, "-m", "pytest", "scenarios/test_cut_campaign.py", "-p", "no:cacheprovider",
            "-q", "-rN", f"--junitxml={journal.path.with_suffix('.junit.xml')}"]
    if jobs > 1:
        argv += ["-n", str(jobs)]
    return subprocess.run(argv, cwd=REPO, env=env).returncode


def summarize(entries: list[dict]) -> str:
    rows = Counter()
    for e in entries:
        phase = (e.get("cut") or {}).get("phase") or e.get("planned_phase") or "-"
        rows[(e["method"], e.get("client", "safe"), phase, outcome(e))] += 1
    lines = [f"  {'method':<6} {'client':<7} {'phase':<10} {'outcome':<22} trials"]
    for (method, client, phase, result), n in sorted(rows.items()):
        lines.append(f"  {method:<6} {client:<7} {phase:<10} {result:<22} {n}")
    return "\n".join(lines)


def outcome(entry: dict) -> str:
    verdicts = set(entry.get("verdicts", ()))
    if entry["final"] in ("missed", "bricked", "mixed"):
        return entry["final"]
    if {"atomic", "completes"} <= verdicts:
        return "atomic+completes"
    if "atomic" in verdicts:
        return "atomic, not completed"
    return f"not atomic ({entry['final']})"
