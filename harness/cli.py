"""The `brownout` command line."""
from __future__ import annotations

import argparse
import dataclasses
import json
import random
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import HarnessError
from . import images
from .campaign import runner as campaign
from .report import evidence
from .report import html as report
from .campaign import journal as journal_mod
from .report import results
from .machine.boot import format_timeline, spread, wait_boot
from .checks.device import Device
from .methods import METHODS, served_roots
from .methods.base import CONFIRM
from .machine.qemu import Machine, interrupt_on_term
from .server import Fault, UpdateServer
from .storage import crash, life
from .storage.states import CrashState, unique
from .trial.run import PAYLOADS, TIMINGS, V2_ROUTES, TrialSpec, run_trial
from .trial.snapshots import FROM_KEPT, TAKEN
from .trial.start import START_VERSIONS, installed_disk

log = logging.getLogger("brownout")

MODELS = ("syscall", "storage")


def cmd_build(args: argparse.Namespace) -> int:
    images.build(only=args.step or None, force=args.force)
    print(f"images in {images.IMAGES}")
    return 0


def boot_once(method: str, timeout: float, keep: Path | None = None):
    run_dir = Path(tempfile.mkdtemp(prefix=f"brownout-{method}-"))
    try:
        device = Device.create(method, run_dir)
        with Machine(device.config, run_dir / "machine") as machine:
            machine.start()
            timeline = wait_boot(machine, timeout=timeout)
            if keep is not None:
                keep.mkdir(parents=True, exist_ok=True)
                shutil.copy(run_dir / "machine" / "console.log", keep / "console.log")
        return timeline
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def cmd_boot(args: argparse.Namespace) -> int:
    log.info("booting a fresh %s device through U-Boot", args.method)
    timeline = boot_once(args.method, args.timeout, keep=args.keep_log)
    print(format_timeline(timeline))
    return 0


# The demo's sample: per method and phase, DEMO_CUTS (point, edge) pairs, and
# one plain update, the happy path's, for the downtime; `campaign --methods all`
# does the full set, with more downtime runs.
DEMO_CUTS = "1"
DEMO_DOWNTIME_RUNS = 1


def cmd_demo(args: argparse.Namespace) -> int:
    """The README's first command: a small comparative campaign on the built-in
    images, every method and phase, ending with its report and evidence bundle.
    Where its time went goes to build/bench/demo.json (demo_figures)."""
    began, started = results.stamp(), time.time()
    images.build()
    built = images.last_build()
    names = sorted(METHODS)
    out = images.BUILD / "demo"
    shutil.rmtree(out, ignore_errors=True)
    journal = journal_mod.Journal(out / "demo.jsonl")
    args.seed, args.resume, args.cold, args.judge_every_trial, args.fresh_snapshots = 1, False, False, False, False
    marks = [("image check", time.time())]
    planned = comparative_plan(names, DEMO_CUTS, args.seed, DEMO_DOWNTIME_RUNS, args.jobs,
                               every_bootloader_point=False)
    marks.append(("records", time.time()))
    args.trial_timeout = campaign.DEFAULT_TRIAL_TIMEOUT
    failing = run_campaign(planned, journal, args)
    marks.append(("trials", time.time()))
    log.info("demo: %d trials in %.0f s, %d missed their expectation (see the report)",
             len(planned), marks[-1][1] - marks[-2][1], len(failing))
    write_report(journal.path, with_evidence=True)
    marks.append(("report and evidence", time.time()))
    figures = demo_figures(started, marks, built, os.environ.get(MAKE_STARTED), len(planned), args.jobs)
    log.info("demo: its figures are in %s", results.write_bench(DEMO_BENCH, "demo", figures, began))
    # Findings (a method that does not roll back, say) are the demo's output; a
    # trial the harness could not finish is not, and fails the run.
    unfinished = [e for e in failing if e.final in journal_mod.UNFINISHED]
    if unfinished:
        print(f"brownout: {len(unfinished)} trial(s) ended in error or timeout: the demo's "
              f"comparison is incomplete (see the report)", file=sys.stderr)
        return 1
    return 0


# Set by the Makefile when `make` starts: the demo's time then counts from
# there, the packages and the image build included.
MAKE_STARTED = "BROWNOUT_MAKE_STARTED"
DEMO_BENCH = images.BUILD / "bench" / "demo.json"


def demo_figures(started: float, marks: list[tuple[str, float]], built: dict | None,
                 make_started: str | None, trials: int, jobs: int) -> dict:
    """The demo's wall time, part by part (seconds), each `marks` entry ending
    one. From `make demo`'s start when the Makefile says when that was: the
    packages, then the image build that make ran (`built`, images.last_build:
    the steps it built, and took from the cache), told apart from a build
    before this make by its start."""
    try:
        since: float | None = float(make_started) if make_started else None
    except ValueError:
        since = None
    if since is not None and since > started:
        since = None
    made = built if since is not None and built and built["began"] >= since else None
    parts: list[tuple[str, float]] = []
    if made:
        parts += [("packages", made["began"] - since), ("image build", made["ended"] - made["began"]),
                  ("before the demo", started - made["ended"])]
    elif since is not None:
        parts.append(("packages (images up to date)", started - since))
    previous = started
    for name, at in marks:
        parts.append((name, at - previous))
        previous = at
    steps = made["steps"] if made else {}
    return {"trials": trials, "jobs": jobs, "from_make": since is not None,
            "wall_s": round(previous - (since if since is not None else started), 1),
            "parts": [{"part": name, "seconds": round(seconds, 1)} for name, seconds in parts],
            "steps_built": {k: v for k, v in sorted(steps.items()) if v is not None},
            "steps_taken": sorted(k for k, v in steps.items() if v is None)}


def cmd_bench_boot(args: argparse.Namespace) -> int:
    began = results.stamp()
    timelines = []
    for run in range(1, args.runs + 1):
        timeline = boot_once(args.method, args.timeout)
        timelines.append(timeline)
        log.info("run %d/%d: %.3f s to first heartbeat", run, args.runs, timeline.total_s)
    print(f"cold power-on to first heartbeat, {args.method}, {args.runs} runs (seconds):")
    print(f"  {'stage':<12} {'min':>7} {'median':>7} {'max':>7}")
    rows = spread(timelines)
    for row in rows:
        print(f"  {row.name:<12} {row.min:7.3f} {row.median:7.3f} {row.max:7.3f}")
    if args.json:
        results.write_bench(args.json, "boot", {"method": args.method, "runs": args.runs,
                                                "stages": [dataclasses.asdict(r) for r in rows]}, began)
    return 0


def parse_fault(text: str) -> Fault:
    """KIND:AFTER_BYTES[:COUNT], e.g. close:1000000:6 — the server's fault."""
    parts = text.split(":")
    try:
        kind, after = parts[0], int(parts[1])
        count = int(parts[2]) if len(parts) > 2 else 1
        if len(parts) > 3 or after < 0 or count < 0:
            raise ValueError
        return Fault(kind, pattern="*/rootfs.ext4", after_bytes=after, count=count)  # type: ignore[arg-type]
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(
            f"'{text}' is not KIND:AFTER_BYTES[:COUNT] (KIND: close, stall, truncate, flip)") from None
    except HarnessError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def cmd_trial(args: argparse.Namespace) -> int:
    spec = TrialSpec(args.method, args.payload, args.fault, args.corrupt_env, args.cut, args.client, args.state,
                     args.lazy_writeback, args.start)
    log.info("trial: %s", spec.reproduce())
    result = run_trial(spec, run_dir=args.keep)
    print(result.summary())
    if args.json:
        print(json.dumps(result.as_dict()))
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    if args.start != "v1" and args.model != "syscall":
        raise HarnessError(f"record --from {args.start} is for the syscall model: the disk life is v1's")
    images.build()
    if args.model == "storage":
        log.info("record: running the %s update once with its disk logged, power-on to settled", args.method)
        index = life.record_life(args.method, "v2", crash.LIFE, client=args.client)
        crash.keep_life(args.method, "v2", crash.LIFE, args.client)
        print(crash.summarize_life(crash.load_life(args.method, "v2", client=args.client)))
        print(index)
        return 0
    if args.client != "safe":
        raise HarnessError("record --client is for the storage model: the syscall record is the real client's")
    log.info("record: running the %s update once under the agent, recording every cut point", args.method)
    path = campaign.record(args.method, args.start)
    _, points = campaign.load_record(args.method, path, args.start)
    by_phase = Counter(p["phase"] for p in points)
    print(f"{len(points)} cut points recorded in {path}: "
          + ", ".join(f"{phase} {by_phase[phase]}" for phase in (*METHODS[args.method].phases, "none")))
    return 0


def cmd_campaign(args: argparse.Namespace) -> int:
    names = methods_arg(args.methods) if args.methods else []
    if args.entries and (names or args.model != "storage"):
        raise HarnessError("--entries picks crash states of one method's disk life: "
                           "it needs --model storage and --method")
    if args.phase and (names or args.model != "syscall"):
        raise HarnessError("--phase picks phases of one method's cut campaign: it needs --method "
                           "and the syscall model")
    if args.start != "v1" and (names or args.model != "syscall" or args.lazy_writeback):
        raise HarnessError(f"--from {args.start} is for one method's cut campaign (--method, syscall model): "
                           f"the comparison, the recorded life and lazy writeback start from v1")
    images.build()
    if names:
        planned = comparative_plan(names, args.cuts, args.seed, args.downtime_runs, args.jobs)
        name = f"compare-{'-'.join(names)}-seed{args.seed}"
    elif args.model == "storage":
        planned = storage_plan(args.method, args.cuts, args.seed, args.client, args.entries)
        name = f"{args.method}-{args.client}-storage-seed{args.seed}"
        if args.entries:
            name += f"-entries{args.entries.start}-{args.entries.stop - 1}"
    else:
        _, points = campaign.load_record(args.method, args.record, args.start)
        planned = campaign.plan(args.method, campaign.NEXT_PAYLOAD[args.start], points, args.cuts, args.seed,
                                args.client, start=args.start, phases=tuple(args.phase or ()) or None)
        name = f"{args.method}-{args.client}-seed{args.seed}" + ("" if args.start == "v1" else f"-from-{args.start}")
        if args.phase:
            name += "-" + "-".join(args.phase)
        if args.lazy_writeback:
            # Lazy writeback holds back what the update writes; the confirmation runs on a later boot.
            planned = [dataclasses.replace(c, id=f"{c.id}-lazy", lazy_writeback=True) for c in planned
                       if c.phase != CONFIRM]
            name += "-lazy"
    if args.shard:
        planned = campaign.shard(planned, *args.shard)
        name += "-shard{}of{}".format(*args.shard)
    journal = journal_mod.Journal(args.journal or images.BUILD / "journals" / f"{name}.jsonl")
    if journal.path.exists() and not args.resume:
        raise HarnessError(f"journal {journal.path} exists: add --resume to continue it, or --journal NEW")
    failing = run_campaign(planned, journal, args)
    if args.methods:
        write_report(journal.path, args.evidence)
    # Non-zero when any trial missed its expectation: the campaign flags it.
    return 1 if failing else 0


def storage_plan(method: str, cuts: str, seed: int, client: str = "safe",
                 entries: range | None = None) -> list[campaign.PlannedCut]:
    """The crash states to judge, as planned trials (a life is recorded first where none fits the images)."""
    recorded = crash.ensure_life(method, client=client)
    if entries and entries.start >= len(recorded.entries):
        raise HarnessError(f"--entries {entries.start}-{entries.stop - 1}: the disk life of {method} has "
                           f"only {len(recorded.entries)} entries (0-{len(recorded.entries) - 1})")
    states = crash.plan_states(recorded, cuts, seed, entries)
    log.info("campaign: %s", crash.summarize_plan(recorded, states))
    return storage_trials(method, states, client)


def storage_trial_id(method: str, phase: str, state: CrashState, client: str = "safe") -> str:
    suffix = "" if client == "safe" else f"-{client}"
    return f"{method}-storage-{phase}-{state.token().replace(':', '-').replace('+', '_')}{suffix}"


def storage_trials(method: str, states: list[crash.PlannedState], client: str = "safe") -> list[campaign.PlannedCut]:
    return [campaign.PlannedCut(storage_trial_id(method, p.phase, p.state, client), method, "v2", p.phase,
                                p.state.upto, "", client, state=p.state.token(), equivalents=p.same_as,
                                equivalent_kinds=p.same_kinds)
            for p in states]


def methods_arg(text: str) -> list[str]:
    names = sorted(METHODS) if text == "all" else [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in METHODS]
    if unknown or not names:
        raise HarnessError(f"unknown method '{', '.join(unknown) or text}'; known: {', '.join(sorted(METHODS))} or all")
    return names


def comparative_plan(names: list[str], cuts: str, seed: int, downtime_runs: int, jobs: int,
                     every_bootloader_point: bool = True) -> list[campaign.PlannedCut]:
    """Per method: the scenarios, then the cuts (records are made first, `jobs`
    at a time, where none fits the images)."""
    planned: list[campaign.PlannedCut] = []
    for name, points in campaign.records(names, jobs).items():
        planned += campaign.plan_scenarios(name, downtime_runs)
        planned += campaign.plan(name, "v2", points, cuts, seed,
                                 every_bootloader_point=every_bootloader_point)
    return planned


def run_campaign(planned: list[campaign.PlannedCut], journal: campaign.Journal,
                 args: argparse.Namespace) -> list[journal_mod.Entry]:
    """Run, print the summary and every trial that missed its expectation; returns those."""
    by_kind = Counter(c.phase if c.kind == "cut" else c.kind for c in planned)
    log.info("campaign: %d trials (%s), seed %d, %d jobs, journal %s", len(planned),
             ", ".join(f"{k} {v}" for k, v in by_kind.items()), args.seed, args.jobs, journal.path)
    status = campaign.run(planned, journal, args.seed, args.jobs, args.resume, snapshots=not args.cold,
                          trial_timeout=args.trial_timeout, same_disk=not args.judge_every_trial,
                          hold_rerun=not args.judge_every_trial, fresh_snapshots=args.fresh_snapshots)
    ids = {c.id for c in planned}
    entries = [e for e in journal_mod.latest(journal.entries()) if e.id in ids]
    print(f"campaign: {len(entries)} of {len(planned)} trials in {journal.path}:")
    print(campaign.summarize(entries))
    failing = [e for e in entries if e.failure is not None]
    for e in failing:
        print(f"  {e.id}: {e.failure}: {e.reproduce}")
    missing = campaign.unaccounted(planned, entries)
    if missing:
        raise HarnessError(f"{len(missing)} of {len(planned)} planned trials have no entry in {journal.path} "
                           f"(first: {missing[0].id}); the plan is not accounted for")
    if status not in (0, 1):
        raise HarnessError(f"the campaign's pytest run ended with status {status}; "
                           f"see {journal.path.with_suffix('.pytest.log')}")
    return failing


def write_report(journal: Path, with_evidence: bool, output: Path | None = None, model: str | None = None) -> Path:
    """The HTML report (and evidence bundle) of a journal; its path is printed last."""
    # Storage overhead comes from the disks' layouts, where they are built.
    layouts = {name: images.by_name(m.disk_step).out / "layout.json" for name, m in METHODS.items()}
    out = report.write(journal, output, layouts, model)
    if with_evidence:
        bundle = evidence.write_bundle(journal, out)
        print(f"evidence: {bundle} ({evidence.verify_bundle(bundle)} files, verified)")
    print(out)
    return out


def shard_arg(text: str) -> tuple[int, int]:
    try:
        return campaign.parse_shard(text)
    except HarnessError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def cmd_report(args: argparse.Namespace) -> int:
    write_report(args.journal, args.evidence, args.output, args.model)
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    merged = journal_mod.merge(args.output, args.journals)
    print(f"{len(merged)} trials from {len(args.journals)} journals in {args.output}")
    return 0


def cuts_arg(text: str) -> str:
    if text == "all":
        return text
    if text.isdigit():
        return str(int(text))
    raise argparse.ArgumentTypeError("must be 'all' or a number of points per phase "
                                     "(0: the bootloader points alone)")


def entries_arg(text: str) -> range:
    first, dash, last = text.partition("-")
    if not (first.isdigit() and (not dash or last.isdigit())) or (dash and int(last) < int(first)):
        raise argparse.ArgumentTypeError("must be a log entry number N or a range A-B with A <= B")
    return range(int(first), int(last if dash else first) + 1)


@dataclass(frozen=True)
class TrialRate:
    trials: int
    wall_s: float
    steady_per_hour: float | None    # after each worker's first trial (its snapshot)
    # A campaign long enough that its start and snapshots vanish: `jobs` workers
    # kept busy with trials, each trial taking its own wall time, its snapshot's aside.
    long_run_per_hour: float | None
    outcomes: Counter
    by_id: dict[str, str] = field(default_factory=dict)   # each trial's outcome and final version
    # Mean host seconds per trial in each part of a trial (trial/run.py TIMINGS).
    timings: dict[str, float] = field(default_factory=dict)
    phases: Counter = field(default_factory=Counter)      # trials per phase cut
    same_disk: int = 0           # trials that took the outcome of a byte-identical disk after the cut
    same_but_slot: int = 0       # of those, the disks equal but for the method's target slot
    fired: dict[str, str] = field(default_factory=dict)   # where each trial's cut fired (fired_at)
    snapshots: Counter = field(default_factory=Counter)   # taken in the run, and kept copies of earlier ones

    @property
    def per_hour(self) -> float:
        return 3600 * self.trials / self.wall_s


def bench_trials(method: str, trials: int, jobs: int, cold: bool, every_phase: bool = False,
                 same_disk: bool = True, hold_rerun: bool = True, fresh_snapshots: bool = False) -> TrialRate:
    """A campaign over the recorded bootloader points (repeated to `trials`, each
    judged on its own), timed; with `every_phase`, a seeded sample of up to
    `trials` distinct points taken in turn from every phase the method has,
    where a cut that leaves a disk already judged takes its outcome unless
    `same_disk` is false, and a re-run goes on from the boot that settled after
    the cut unless `hold_rerun` is false. Its snapshots are copies of those an
    earlier campaign kept where they fit, unless `fresh_snapshots`."""
    points = campaign.records([method], 1)[method]
    if every_phase:
        sampled = campaign.plan(method, "v2", points, str(trials), 1, every_bootloader_point=False)
        by_phase = [[c for c in sampled if c.phase == phase] for phase in METHODS[method].phases]
        for group in by_phase:
            # The plan lists a phase's sample by index: shuffled, so the turns are not its earliest points.
            random.Random(1).shuffle(group)
        turns = [c for k in range(trials) for c in (group[k] for group in by_phase if k < len(group))]
        planned = turns[:trials]
    else:
        planned = [c for c in campaign.plan(method, "v2", points, "1", 1) if c.phase == "bootloader"]
        # Repeated points leave the same disks: each is judged, or the repeats would cost nothing.
        planned = (planned * (trials // max(1, len(planned)) + 1))[:trials]
        same_disk = False
    if not planned:
        raise HarnessError(f"{method} has no {'' if every_phase else 'bootloader '}cut points recorded")
    if not cold:
        installed_disks(planned)
    return time_campaign([dataclasses.replace(c, id=f"{c.id}-bench{i}") for i, c in enumerate(planned)],
                         method, jobs, cold, same_disk, hold_rerun, fresh_snapshots)


def installed_disks(planned: list[campaign.PlannedCut]) -> None:
    """The disks the confirmation's cuts start from, built before the timing
    starts, as the records are: each is built once per set of images, by a
    plain update, and kept (trial/start.py), so it is no trial's time."""
    wanted = {(c.method, c.payload, c.client, c.start) for c in planned if c.phase == CONFIRM}
    if not wanted:
        return
    with UpdateServer(served_roots()) as server:
        for method, payload, client, start in sorted(wanted):
            installed_disk(TrialSpec(method, payload, client=client, start=start), server)


@dataclass(frozen=True)
class StateRate:
    """A seeded sample of crash states judged with the shortcuts, and maybe each on its own too."""
    states: int
    judged: TrialRate                 # one trial per class of equivalent states in the sample
    outcome_of: dict[str, str]        # each sampled state's outcome, from its class's trial
    direct: TrialRate | None = None   # every sampled state judged on its own
    differing: tuple[str, ...] = ()   # states whose own outcome is not their class's

    @property
    def per_hour(self) -> float:
        return 3600 * self.states / self.judged.wall_s


def bench_states(method: str, states: int, jobs: int, seed: int, both_ways: bool) -> StateRate:
    """A seeded sample of the crash states of the method's disk life, judged
    once per class of equivalent states and timed; with `both_ways`, every
    sampled state is judged on its own too and the outcomes compared."""
    recorded = crash.ensure_life(method)
    every = crash.every_state(recorded, seed)
    keys = crash.equivalence_keys(recorded, every)
    sample = sorted(random.Random(seed).sample(every, min(states, len(every))),
                    key=lambda s: (s.upto, s.token()))
    classes = unique(sample, keys)
    judged = time_campaign(storage_trials(method, [crash.PlannedState(first, recorded.where(first).phase, len(rest))
                                                   for first, rest in classes]), method, jobs, cold=True)
    ids = {state: storage_trial_id(method, recorded.where(first).phase, first)
           for first, rest in classes for state in (first, *rest)}
    outcome_of = {state.token(): judged.by_id.get(ids[state], "unfinished") for state in sample}
    if not both_ways:
        return StateRate(len(sample), judged, outcome_of)
    alone = [crash.PlannedState(state, recorded.where(state).phase, 0) for state in sample]
    direct = time_campaign(storage_trials(method, alone), method, jobs, cold=True)
    own = {p.state.token(): direct.by_id.get(storage_trial_id(method, p.phase, p.state), "unfinished")
           for p in alone}
    differing = tuple(t for t in outcome_of if own[t] != outcome_of[t])
    return StateRate(len(sample), judged, outcome_of, direct, differing)


def time_campaign(planned: list[campaign.PlannedCut], method: str, jobs: int, cold: bool,
                  same_disk: bool = False, hold_rerun: bool = True, fresh_snapshots: bool = False) -> TrialRate:
    """Run `planned` as a campaign into a scratch journal: its trials per hour.
    The scratch journal goes once the run is counted, unless a trial ended in
    error or timeout: then it stays, with its logs, and each such trial is named."""
    tmp = Path(tempfile.mkdtemp(prefix="brownout-bench-"))
    journal = journal_mod.Journal(tmp / "bench.jsonl")
    started = time.monotonic()
    snapshots: Counter[str] = Counter()
    try:
        campaign.run(planned, journal, 1, jobs, resume=False, snapshots=not cold, same_disk=same_disk,
                     hold_rerun=hold_rerun, fresh_snapshots=fresh_snapshots, snapshot_origins=snapshots)
    except BaseException:
        log.warning("bench: the %s run stopped; what it journaled is kept in %s", method, journal.path)
        raise
    wall = time.monotonic() - started
    entries = journal.entries()
    unfinished = [e for e in entries if e.final in journal_mod.UNFINISHED]
    if unfinished:
        for e in unfinished:
            log.warning("bench: %s: %s (logs: %s)", e.id, e.failure, e.log_dir or "none")
        log.warning("bench: %d %s trial(s) ended in error or timeout; the run's journal is kept in %s",
                    len(unfinished), method, journal.path)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    if not entries:
        raise HarnessError(f"no {method} trial finished")
    times = sorted(e.time or 0.0 for e in entries)
    steady = None
    if len(times) > jobs + 1 and times[-1] > times[jobs]:
        steady = 3600 * (len(times) - jobs - 1) / (times[-1] - times[jobs])
    spent: Counter[str] = Counter()
    for e in entries:
        spent.update(e.timings or {})
    return TrialRate(len(entries), wall, steady, long_run_rate(entries, jobs), Counter(e.outcome for e in entries),
                     {e.id: f"{e.outcome} ({e.final})" for e in entries},
                     {k: round(spent[k] / len(entries), 2) for k in TIMINGS if spent[k]},
                     Counter(e.phase for e in entries), sum(e.same_disk_as is not None for e in entries),
                     sum("without" in (e.same_disk_as or {}) for e in entries),
                     {e.id: fired_at(e) for e in entries}, snapshots)


def long_run_rate(entries: list[journal_mod.Entry], jobs: int) -> float | None:
    """Trials per hour of `jobs` workers that do nothing but trials whose
    snapshots are taken: from each timed trial's wall time (its timings add up
    to it), less the snapshot it took. None when no trial was timed."""
    seconds = [sum(e.timings.values()) - e.timings.get("snapshot", 0.0) for e in entries if e.timings]
    if not seconds or sum(seconds) <= 0:
        return None
    return 3600 * jobs * len(seconds) / sum(seconds)


def fired_at(entry: journal_mod.Entry) -> str:
    """Where a trial's cut fired, as far as two runs of the same point agree:
    its phase and call (an index or offset moves with how the transfer's
    bytes arrived), or that it never fired."""
    if not entry.cut:
        return "no cut"
    return f"cut in {entry.cut.get('phase', '?')} at {entry.cut.get('syscall', '?')}"


def cmd_bench_states(args: argparse.Namespace) -> int:
    """Crash states judged per hour, next to syscall-model trials per hour of the same run."""
    began = results.stamp()
    images.build()
    states = bench_states(args.method, args.states, args.jobs, args.seed, args.both_ways)
    judged = states.judged
    # As many syscall-model trials as cold power-ons the states took, for the same load.
    trials = bench_trials(args.method, max(judged.trials, 2 * args.jobs), args.jobs, cold=False)
    print(f"{states.states} {args.method} crash states (storage model, seed {args.seed}), -j {args.jobs}: "
          f"{judged.trials} judged by a cold power-on, one per class of equivalent states: "
          f"{judged.wall_s:.0f} s wall, {states.per_hour:.0f} states/hour")
    print("  outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(Counter(states.outcome_of.values()).items())))
    if states.direct is not None:
        print(f"  each state judged on its own: {states.direct.wall_s:.0f} s wall, "
              f"{states.direct.per_hour:.0f} states/hour; the same outcome for "
              f"{states.states - len(states.differing)} of {states.states}"
              + (f", differing: {', '.join(states.differing)}" if states.differing else ""))
    steady = f" ({trials.steady_per_hour:.0f}/hour steady)" if trials.steady_per_hour is not None else ""
    print(f"{trials.trials} {args.method} bootloader-point trials (syscall model, snapshots), -j {args.jobs}: "
          f"{trials.wall_s:.0f} s wall, {trials.per_hour:.0f}/hour{steady}")
    if args.json:
        figures = {"states": states.states, "judged": judged.trials, "jobs": args.jobs, "cold": True,
                   "wall_s": judged.wall_s, "per_hour": states.per_hour, "steady_per_hour": None,
                   "outcomes": dict(Counter(states.outcome_of.values()))}
        if states.direct is not None:
            figures["direct"] = rate_figures(states.direct, args.jobs, True)
            figures["differing"] = list(states.differing)
        results.write_bench(args.json, "states", {"method": args.method, "seed": args.seed, "states": figures,
                                                  "syscall": rate_figures(trials, args.jobs, False)}, began)
    return 0


def cmd_bench_trials(args: argparse.Namespace) -> int:
    """Trials per hour per method: a seeded sample over every phase, timed end to
    end, with where a trial's time goes; methods one after the other, on the same host."""
    began = results.stamp()
    images.build()
    names = sorted(METHODS) if args.method == "all" else [args.method]
    start = "cold starts" if args.cold else "snapshots"
    # Recorded before any timing starts, `jobs` at a time: a record is no trial.
    campaign.records(names, args.jobs)
    rows = []
    for n, method in enumerate(names, 1):
        log.info("bench trials: %s (%d of %d methods)", method, n, len(names))
        rate = bench_trials(method, args.trials, args.jobs, args.cold, every_phase=True,
                            same_disk=not args.judge_every_trial, hold_rerun=not args.judge_every_trial,
                            fresh_snapshots=args.fresh_snapshots)
        print_rate(rate, method, start, args.jobs)
        figures = rate_figures(rate, args.jobs, args.cold)
        if args.both_ways:
            alone = bench_trials(method, args.trials, args.jobs, cold=True, every_phase=True, same_disk=False,
                                 hold_rerun=False)
            differing = sorted(i for i, outcome in rate.by_id.items()
                               if (alone.by_id.get(i), alone.fired.get(i)) != (outcome, rate.fired[i]))
            print(f"  each trial cold, judged on its own, re-run cold: {alone.wall_s:.0f} s wall, "
                  f"{alone.per_hour:.0f} trials/hour; "
                  f"the same outcome and cut for {rate.trials - len(differing)} of {rate.trials}"
                  + (f", differing: {', '.join(differing)}" if differing else ""))
            for i in differing:
                print(f"    {i}: {rate.by_id[i]}, {rate.fired[i]}; cold: {alone.by_id.get(i, 'no result')}, "
                      f"{alone.fired.get(i, '-')}")
            print_rate(alone, method, "cold starts", args.jobs, indent="    ")
            figures["judged_alone"] = rate_figures(alone, args.jobs, True)
            figures["differing"] = differing
        rows.append({"method": method, **figures})
    if args.json:
        results.write_bench(args.json, "trials", {"methods": rows}, began)
    return 0


def print_rate(rate: TrialRate, method: str, start: str, jobs: int, indent: str = "") -> None:
    others = "".join(f", {r:.0f}/hour {label}" for r, label in (
        (rate.steady_per_hour, "after each worker's first"),
        (rate.long_run_per_hour, "in a long run (snapshots taken)")) if r is not None)
    print(f"{indent}{rate.trials} {method} cut trials from {start} over every phase "
          f"({', '.join(f'{p} {k}' for p, k in rate.phases.items())}), -j {jobs}: "
          f"{rate.wall_s:.0f} s wall, {rate.per_hour:.0f} trials/hour{others}; "
          f"{rate.same_disk} took the outcome of a disk already judged"
          + (f" ({rate.same_but_slot} of them equal but for the target slot)" if rate.same_but_slot else ""))
    print(f"{indent}  a trial's host time, mean s: " + ", ".join(f"{k} {v:.1f}" for k, v in rate.timings.items()))
    if rate.snapshots:
        print(f"{indent}  snapshots: {rate.snapshots[TAKEN]} taken in the run, {rate.snapshots[FROM_KEPT]} "
              f"copied from those an earlier campaign on the same images kept")
    print(f"{indent}  outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(rate.outcomes.items())))


def rate_figures(rate: TrialRate, jobs: int, cold: bool) -> dict:
    return {"trials": rate.trials, "jobs": jobs, "cold": cold, "wall_s": rate.wall_s, "per_hour": rate.per_hour,
            "steady_per_hour": rate.steady_per_hour, "long_run_per_hour": rate.long_run_per_hour,
            "outcomes": dict(rate.outcomes), "same_disk": rate.same_disk, "same_but_slot": rate.same_but_slot,
            "timings": rate.timings, "phases": dict(rate.phases),
            "snapshots_taken": rate.snapshots[TAKEN], "snapshots_kept": rate.snapshots[FROM_KEPT]}


def cmd_bench_all(args: argparse.Namespace) -> int:
    """Per method: median cold boot to first heartbeat, and bootloader-point trials per hour."""
    began = results.stamp()
    images.build()
    rows = []
    for method in sorted(METHODS):
        boots = [boot_once(method, 60.0).total_s for _ in range(args.boots)]
        rate = bench_trials(method, args.trials, args.jobs, cold=False)
        rows.append((method, statistics.median(boots), rate))
        log.info("bench: %s done", method)
    print(f"per method, -j {args.jobs}: median cold boot to first heartbeat ({args.boots} boots), "
          f"bootloader-point cut trials per hour ({args.trials} trials)")
    print(f"  {'method':<11} {'boot s':>7} {'trials/h':>9} {'steady/h':>9} {'long run/h':>11}")
    for method, boot, rate in rows:
        steady, long_run = (f"{r:.0f}" if r is not None else "-"
                            for r in (rate.steady_per_hour, rate.long_run_per_hour))
        print(f"  {method:<11} {boot:7.2f} {rate.per_hour:9.0f} {steady:>9} {long_run:>11}")
    if args.json:
        results.write_bench(args.json, "all", {
            "jobs": args.jobs, "boots": args.boots, "trials": args.trials,
            "methods": [{"method": m, "boot_median_s": boot, "rate": rate_figures(rate, args.jobs, False)}
                        for m, boot, rate in rows]}, began)
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    if args.bench_only and args.journals:
        raise HarnessError("--bench-only writes the bench figures without journals: name either "
                           "journals or --bench-only, not both")
    journals = [] if args.bench_only else (args.journals or None)
    out = results.write(args.output, journals, args.bench)
    print(out)
    return 0


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="brownout",
                                description="Power-loss testing of firmware update methods "
                                            "on emulated aarch64 devices.")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("build", help="build kernel, initramfs, root trees and disks (cached)",
                       description="Build the default images from Debian arm64 packages. "
                                   "Steps whose inputs did not change are skipped.")
    b.add_argument("--step", action="append", choices=[s.name for s in images.steps()],
                   help="build only this step and what it needs (repeatable)")
    b.add_argument("--force", action="store_true", help="rebuild even if up to date")
    b.set_defaults(func=cmd_build)

    methods = sorted(METHODS)
    clients = sorted({c for m in METHODS.values() for c in m.clients})
    s = sub.add_parser("boot", help="cold-boot a fresh device and print its boot timeline",
                       description="Boot a fresh device of METHOD through U-Boot to its first "
                                   "heartbeat and print the time spent in each stage.")
    s.add_argument("--method", default="ab", choices=methods)
    s.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the boot")
    s.add_argument("--keep-log", type=Path, metavar="DIR", help="copy the console log into DIR")
    s.set_defaults(func=cmd_boot)

    d = sub.add_parser("demo", help="the README's demo: a small comparative campaign and its report",
                       description="Build the default images (cached), then run a small comparative "
                                   "campaign: for every method the happy path (its downtime), rollback, "
                                   f"refusals, and {DEMO_CUTS} sampled cut (point, edge) per phase; "
                                   "write the report and evidence bundle "
                                   "and print the report's path.")
    d.add_argument("-j", "--jobs", type=positive_int, default=2, help="trials in parallel")
    d.set_defaults(func=cmd_demo)

    t = sub.add_parser("trial", help="update one fresh device, no power cut, and judge it",
                       description="Boot a fresh device on v1 (or --from v2), update it to PAYLOAD, let it boot "
                                   "unattended up to its boot limit, then print the final version, "
                                   "verdicts and measures.")
    t.add_argument("--method", default="ab", choices=methods)
    t.add_argument("--payload", default="v2", choices=PAYLOADS + tuple(V2_ROUTES),
                   help="v2-delta: v2 through OSTree's static delta (ostree only); v1: an older "
                        "release, offered to a device --from v2")
    t.add_argument("--from", dest="start", default="v1", choices=START_VERSIONS,
                   help="where the device starts when the update is offered: v1 (factory), v2 (a device "
                        "updated to v2 once), v2-bad (one that rolled back from v2-bad to v1); a start "
                        "is built once and kept in build/starts/")
    t.add_argument("--fault", type=parse_fault, metavar="KIND:AFTER[:COUNT]",
                   help="server fault on the payload download, e.g. close:50000000:6")
    t.add_argument("--corrupt-env", action="store_true", help="destroy both env copies first")
    t.add_argument("--cut", metavar="SPEC",
                   help="cut power at this point of the update, e.g. n=17,edge=after "
                        "(keys: n, edge, syscall, phase, path, target, torn, bytes)")
    t.add_argument("--client", default="safe", choices=clients,
                   help="'unsafe' runs the deliberately broken test fixture client")
    t.add_argument("--state", metavar="TOKEN",
                   help="power on from a crash state of the recorded disk life instead of updating, "
                        "e.g. prefix:120, dropped:130:121, torn:57:4096:zero (record --model storage)")
    t.add_argument("--lazy-writeback", action="store_true",
                   help="keep what the update writes in the guest's page cache until a program syncs")
    t.add_argument("--json", action="store_true", help="also print the result as one JSON line")
    t.add_argument("--keep", type=Path, metavar="DIR", help="keep disks and console logs in DIR")
    t.set_defaults(func=cmd_trial)

    r = sub.add_parser("record", help="list every cut point of an update (record mode)",
                       description="Run the update once under the fault-injection agent in record "
                                   "mode and keep every candidate cut point in build/records/; "
                                   "with --model storage, log every write and flush the disk sees "
                                   "from power-on to the settled new version (build/records/life/).")
    r.add_argument("--method", default="ab", choices=methods)
    r.add_argument("--client", default="safe", choices=clients,
                   help="with --model storage: record the life of a test fixture client")
    r.add_argument("--model", default="syscall", choices=MODELS,
                   help="syscall: the client's cut points; storage: the disk's writes and flushes")
    r.add_argument("--from", dest="start", default="v1", choices=START_VERSIONS,
                   help="record the update a device on this version takes (v2: the second update, to v3; "
                        "v2-bad: v2 after v2-bad was rolled back)")
    r.set_defaults(func=cmd_record)

    c = sub.add_parser("campaign", help="a power-cut trial per point: atomic? completes?",
                       description="Cut power at every recorded bootloader point and at all or a "
                                   "seeded sample of each other phase's points (both edges), one trial "
                                   "each, in parallel; results go to a JSON-lines journal.")
    c.add_argument("--method", default="ab", choices=methods)
    c.add_argument("--methods", metavar="all|M1,M2",
                   help="a comparative campaign over these methods: scenarios (happy path, rollback, "
                        "refusals, downtime runs) and cuts, then the HTML report")
    c.add_argument("--downtime-runs", type=positive_int, default=5,
                   help="plain updates per method in a comparative campaign (default 5)")
    c.add_argument("--evidence", action="store_true",
                   help="with --methods: also write the evidence bundle next to the report")
    c.add_argument("--cuts", type=cuts_arg, default="all",
                   help="'all' or points per phase to sample from the phases other than bootloader "
                   "(0: the bootloader points alone)")
    c.add_argument("--seed", type=int, default=1, help="seed of the sample (default 1)")
    c.add_argument("-j", "--jobs", type=positive_int, default=2, help="trials in parallel")
    c.add_argument("--client", default="safe", choices=clients,
                   help="'unsafe' runs the deliberately broken fixture: the campaign must flag it")
    c.add_argument("--from", dest="start", default="v1", choices=START_VERSIONS,
                   help="cut the update a device on this version takes (v2: the second update, to v3; v2-bad: "
                        "v2 after v2-bad was rolled back), cold trials from a start built once; record "
                        "it with 'record --from'")
    c.add_argument("--phase", action="append", metavar="PHASE",
                   help="only the cuts of this phase (repeatable), e.g. confirm: the new version's first "
                        "confirmation and the cleanup after it")
    c.add_argument("--record", type=Path, metavar="FILE",
                   help="the cut points to plan from (default build/records/METHOD.jsonl); "
                        "it must have been recorded on the images built now")
    c.add_argument("--journal", type=Path, help="journal file (default under build/journals/)")
    c.add_argument("--resume", action="store_true", help="skip trials already in the journal")
    c.add_argument("--trial-timeout", type=positive_float, default=campaign.DEFAULT_TRIAL_TIMEOUT,
                   metavar="SECONDS", help="a trial still running after this long is ended and journaled "
                                           f"as a timeout (default {campaign.DEFAULT_TRIAL_TIMEOUT:.0f})")
    c.add_argument("--model", default="syscall", choices=MODELS,
                   help="syscall: cut at the client's syscalls; storage: judge crash states of the "
                        "disk's recorded life (prefixes, writes lost from the disk cache, torn writes)")
    c.add_argument("--entries", type=entries_arg, metavar="A-B",
                   help="storage model: only the crash states whose power went within these entries of "
                        "the disk's life (and the firmware's), e.g. the writes of one file")
    c.add_argument("--lazy-writeback", action="store_true",
                   help="syscall model: keep what the update writes in the guest's page cache until a "
                        "program syncs (every trial starts cold)")
    c.add_argument("--cold", action="store_true",
                   help="cold-boot every trial instead of starting from a snapshot of its phase (or, for a "
                        "cut in the confirmation, from the disk its update left at the reboot)")
    c.add_argument("--judge-every-trial", action="store_true",
                   help="boot and judge every trial, even when its cut left a disk byte-identical to one "
                        "an earlier trial of the campaign judged (by default it takes that outcome), and "
                        "re-run its update from a cold boot (by default from the boot that settled after "
                        "the cut, held while its disk is judged)")
    c.add_argument("--fresh-snapshots", action="store_true",
                   help="take every snapshot in this run, none from the copies an earlier campaign on the "
                        "same images, QEMU, harness and guest clock kept in the cache (kept anew)")
    c.add_argument("--shard", type=shard_arg, metavar="I/N",
                   help="run only shard I of N of the plan (the same plan splits the same way "
                        "everywhere); merge the shards' journals with 'brownout merge'")
    c.set_defaults(func=cmd_campaign)

    rep = sub.add_parser("report", help="HTML comparison report of a journal (and its evidence bundle)",
                         description="Write a self-contained HTML report of JOURNAL: outcome matrix, "
                                     "scenario results, plots, a strategy table and every failing "
                                     "trial with its reproduction command and console log.")
    rep.add_argument("journal", type=Path, metavar="JOURNAL")
    rep.add_argument("-o", "--output", type=Path, metavar="OUT.html",
                     help="report file (default: next to the journal, .html)")
    rep.add_argument("--evidence", action="store_true",
                     help="also write <stem>-evidence.tar.gz next to the report: report, journal, "
                          "plan, image digests, tool versions, seeds, failing trials' logs, SHA256SUMS")
    rep.add_argument("--model", choices=MODELS,
                     help="only this fault model's cut trials (default: both, the storage model's "
                          "labelled 'METHOD [storage]')")
    rep.set_defaults(func=cmd_report)

    m = sub.add_parser("merge", help="join journals (shards) into one",
                       description="Join journals into OUT: one entry per trial id (a later "
                                   "journal wins, with a warning), ordered by time, written atomically.")
    m.add_argument("output", type=Path, metavar="OUT")
    m.add_argument("journals", type=Path, nargs="+", metavar="JOURNAL")
    m.set_defaults(func=cmd_merge)

    bench = sub.add_parser("bench", help="benchmarks that print figures",
                           description="Benchmarks. They print figures; they do not pass or fail. "
                                       "Without a BENCHMARK: boot time and cut trials per hour "
                                       "for every method.")
    bench.add_argument("--boots", type=positive_int, default=3, help="cold boots per method (default 3)")
    bench.add_argument("--trials", type=positive_int, default=8, help="cut trials per method (default 8)")
    bench.add_argument("-j", "--jobs", type=positive_int, default=2)
    bench.add_argument("--json", type=Path, metavar="FILE",
                       help="also write the figures as JSON to FILE (for 'brownout results --bench')")
    bench.set_defaults(func=cmd_bench_all)
    bench_sub = bench.add_subparsers(dest="bench", metavar="BENCHMARK")
    bb = bench_sub.add_parser("boot", help="cold power-on to first heartbeat, by stage",
                              description="Cold-boot fresh devices RUNS times and print min, "
                                          "median and max of each boot stage.")
    bb.add_argument("--runs", type=positive_int, default=10)
    bb.add_argument("--method", default="ab", choices=methods)
    bb.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each boot")
    bb.add_argument("--json", type=Path, metavar="FILE", default=argparse.SUPPRESS,
                    help="also write the figures as JSON to FILE")
    bb.set_defaults(func=cmd_bench_boot)
    bt = bench_sub.add_parser("trials", help="power-cut trials per hour, over every phase",
                              description="Run TRIALS cut trials per method at a seeded sample of recorded "
                                          "points taken in turn from every phase, JOBS in parallel, and "
                                          "print trials per hour and where a trial's time goes.")
    bt.add_argument("--method", default="ab", choices=(*methods, "all"), help="a method, or all of them")
    bt.add_argument("--trials", type=positive_int, default=16,
                    help="distinct cut trials per method, taken in turn from its phases (default 16: four "
                         "a phase, so each phase's trials share a snapshot, as a campaign's do)")
    bt.add_argument("-j", "--jobs", type=positive_int, default=2)
    bt.add_argument("--cold", action="store_true", help="cold-boot every trial (no snapshots)")
    bt.add_argument("--judge-every-trial", action="store_true",
                    help="boot and judge every trial, even when its cut left a disk already judged, and "
                         "re-run its update from a cold boot")
    bt.add_argument("--fresh-snapshots", action="store_true",
                    help="take every snapshot in the run, as the first campaign on new images does, none "
                         "from the copies an earlier campaign kept")
    bt.add_argument("--both-ways", action="store_true",
                    help="run the sample again with every trial cold, judged on its own and re-run from a "
                         "cold boot, and compare the outcomes and the phase and call each cut fired at")
    bt.add_argument("--json", type=Path, metavar="FILE", default=argparse.SUPPRESS,
                    help="also write the figures as JSON to FILE")
    bt.set_defaults(func=cmd_bench_trials)
    bs = bench_sub.add_parser("states", help="crash states judged per hour (storage model)",
                              description="Judge a seeded sample of STATES crash states of the method's "
                                          "recorded disk life, one cold power-on per class of equivalent "
                                          "states, JOBS in parallel, then as many syscall-model "
                                          "bootloader-point trials as power-ons, and print both per hour.")
    bs.add_argument("--method", default="ab", choices=methods)
    bs.add_argument("--states", type=positive_int, default=12)
    bs.add_argument("--both-ways", action="store_true",
                    help="also judge every sampled state on its own and compare the outcomes")
    bs.add_argument("--seed", type=int, default=1)
    bs.add_argument("-j", "--jobs", type=positive_int, default=2)
    bs.add_argument("--json", type=Path, metavar="FILE", default=argparse.SUPPRESS,
                    help="also write the figures as JSON to FILE")
    bs.set_defaults(func=cmd_bench_states)

    res = sub.add_parser("results", help="write docs/results.md from journals and bench figures",
                         description="Write a Markdown page of results: per journal, the outcome counts per "
                                     "method and phase, the trials without a cut, each method's strategy "
                                     "figures, errors and timeouts; per bench file, its figures. The page is "
                                     "stamped with the date, host, commit and image keys. Without JOURNALs: "
                                     "every build/journals/*.jsonl and build/demo/demo.jsonl that exists.")
    res.add_argument("journals", type=Path, nargs="*", metavar="JOURNAL")
    res.add_argument("--bench-only", action="store_true", help="the bench figures alone, no journal")
    res.add_argument("--bench", type=Path, action="append", default=[], metavar="FILE",
                     help="output of 'brownout bench --json FILE' to include (repeatable)")
    res.add_argument("-o", "--output", type=Path, metavar="OUT.md",
                     help=f"page to write (default {results.DEFAULT_OUTPUT.relative_to(images.REPO)})")
    res.set_defaults(func=cmd_results)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    interrupt_on_term()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="brownout: %(message)s", stream=sys.stderr)
    try:
        return args.func(args)
    except HarnessError as e:
        print(f"brownout: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("brownout: interrupted", file=sys.stderr)
        return 130
