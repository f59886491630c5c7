"""The `brownout` command line."""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from . import HarnessError
from . import campaign, images
from .boot import format_timeline, spread, wait_boot
from .device import Device
from .methods import METHODS
from .qemu import Machine
from .server import Fault
from .trial import PAYLOADS, V2_ROUTES, TrialSpec, run_trial

log = logging.getLogger("brownout")


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


def cmd_demo(args: argparse.Namespace) -> int:
    # Until the comparative campaign exists, the demo shows the foundation:
    # a cold boot of the A/B device through U-Boot, stage by stage.
    images.build()
    log.info("demo: cold boot of the A/B device through U-Boot")
    out = images.BUILD / "demo"
    timeline = boot_once("ab", args.timeout, keep=out)
    print(format_timeline(timeline))
    print(f"console log: {out / 'console.log'}")
    return 0


def cmd_bench_boot(args: argparse.Namespace) -> int:
    timelines = []
    for run in range(1, args.runs + 1):
        timeline = boot_once(args.method, args.timeout)
        timelines.append(timeline)
        log.info("run %d/%d: %.3f s to first heartbeat", run, args.runs, timeline.total_s)
    print(f"cold power-on to first heartbeat, {args.method}, {args.runs} runs (seconds):")
    print(f"  {'stage':<12} {'min':>7} {'median':>7} {'max':>7}")
    for row in spread(timelines):
        print(f"  {row.name:<12} {row.min:7.3f} {row.median:7.3f} {row.max:7.3f}")
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
    spec = TrialSpec(args.method, args.payload, args.fault, args.corrupt_env, args.cut, args.client)
    log.info("trial: %s", spec.reproduce())
    result = run_trial(spec, run_dir=args.keep)
    print(result.summary())
    if args.json:
        print(json.dumps(result.as_dict()))
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    images.build()
    log.info("record: running the %s update once under the agent, recording every cut point", args.method)
    path = campaign.record(args.method)
    _, points = campaign.load_record(args.method, path)
    by_phase = Counter(p["phase"] for p in points)
    print(f"{len(points)} cut points recorded in {path}: "
          + ", ".join(f"{phase} {by_phase[phase]}" for phase in (*campaign.PHASES, "none")))
    return 0


def cmd_campaign(args: argparse.Namespace) -> int:
    images.build()
    _, points = campaign.load_record(args.method)
    planned = campaign.plan(args.method, "v2", points, args.cuts, args.seed, args.client)
    journal = campaign.Journal(args.journal or images.BUILD / "journals" / f"{args.method}-{args.client}-seed{args.seed}.jsonl")
    if journal.path.exists() and not args.resume:
        raise HarnessError(f"journal {journal.path} exists: add --resume to continue it, or --journal NEW")
    by_phase = Counter(c.phase for c in planned)
    log.info("campaign: %d trials (%s), seed %d, %d jobs, journal %s", len(planned),
             ", ".join(f"{k} {v}" for k, v in by_phase.items()), args.seed, args.jobs, journal.path)
    status = campaign.run(planned, journal, args.seed, args.jobs, args.resume)
    entries = [e for e in journal.entries() if e["id"] in {c.id for c in planned}]
    print(f"campaign {args.method} ({args.client} client), {len(entries)} of {len(planned)} trials in {journal.path}:")
    print(campaign.summarize(entries))
    failing = [e for e in entries if campaign.outcome(e) != "atomic+completes"]
    for e in failing:
        print(f"  {e['id']}: {campaign.outcome(e)}: {e['reproduce']}")
    if status not in (0, 1):
        raise HarnessError(f"the campaign's pytest run ended with status {status}; see its output above")
    # Non-zero when any trial was not atomic and complete: the campaign flags it.
    return 1 if failing else 0


def cuts_arg(text: str) -> str:
    if text == "all" or (text.isdigit() and int(text) > 0):
        return text
    raise argparse.ArgumentTypeError("must be 'all' or a positive number of points per phase")


def cmd_bench_trials(args: argparse.Namespace) -> int:
    """Trials per hour: a campaign over the bootloader points, timed end to end."""
    images.build()
    _, points = campaign.load_record(args.method)
    planned = [c for c in campaign.plan(args.method, "v2", points, "1", 1) if c.phase == "bootloader"]
    planned = (planned * (args.trials // len(planned) + 1))[:args.trials]
    planned = [dataclasses.replace(c, id=f"{c.id}-bench{i}") for i, c in enumerate(planned)]
    with tempfile.TemporaryDirectory(prefix="brownout-bench-") as tmp:
        journal = campaign.Journal(Path(tmp) / "bench.jsonl")
        started = time.monotonic()
        campaign.run(planned, journal, 1, args.jobs, resume=False)
        wall = time.monotonic() - started
        entries = journal.entries()
    if not entries:
        raise HarnessError("no trial finished")
    print(f"{len(entries)} {args.method} bootloader-point trials, -j {args.jobs}: {wall:.0f} s wall, "
          f"{wall / len(entries):.1f} s per trial, {3600 * len(entries) / wall:.0f} trials/hour")
    return 0


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
    b.add_argument("--step", action="append", choices=[s.name for s in images.STEPS],
                   help="build only this step and what it needs (repeatable)")
    b.add_argument("--force", action="store_true", help="rebuild even if up to date")
    b.set_defaults(func=cmd_build)

    methods = sorted(METHODS)
    s = sub.add_parser("boot", help="cold-boot a fresh device and print its boot timeline",
                       description="Boot a fresh device of METHOD through U-Boot to its first "
                                   "heartbeat and print the time spent in each stage.")
    s.add_argument("--method", default="ab", choices=methods)
    s.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the boot")
    s.add_argument("--keep-log", type=Path, metavar="DIR", help="copy the console log into DIR")
    s.set_defaults(func=cmd_boot)

    d = sub.add_parser("demo", help="the README's demo: build, then boot the A/B device",
                       description="Build the default images (cached) and cold-boot the A/B "
                                   "device through U-Boot, printing its boot timeline.")
    d.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the boot")
    d.set_defaults(func=cmd_demo)

    t = sub.add_parser("trial", help="update one fresh device, no power cut, and judge it",
                       description="Boot a fresh device on v1, update it to PAYLOAD, let it boot "
                                   "unattended up to its boot limit, then print the final version, "
                                   "verdicts and measures.")
    t.add_argument("--method", default="ab", choices=methods)
    t.add_argument("--payload", default="v2", choices=PAYLOADS + tuple(V2_ROUTES),
                   help="v2-delta: v2 through OSTree's static delta (ostree only)")
    t.add_argument("--fault", type=parse_fault, metavar="KIND:AFTER[:COUNT]",
                   help="server fault on the payload download, e.g. close:50000000:6")
    t.add_argument("--corrupt-env", action="store_true", help="destroy both env copies first")
    t.add_argument("--cut", metavar="SPEC",
                   help="cut power at this point of the update, e.g. n=17,edge=after "
                        "(keys: n, edge, syscall, phase, path, target, torn, bytes)")
    t.add_argument("--client", default="safe", choices=sorted({c for m in METHODS.values() for c in m.clients}),
                   help="'unsafe' runs the deliberately broken test fixture client")
    t.add_argument("--json", action="store_true", help="also print the result as one JSON line")
    t.add_argument("--keep", type=Path, metavar="DIR", help="keep disks and console logs in DIR")
    t.set_defaults(func=cmd_trial)

    r = sub.add_parser("record", help="list every cut point of an update (record mode)",
                       description="Run the update once under the fault-injection agent in record "
                                   "mode and keep every candidate cut point in build/records/.")
    r.add_argument("--method", default="ab", choices=methods)
    r.set_defaults(func=cmd_record)

    c = sub.add_parser("campaign", help="a power-cut trial per point: atomic? completes?",
                       description="Cut power at every recorded bootloader point and at all or a "
                                   "seeded sample of pull and deploy points (both edges), one trial "
                                   "each, in parallel; results go to a JSON-lines journal.")
    c.add_argument("--method", default="ab", choices=methods)
    c.add_argument("--cuts", type=cuts_arg, default="all", help="'all' or points per phase to sample")
    c.add_argument("--seed", type=int, default=1, help="seed of the sample (default 1)")
    c.add_argument("-j", "--jobs", type=positive_int, default=2, help="trials in parallel")
    c.add_argument("--client", default="safe", choices=sorted({c for m in METHODS.values() for c in m.clients}),
                   help="'unsafe' runs the deliberately broken fixture: the campaign must flag it")
    c.add_argument("--journal", type=Path, help="journal file (default under build/journals/)")
    c.add_argument("--resume", action="store_true", help="skip trials already in the journal")
    c.set_defaults(func=cmd_campaign)

    bench = sub.add_parser("bench", help="benchmarks that print figures",
                           description="Benchmarks. They print figures; they do not pass or fail.")
    bench_sub = bench.add_subparsers(dest="bench", required=True, metavar="BENCHMARK")
    bb = bench_sub.add_parser("boot", help="cold power-on to first heartbeat, by stage",
                              description="Cold-boot fresh devices RUNS times and print min, "
                                          "median and max of each boot stage.")
    bb.add_argument("--runs", type=positive_int, default=10)
    bb.add_argument("--method", default="ab", choices=methods)
    bb.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each boot")
    bb.set_defaults(func=cmd_bench_boot)
    bt = bench_sub.add_parser("trials", help="power-cut trials per hour (bootloader points)",
                              description="Run TRIALS cut trials at the recorded bootloader points, "
                                          "JOBS in parallel, and print trials per hour.")
    bt.add_argument("--method", default="ab", choices=methods)
    bt.add_argument("--trials", type=positive_int, default=8)
    bt.add_argument("-j", "--jobs", type=positive_int, default=2)
    bt.set_defaults(func=cmd_bench_trials)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
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
