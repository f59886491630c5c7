"""Cut campaigns: record an update's cut points, plan a selection, run a trial per
point (pytest-xdist underneath), keep every result in a journal.

The record is tied to the images it was made from: a record from other images
is refused, since its point indices would address other syscalls. A copy of
each record made is kept in the cache, where another clone whose images have
the same keys finds it instead of recording again. The
journal (harness/campaign/journal.py) keeps one typed entry per trial, so an
interrupted campaign resumes where it stopped.
"""
from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TextIO

from .. import HarnessError, methods
from ..trial import cutspec
from ..files import replace_copy
from ..images import BUILD, CACHE, REPO
from .journal import UNFINISHED, Entry, Journal
from ..methods import images_key
from ..checks.device import CLOCK_FORMAT, GUEST_CLOCK_ENV, guest_clock
from ..methods.base import CONFIRM, PULL
from ..trial.run import TrialResult, TrialSpec, record_parts
from ..trial.snapshots import FROM_KEPT, KEPT, TAKEN, kept_clock, origins

EDGES = ("before", "after")
RECORDS = BUILD / "records"
KEPT_RECORDS = CACHE / "records"
DEFAULT_TRIAL_TIMEOUT = 1200.0

log = logging.getLogger(__name__)


# Trials of a comparative campaign besides the cuts, per method: kind and payload.
SCENARIOS = (("happy", "v2"), ("rollback", "v2-bad"), ("refusal", "v2-tampered"), ("refusal", "v2-badsig"))


@dataclass(frozen=True)
class PlannedCut:
    """One planned trial: a cut at a recorded point, or (kind other than "cut") a
    scenario without a fault: happy, rollback, refusal, downtime."""
    id: str
    method: str
    payload: str
    phase: str
    index: int
    edge: str
    client: str = "safe"
    kind: str = "cut"
    group: str = ""              # trials that start from one snapshot
    snapshot: bool = False       # start from the group's snapshot (worth it from 3 trials on)
    hold_at: int = 0             # the snapshot holds at this point of its phase (0: its start)
    hold_phase: str = ""         # the phase the snapshot holds in ("": the cut's own)
    hold_index: int = 0          # the record's index of the point it holds at (0: a phase's start)
    rank: int = 0                # the point's place in its phase, from 1 (0: aim by index)
    state: str = ""              # a crash state of the disk's life (storage model) instead of a cut
    lazy_writeback: bool = False
    equivalents: int = 0         # storage model: other states this one's verdict stands for
    equivalent_kinds: tuple[tuple[str, int], ...] = ()   # those states per kind
    start: str = "v1"            # the version the device runs when the update is offered
    ms: float | None = None      # when the record reached the point, in ms from the update's start

    @property
    def spec(self) -> str | None:
        if self.kind != "cut" or self.state:
            return None
        if self.rank:
            return cutspec.phase_point(self.phase, self.rank, self.edge)
        return cutspec.point(self.index, self.edge)

    def trial(self) -> TrialSpec:
        return TrialSpec(self.method, self.payload, cut=self.spec, client=self.client, state=self.state or None,
                         lazy_writeback=self.lazy_writeback, start=self.start)


# The update a device takes from each start: v1's first update, v2's second,
# and v2 again after v2-bad was rolled back.
NEXT_PAYLOAD = {"v1": "v2", "v2": "v3", "v2-bad": "v2"}


def record_path(method: str, start: str = "v1") -> Path:
    return RECORDS / (f"{method}.jsonl" if start == "v1" else f"{method}-from-{start}.jsonl")


def record(method: str, start: str = "v1") -> Path:
    """Record the update's cut points, then (where the method has a confirm
    phase) those of the installed version's first confirmation: one run each."""
    payload = NEXT_PAYLOAD[start]
    spec = TrialSpec(method, payload, start=start)
    path = record_path(method, start)
    # The confirmation is recorded on the disk the recorded update left: no plain update before it.
    parts = ("update", "confirm") if CONFIRM in methods.get(method).phases else ("update",)
    recorded = record_parts(spec, parts, last_durations(path))
    points = recorded["update"][0]
    if not points:
        raise HarnessError("the agent recorded no cut points")
    durations = {part: seconds for part, (_, seconds) in recorded.items()}
    if "confirm" in recorded:
        # Numbered on from the update's, so a point's index names it alone.
        offset = max(p["index"] for p in points)
        points += [dict(p, index=p["index"] + offset) for p in recorded["confirm"][0]]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        f.write(json.dumps({"record": {"method": method, "payload": payload, "start": start,
                                       "phases": list(methods.get(method).phases), "seconds": durations,
                                       "images": images_key(method)}}) + "\n")
        for point in points:
            f.write(json.dumps(point) + "\n")
        f.flush()
        os.fsync(f.fileno())
    tmp.rename(path)
    _keep_record(path)
    return path


def _keep_record(path: Path) -> None:
    """A copy for other clones; failing to keep it costs them a record only."""
    try:
        replace_copy(path, KEPT_RECORDS / path.name)
    except OSError as e:
        log.warning("record %s made, but not kept for other clones (%s)", path, e)


def _take_kept_record(method: str, start: str) -> bool:
    """Put the record kept for other clones in place if it fits the images built now."""
    path = record_path(method, start)
    kept = KEPT_RECORDS / path.name
    try:
        load_record(method, kept, start)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        shutil.copyfile(kept, tmp)
        tmp.rename(path)
    except (HarnessError, OSError):
        return False
    log.info("campaign: %s's record taken from %s, made there on images of the same keys", method, kept)
    return True


def records(names: list[str], jobs: int, start: str = "v1") -> dict[str, list[dict]]:
    """Each method's recorded points; the methods without a record that fits
    the images are recorded first, `jobs` at a time (each record is one guest)."""
    points: dict[str, list[dict]] = {}
    missing: list[str] = []
    for name in names:
        try:
            points[name] = load_record(name, start=start)[1]
        except HarnessError as e:
            if _take_kept_record(name, start):
                points[name] = load_record(name, start=start)[1]
                continue
            log.info("campaign: %s; recording %s now", e, name)
            missing.append(name)
    if missing:
        # The long records (a time limit set for many points) start first: the
        # short ones fill the other workers meanwhile instead of one long
        # record running alone at the end.
        missing.sort(key=lambda name: -methods.get(name).record_timeout)
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            # list(): the first record that fails raises here, after the others end.
            paths = list(pool.map(lambda name: record(name, start), missing))
        points.update((name, load_record(name, path, start)[1]) for name, path in zip(missing, paths))
    return {name: points[name] for name in names}


def last_durations(path: Path) -> dict[str, float]:
    """How long the record at `path` took, per run (update, confirm): {} for none or an older one."""
    try:
        with open(path) as f:
            seconds = json.loads(f.readline())["record"].get("seconds", {})
        return {k: float(v) for k, v in seconds.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def load_record(method: str, path: Path | None = None, start: str = "v1") -> tuple[dict, list[dict]]:
    path = path or record_path(method, start)
    again = f"./brownout record --method {method}" + ("" if start == "v1" else f" --from {start}")
    if not path.exists():
        raise HarnessError(f"no record of cut points at {path}: run '{again}'")
    try:
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        header = lines[0]["record"]
    except (ValueError, KeyError, IndexError):
        raise HarnessError(f"{path} is not a brownout record: run '{again}'") from None
    if header.get("method") != method:
        raise HarnessError(f"{path} records method '{header.get('method')}', not '{method}'")
    if header.get("start", "v1") != start:
        raise HarnessError(f"{path} records the update from {header.get('start', 'v1')}, not from {start}")
    if header.get("images") != images_key(method):
        raise HarnessError(f"{path} was recorded on other images than the ones built now: "
                           f"run '{again}' again")
    if header.get("phases") != list(methods.get(method).phases):
        raise HarnessError(f"{path} records the phases {', '.join(header.get('phases') or ['the update alone'])}, "
                           f"not {', '.join(methods.get(method).phases)}: run '{again}' again")
    return header, lines[1:]


def plan(method: str, payload: str, points: list[dict], cuts: str, seed: int,
         client: str = "safe", every_bootloader_point: bool = True, start: str = "v1",
         phases: tuple[str, ...] | None = None) -> list[PlannedCut]:
    """Every bootloader point (unless told otherwise); for the other phases all
    points (`cuts` == 'all') or a sample of `cuts` (point, edge) pairs per phase,
    drawn with `seed`; only `phases` when given. Each cut is aimed by its place
    in its phase, so a phase after a download whose write count varies is still
    hit where planned."""
    rng = random.Random(seed)
    planned: list[PlannedCut] = []
    known = methods.get(method).phases
    unknown = [p for p in phases or () if p not in known]
    if unknown:
        raise HarnessError(f"{method} has no phase {', '.join(unknown)}; its phases: {', '.join(known)}")
    reached = {p["index"]: p["ms"] for p in points if isinstance(p.get("ms"), (int, float))}
    for phase in known:
        if phases and phase not in phases:
            continue
        in_phase = sorted(p["index"] for p in points if p["phase"] == phase)
        rank = {index: k for k, index in enumerate(in_phase, start=1)}
        pairs = [(index, edge) for index in in_phase for edge in EDGES]
        sampled = phase != "bootloader" or not every_bootloader_point
        if sampled and cuts != "all":
            pairs = sorted(rng.sample(pairs, min(int(cuts), len(pairs))))
        suffix = ("" if client == "safe" else f"-{client}") + ("" if start == "v1" else f"-from-{start}")
        planned += [PlannedCut(f"{method}-{phase}-cut{index:03d}-{edge}{suffix}",
                               method, payload, phase, index, edge, client, rank=rank[index], start=start,
                               ms=reached.get(index))
                    for index, edge in pairs]
    return planned


def plan_scenarios(method: str, downtime_runs: int) -> list[PlannedCut]:
    """Happy path, rollback, both refusals, and downtime runs up to `downtime_runs`
    plain updates in all (the happy path is the first of them)."""
    planned = [PlannedCut(f"{method}-{kind}" + (f"-{payload}" if kind == "refusal" else ""),
                          method, payload, "", 0, "", kind=kind) for kind, payload in SCENARIOS]
    planned += [PlannedCut(f"{method}-downtime{n}", method, "v2", "", 0, "", kind="downtime")
                for n in range(2, downtime_runs + 1)]
    return planned


SNAPSHOT_MIN = 3                 # a snapshot costs about one cold trial's update prefix
# One more snapshot's own cost: a boot, the save, a restore (about 3 s).
SNAPSHOT_MS = 3000.0
# A point traced under the agent, where the record gives no times (0.3-1.5 ms under TCG, by method).
POINT_MS = 0.5


def held_splits(indices: list[int], most: int, ms: list[float | None] | None = None) -> list[int]:
    """Where to split a set of cuts (their indices, in order) into runs of
    neighbouring points, each held at its first: the positions in `indices`
    where the later runs start, at most `most` - 1 of them. A trial traces the
    update from its run's first point to its own; each later run's snapshot
    traces it from the update's start to that first point, and costs
    SNAPSHOT_MS more. The time to reach a point is its recorded time (`ms`)
    where the record gives every one, else its index at POINT_MS a point, so
    a long stretch without points (a read-back, a checkout) counts for what it
    takes. Splits are added one at a time, each where it saves the most
    tracing, while one still saves more than it costs; never between the two
    edges of one point."""
    if ms is not None and all(t is not None for t in ms):
        reach = [float(t) for t in ms]      # type: ignore[arg-type]
    else:
        reach = [i * POINT_MS for i in indices]
    n = len(indices)
    starts = [0]
    while len(starts) < most:
        best, best_gain = None, 0.0
        for s in range(1, n):
            if indices[s] == indices[s - 1] or s in starts:
                continue
            a = max(k for k in starts if k < s)
            b = min((k for k in starts if k > s), default=n)
            # Trials s..b-1 trace from s instead of a; the new snapshot traces to s.
            gain = (b - s) * (reach[s] - reach[a]) - (reach[s] + SNAPSHOT_MS)
            if gain > best_gain:
                best, best_gain = s, gain
        if best is None:
            break
        starts = sorted(starts + [best])
    return starts[1:]


def group_cuts(planned: list[PlannedCut], jobs: int) -> list[PlannedCut]:
    """Groups of trials that start from one snapshot; a set of fewer than
    SNAPSHOT_MIN trials starts cold. Any worker runs any trial: the campaign's
    snapshots are shared (trial/snapshots.py).

    The pull phase's trials form one group per method, held where that phase
    starts (a machine saved mid-transfer loses its connections: snapshot.py).
    The later phases' cuts, each aimed by its place in its phase, form one set
    per method, in the order of the update: each group is a run of
    neighbouring points, held at its first point, in whichever phase that is.
    A trial traces the update only from that point to its own, so a group
    never pays for the points between two phases' cuts (an updater whose env
    writes come both before and after its slot copy) nor twice for one phase;
    the set is split, into at most one group per worker, only where a group's
    snapshot costs less than the tracing it saves, by the time the record
    says each point takes to reach (held_splits). The installed version's
    confirmation is one group, held where it starts, on the disk the update
    left at its reboot (start.py): its trials skip that version's boot. Cuts
    aimed by index (no place in a phase) are held where their phase starts."""
    sets: dict[tuple[str, ...], list[int]] = {}
    for i, c in enumerate(planned):
        if c.kind != "cut":
            continue
        after_pull = c.rank and c.phase not in (PULL, CONFIRM)
        sets.setdefault((c.method, c.client, c.start, "held") if after_pull
                        else (c.method, c.client, c.start, c.phase), []).append(i)
    out = list(planned)
    for (method, client, start, name), members in sets.items():
        members.sort(key=lambda i: planned[i].index)
        held = name == "held"
        if held:
            splits = held_splits([planned[i].index for i in members], max(1, min(jobs, len(members) // 4)),
                                 [planned[i].ms for i in members])
            bounds = [0, *splits, len(members)]
            groups = [members[a:b] for a, b in zip(bounds, bounds[1:])]
        else:
            groups = [members]
        suffix = "" if start == "v1" else f"-from-{start}"
        for g, group in enumerate(groups):
            if held:
                hold_phase, hold_at = planned[group[0]].phase, planned[group[0]].rank
            else:
                ranks = [planned[i].rank for i in group]
                hold_phase, hold_at = name, (min(ranks) if all(ranks) and name not in (PULL, CONFIRM) else 0)
            hold_index = planned[group[0]].index if hold_at else 0
            for i in group:
                snapshot = len(members) >= SNAPSHOT_MIN \
                    and not (planned[i].state or planned[i].lazy_writeback) and start == "v1"
                out[i] = replace(planned[i], group=f"{method}-{client}-{name}{suffix}-{g}", snapshot=snapshot,
                                 hold_at=hold_at if snapshot else 0, hold_phase=hold_phase if snapshot else "",
                                 hold_index=hold_index if snapshot else 0)
    return out


def snapshot_of(c: PlannedCut) -> str | None:
    """The snapshot a planned trial starts from (its update, phase and point), None for a cold one."""
    if c.kind != "cut" or not c.snapshot:
        return None
    return f"{c.method}-{c.payload}-{c.client}-{c.hold_phase or c.phase}-{c.hold_at}"


def dispatch_order(planned: list[PlannedCut]) -> list[PlannedCut]:
    """The order the workers take the trials in, each the next one as it comes
    free: the scenarios first (each a whole cold update or more), then the
    trials from snapshots, taking the snapshots in turn (the first trial of
    each first), so that the workers take different snapshots side by side
    and a trial seldom waits for one being taken; the cold cuts, short and
    many, last, where they even out the workers' ends. The snapshots come in
    the order they hold in their update, so a later one is asked for once an
    earlier one is under way, and is taken from it when it is there
    (trial/snapshots.py); with more than one worker, the first after the
    pull's is asked for beside it, and taken from it once it is there.
    The confirmation's (on the installed disk, taken from no other) comes
    last: its trials are short, and fill the workers' time while the later
    snapshots are taken."""
    by_snapshot: dict[str, list[PlannedCut]] = {}
    for c in planned:
        key = snapshot_of(c)
        if key is not None:
            by_snapshot.setdefault(key, []).append(c)
    ordered = sorted(by_snapshot.values(), key=lambda trials: _held_order(trials[0]))
    turns = [c for k in range(max(map(len, ordered), default=0))
             for c in (trials[k] for trials in ordered if k < len(trials))]
    return ([c for c in planned if c.kind != "cut"] + turns
            + [c for c in planned if c.kind == "cut" and not c.snapshot])


def _held_order(c: PlannedCut) -> tuple[int, int]:
    """Where a trial's snapshot holds in its update: the pull's start first,
    then the later points as the record orders them (a phase's start by the
    method's phase order), the confirmation last."""
    phase = c.hold_phase or c.phase
    if phase == PULL:
        return (0, 0)
    if phase == CONFIRM:
        return (3, 0)
    if c.hold_index:
        return (1, c.hold_index)
    order = methods.get(c.method).update_phases
    return (2, order.index(phase) if phase in order else len(order))


def save_plan(planned: list[PlannedCut], path: Path) -> None:
    path.write_text(json.dumps([asdict(c) for c in planned]))


def load_plan(path: Path) -> list[PlannedCut]:
    return [PlannedCut(**c) for c in json.loads(path.read_text())]


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N), 1 <= I <= N."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise HarnessError(f"shard '{text}' is not I/N, e.g. 1/4") from None
    if not 1 <= i <= n:
        raise HarnessError(f"shard '{text}': I must be from 1 to N")
    return i, n


def shard(planned: list[PlannedCut], i: int, n: int) -> list[PlannedCut]:
    """Shard `i` of `n` (1-based): round-robin over the sorted ids, so every machine
    that plans the same campaign takes the same, disjoint, balanced share."""
    if not 1 <= i <= n:
        raise HarnessError(f"shard {i}/{n}: I must be from 1 to N")
    ids = sorted(c.id for c in planned)
    mine = set(ids[i - 1::n])
    return [c for c in planned if c.id in mine]


@dataclass
class Progress:
    """One status line for a running campaign: done/total, failures, elapsed, ETA."""
    total: int
    stream: TextIO
    interval: float = 30.0        # seconds between lines when the stream is not a tty
    started: float = field(default_factory=time.monotonic)
    last: float = float("-inf")

    def line(self, done: int, failed: int, now: float) -> str:
        elapsed = now - self.started
        eta = _duration(elapsed / done * (self.total - done)) if done else "?"
        return (f"brownout: {done}/{self.total} trials, {failed} failing, "
                f"{_duration(elapsed)} elapsed, ETA {eta}")

    def update(self, entries: list[Entry], final: bool = False) -> None:
        now = time.monotonic()
        tty = self.stream.isatty()
        if not (final or tty or now - self.last >= self.interval):
            return
        self.last = now
        text = self.line(len(entries), sum(e.failure is not None for e in entries), now)
        if tty:
            # The line rewrites itself in place (and clears what a longer one left).
            self.stream.write(f"\r{text}\x1b[K" + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def watch(proc: subprocess.Popen, journal: Journal, ids: set[str], progress: Progress,
          poll: float = 1.0) -> int:
    """Report progress from the journal until `proc` ends; returns its exit status.
    Only entries written after the start count: a resumed campaign re-runs
    trials whose earlier entries (errors, timeouts) are still in the journal."""
    before = len(journal.entries(quiet=True))

    def ours() -> list[Entry]:
        # Quietly: a line being appended right now looks torn.
        return [e for e in journal.entries(quiet=True)[before:] if e.id in ids]
    while True:
        try:
            status = proc.wait(timeout=poll)
            break
        except subprocess.TimeoutExpired:
            progress.update(ours())
    progress.update(ours(), final=True)
    return status


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_group(argv: list[str], **popen: object) -> subprocess.Popen:
    """Start argv leading a process group of its own, with SIGINT at its default:
    a process started in the background (or by an xdist worker) inherits SIGINT
    ignored, and then neither pytest nor a shell could be interrupted."""
    return subprocess.Popen(argv, start_new_session=True, preexec_fn=_default_sigint,  # type: ignore[call-overload]
                            **popen)


def stop_group(proc: subprocess.Popen, grace: float = 60.0) -> None:
    """Interrupt the process group `proc` leads, as Ctrl-C would: the trials
    being run reap their machines and the journal keeps what finished. What is
    still there after `grace` seconds is killed."""
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=grace)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        log.warning("pytest did not stop within %.0f s of the interrupt: killing it and its workers", grace)
    try:
        # The workers may outlive pytest's main process; nothing of the group stays.
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def run(planned: list[PlannedCut], journal: Journal, seed: int, jobs: int, resume: bool,
        *, snapshots: bool = True, stream: TextIO | None = None,
        trial_timeout: float = DEFAULT_TRIAL_TIMEOUT, same_disk: bool = True, hold_rerun: bool = True,
        fresh_snapshots: bool = False, snapshot_origins: Counter[str] | None = None) -> int:
    """Run the planned trials under pytest(-xdist); returns pytest's exit status.
    Trials start from snapshots (harness/machine/snapshot.py) unless `snapshots` is false:
    the kept copies of earlier campaigns' where they fit (trial/snapshots.py), unless
    `fresh_snapshots`; how many were taken and how many kept copies served is
    added to `snapshot_origins`. Unless the guest clock is pinned, the campaign
    runs under the clock of the kept snapshots that fit it, or the host's.
    A cut that leaves a disk an earlier trial of the campaign judged takes its
    outcome (trial/samedisk.py) unless `same_disk` is false: then every trial is judged.
    A re-run goes on from the boot that settled after the cut unless `hold_rerun` is false.
    Progress goes to `stream` (stderr by default); pytest's output to <journal>.pytest.log.
    A planned trial that left no entry (its worker died, its fixtures failed) is
    written to the journal as an error once pytest has ended on its own."""
    todo = [c for c in planned if not (resume and c.id in journal.done())]
    if resume:
        print(f"brownout: resuming: {len(planned) - len(todo)} of {len(planned)} trials already in {journal.path}")
    if not todo:
        return 0
    work = journal.path.with_suffix(".plan.json")
    work.parent.mkdir(parents=True, exist_ok=True)
    if not resume:
        # Outcomes by disk hold for the images and harness they were judged on: this run's.
        shutil.rmtree(same_disk_store(journal), ignore_errors=True)
    # Snapshots are this run's: whatever an interrupted run left may be of other images.
    shutil.rmtree(snapshot_store(journal.path), ignore_errors=True)
    save_plan(dispatch_order(group_cuts(todo, jobs)), work)
    env = dict(os.environ, BROWNOUT_REQUIRE_IMAGES="1")
    # One clock start for every power-on of the campaign (device.py), unless pinned.
    env.setdefault(GUEST_CLOCK_ENV, guest_clock() or kept_clock({(c.method, c.client) for c in todo})
                   or time.strftime(CLOCK_FORMAT, time.gmtime()))
    argv = [sys.executable, "-m", "pytest", "scenarios/test_cut_campaign.py", "-p", "no:cacheprovider",
            "-q", "-rN", f"--junitxml={journal.path.with_suffix('.junit.xml')}",
            f"--brownout-plan={work}", f"--brownout-journal={journal.path}", f"--brownout-seed={seed}",
            f"--brownout-trial-timeout={trial_timeout}"]
    if not snapshots:
        argv.append("--brownout-cold")
    if not same_disk:
        argv.append("--brownout-judge-every-trial")
    if not hold_rerun:
        argv.append("--brownout-cold-rerun")
    if fresh_snapshots:
        argv.append("--brownout-fresh-snapshots")
    if jobs > 1:
        # One trial at a time to whichever worker is free, in the plan's order (harness/schedule.py).
        argv += ["-n", str(jobs), "--dist", "load"]
    output = journal.path.with_suffix(".pytest.log")
    progress = Progress(len(todo), stream or sys.stderr)
    with open(output, "w") as out:
        # Its own process group: pytest, its xdist workers and their QEMUs stop together.
        proc = start_group(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            status = watch(proc, journal, {c.id for c in todo}, progress)
        finally:
            if proc.poll() is None:
                stop_group(proc)
            found = origins(snapshot_store(journal.path))
            if snapshots and found:
                print(f"brownout: snapshots: {found[TAKEN]} taken, {found[FROM_KEPT]} kept from an earlier "
                      f"campaign (in {KEPT})")
            if snapshot_origins is not None:
                snapshot_origins.update(found)
            shutil.rmtree(snapshot_store(journal.path), ignore_errors=True)
    last = [line for line in output.read_text(errors="replace").splitlines() if line.strip()]
    print(f"brownout: pytest: {last[-1].strip('= ') if last else 'no output'} (output in {output})")
    for cut in unaccounted(todo, journal.entries()):
        reason = (f"no result was written: the trial's pytest run (exit status {status}) ended "
                  f"without one; see {output}")
        journal.record(cut.id, cut.kind, cut.phase, TrialResult.unfinished(cut.trial(), "error", reason), seed)
    return status


def snapshot_store(journal: Path) -> Path:
    """Where the workers of the campaign journaled in `journal` keep the snapshots they share (trial/snapshots.py)."""
    return Path(journal).with_suffix(".snapshots")


def same_disk_store(journal: Journal) -> Path:
    """Where a campaign's trials leave their outcomes by the disk their cut left."""
    return journal.path.with_suffix(".disks")


def unaccounted(planned: list[PlannedCut], entries: list[Entry]) -> list[PlannedCut]:
    """Planned trials the journal holds no entry for."""
    ids = {e.id for e in entries}
    return [c for c in planned if c.id not in ids]


def summarize(entries: list[Entry]) -> str:
    """Counts per method, client, fault model, phase (or scenario kind) and outcome."""
    rows: Counter[tuple[str, str, str, str, str]] = Counter()
    states: Counter[tuple[str, str, str, str, str]] = Counter()   # with the equivalent states judged by each
    taken: Counter[tuple[str, str, str, str, str]] = Counter()    # outcomes taken from a disk already judged
    for e in entries:
        if e.kind == "cut":
            what, result = e.phase, e.outcome
        else:
            what, result = e.kind, e.final if e.final in UNFINISHED else e.failure or "as expected"
        model = e.model + (" lazy" if e.lazy_writeback else "") if e.kind == "cut" else "-"
        rows[(e.method, e.client, model, what, result)] += 1
        states[(e.method, e.client, model, what, result)] += 1 + e.equivalents
        taken[(e.method, e.client, model, what, result)] += e.same_disk_as is not None
    lines = [f"  {'method':<10} {'client':<8} {'model':<12} {'phase/kind':<10} {'outcome':<24} trials"]
    for key, n in sorted(rows.items()):
        method, client, model, what, result = key
        stood = f" ({states[key]} states)" if states[key] != n else ""
        same = f" ({taken[key]} of a disk already judged)" if taken[key] else ""
        lines.append(f"  {method:<10} {client:<8} {model:<12} {what:<10} {result:<24} {n}{stood}{same}")
    return "\n".join(lines)
