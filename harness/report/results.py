"""The results page: docs/results.md, generated from journals and bench figures.

Every figure on the page is computed from the journals' entries (through the
same functions as the campaign summary and the HTML report) or read from a
bench's JSON output; nothing is written in advance. The page is stamped with
what it was made from: the date, the host, the commit and the image keys.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
from typing import Sequence
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import HarnessError
from ..campaign.journal import UNFINISHED, Entry, latest, load_journal
from ..images import BUILD, REPO, built_key, by_name, source_state, steps
from ..machine.qemu import DEFAULT_QEMU, qemu_version
from ..methods import METHODS
from ..trial.run import TIMINGS
from .html import OUTCOMES, Spread, column, label, matrix, size, strategies

DEFAULT_OUTPUT = REPO / "docs" / "results.md"
BENCH_FORMAT = 1


def default_journals() -> list[Path]:
    """Every campaign journal under build/journals, and the demo's, that exists."""
    found = sorted((BUILD / "journals").glob("*.jsonl"))
    demo = BUILD / "demo" / "demo.jsonl"
    return found + ([demo] if demo.is_file() else [])


# -- the stamp: what a page (or a bench's figures) was made on and from

@dataclass(frozen=True)
class Stamp:
    generated: str                   # UTC, "YYYY-MM-DD HH:MM UTC"
    nproc: int | None
    memory: str                      # MemTotal from /proc/meminfo
    cpu: str
    kernel: str
    qemu: str                        # first line of `qemu-system-aarch64 --version`
    commit: str                      # short hash, or "unknown"
    dirty: bool | None               # uncommitted changes in the tree; None: unknown
    images: dict[str, str | None]    # build step -> key of what is built (None: not built)


def memory(meminfo: Path = Path("/proc/meminfo")) -> str:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])
                return f"{kib / 2 ** 20:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return "unknown"


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's name as /proc/cpuinfo gives it (x86: model name; Arm: the implementer and part)."""
    try:
        fields = dict(line.split(":", 1) for line in cpuinfo.read_text().splitlines() if ":" in line)
    except OSError:
        fields = {}
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    for key in ("model name", "Model", "Hardware", "cpu model"):
        if fields.get(key):
            return fields[key]
    if fields.get("CPU implementer"):
        return f"implementer {fields['CPU implementer']}, part {fields.get('CPU part', '?')}"
    return platform.processor() or platform.machine() or "unknown"


def nproc() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count()


def stamp(now: datetime.datetime | None = None) -> Stamp:
    now = now or datetime.datetime.now(datetime.timezone.utc)
    commit, dirty = source_state()
    return Stamp(now.strftime("%Y-%m-%d %H:%M UTC"), nproc(), memory(), cpu_model(), os.uname().release,
                 qemu_version() or f"{DEFAULT_QEMU} not found",
                 commit, dirty, {s.name: built_key(s) for s in steps()})


def _commit_text(s: Stamp) -> str:
    state = {True: "with uncommitted changes", False: "clean tree", None: "tree state unknown"}[s.dirty]
    return f"`{s.commit}` ({state})"


def _host_text(s: Stamp) -> str:
    cpus = f"{s.nproc} CPUs" if s.nproc else "CPUs unknown"
    return f"{cpus}, {s.memory} memory, {s.cpu}, Linux {s.kernel}"


# -- bench figures: written by `brownout bench --json FILE`, read back here

def write_bench(path: Path, benchmark: str, figures: dict, began: Stamp | None = None) -> Path:
    """One bench run's figures as JSON, with the stamp of the machine it ran
    on, taken as the run began (`began`; now if not given): the commit is the
    code that ran, whatever was committed while it ran."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"brownout_bench": BENCH_FORMAT, "benchmark": benchmark, "stamp": asdict(began or stamp()), **figures}
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path


def load_bench(path: Path) -> dict:
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except OSError:
        raise HarnessError(f"no bench output at {path}") from None
    except ValueError:
        raise HarnessError(f"{path} is not bench output of 'brownout bench --json' (not JSON)") from None
    if not isinstance(record, dict) or record.get("brownout_bench") != BENCH_FORMAT or "benchmark" not in record:
        raise HarnessError(f"{path} is not bench output of 'brownout bench --json'")
    return record


# -- the page

def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")
    return ["| " + " | ".join(map(cell, head)) + " |", "|" + " --- |" * len(head),
            *("| " + " | ".join(map(cell, r)) + " |" for r in rows), ""]


def _shown(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def _span(entries: list[Entry]) -> str:
    times = [e.time for e in entries if e.time]
    if not times:
        return "-"
    return " to ".join(datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
                       for t in (min(times), max(times)))


def trials_wall_s(entries: list[Entry]) -> float | None:
    """Seconds from the first trial's start to the last trial's end, each
    trial's start its end less the host time it took (its timings); None
    unless every entry was timed."""
    timed = [(e.time, sum(e.timings.values())) for e in entries if e.time and e.timings]
    if not entries or len(timed) < len(entries):
        return None
    return max(end for end, _ in timed) - min(end - took for end, took in timed)


def _trials_rate(entries: list[Entry]) -> str | None:
    wall = trials_wall_s(entries)
    if not wall:
        return None
    return (f"{wall:.1f} s from the first trial's start to the last one's end, {3600 * len(entries) / wall:.0f} "
            f"trials/hour (a resumed journal's pauses count too; the campaign's own start does not)")


def _spread(d: Spread | None, unit: str = "s") -> str:
    return "n/a" if d is None else f"{d.median:.2f} {unit} ({d.low:.2f}–{d.high:.2f})"


def _median(d: Spread | None) -> str:
    return "n/a" if d is None else size(d.median)


def outcome_rows(entries: list[Entry]) -> tuple[list[str], list[list[str]]]:
    """Cut trials: per method and phase, how many ended in each outcome (the report's matrix)."""
    cells = matrix(entries)
    seen = {o for c in cells.values() for o in c}
    columns = [o for o in OUTCOMES if o in seen]
    rows = [[m, p, *(str(c[o]) for o in columns), str(sum(c.values()))] for (m, p), c in cells.items()]
    return ["method", "phase", *columns, "trials"], rows


NOT_RECORDED = "not recorded"


def state_kind_rows(entries: list[Entry]) -> tuple[list[str], list[list[str]]]:
    """Storage-model trials: per method and kind of crash state (prefix, dropped,
    torn), how many states ended in each outcome, each trial counting for itself
    and the equivalent states it was judged for."""
    cells: dict[tuple[str, str], Counter] = {}
    for e in entries:
        if e.kind != "cut" or e.model != "storage":
            continue
        mine = (e.cut or {}).get("kind") or NOT_RECORDED
        counts = Counter({mine: 1})
        if e.equivalent_kinds is not None:
            counts.update(e.equivalent_kinds)
        elif e.equivalents:
            counts[NOT_RECORDED] += e.equivalents
        for kind, n in counts.items():
            cells.setdefault((label(e), kind), Counter())[column(e)] += n
    seen = {o for c in cells.values() for o in c}
    columns = [o for o in OUTCOMES if o in seen] + sorted(seen - set(OUTCOMES))
    rows = [[m, k, *(str(c[o]) for o in columns), str(sum(c.values()))] for (m, k), c in sorted(cells.items())]
    return ["method", "kind of state", *columns, "states"], rows


def scenario_rows(entries: list[Entry]) -> list[list[str]]:
    """Trials without a cut: per method and kind, how many met their expectation, and why the others did not."""
    groups: dict[tuple[str, str], list[Entry]] = {}
    for e in entries:
        if e.kind != "cut":
            groups.setdefault((label(e), e.kind), []).append(e)
    rows = []
    for (m, k), runs in sorted(groups.items()):
        why = Counter(e.failure for e in runs if e.failure is not None)
        rows.append([m, k, str(len(runs)), str(len(runs) - sum(why.values())),
                     "; ".join(f"{n} × {reason}" for reason, n in sorted(why.items())) or "-"])
    return rows


def refusals(entries: list[Entry], method: str) -> str:
    runs = [e for e in entries if label(e) == method and e.kind == "refusal"]
    if not runs:
        return "not tested"
    return f"{sum(e.failure is None for e in runs)}/{len(runs)} refused"


def strategy_rows(entries: list[Entry], layouts: dict[str, Path] | None = None) -> list[list[str]]:
    rows = []
    for s in strategies(entries, layouts):
        rows.append([
            s.method,
            f"{s.cuts_ok}/{s.cuts}" if s.cuts else "not tested",
            f"{s.rolled_back}/{s.rollbacks} rolled back" if s.rollbacks else "not tested",
            refusals(entries, s.method),
            _spread(s.downtime_s), _median(s.downloaded), _median(s.written),
            "n/a" if s.overhead is None else size(s.overhead),
            f"{s.happy_failed} left out" if s.happy_failed else "0",
            str(s.open_outages)])
    return rows


STRATEGY_HEAD = ["method", "cut trials atomic+completes", "rollback (v2-bad)", "refusals",
                 "downtime, median (range)", "downloaded, median", "written, median", "storage overhead",
                 "failed plain updates", "outages that never ended"]


def journal_section(path: Path, layouts: dict[str, Path] | None = None) -> list[str]:
    every = load_journal(path)
    entries = latest(every)
    finals = Counter(e.final for e in entries)
    cuts = [e for e in entries if e.kind == "cut"]
    seeds = sorted({e.seed for e in entries if e.seed is not None})
    commits = sorted({e.commit for e in entries if e.commit})
    keys = sorted({json.dumps(e.images, sort_keys=True) for e in entries if e.images})
    out = [f"### `{_shown(path)}`", ""]
    facts = [("trials", f"{len(entries)} ({len(cuts)} cut trials, {len(entries) - len(cuts)} without a cut)"),
             ("without a verdict", f"{finals['error']} error, {finals['timeout']} timeout"),
             ("failing their expectation", str(sum(e.failure is not None for e in entries))),
             ("trials ran", _span(entries)),
             *([("trials' wall time", rate)] if (rate := _trials_rate(entries)) else []),
             ("seeds", ", ".join(map(str, seeds)) or "-"),
             ("source commits the trials ran on", ", ".join(f"`{c}`" for c in commits) or "not recorded"),
             ("image keys the trials ran on", "; ".join(f"`{k}`" for k in keys) or "not recorded")]
    if len(every) > len(entries):
        facts.append(("re-run", f"{len(every) - len(entries)} earlier line(s) of trials run again; "
                                f"the last run of each is counted"))
    older = sum(e.legacy for e in entries)
    if older:
        facts.append(("older entries", f"{older} of an older journal shape, counted with the verdicts "
                                       f"they were recorded with (no boot-by-boot evidence)"))
    out += [f"- {k}: {v}" for k, v in facts] + [""]
    head, rows = outcome_rows(entries)
    out += ["#### Cut trials: outcome per method and phase", ""]
    out += _table(head, rows) if rows else ["No cut trials in this journal.", ""]
    head, rows = state_kind_rows(entries)
    if rows:
        out += ["#### Crash states: outcome per method and kind of state", "",
                "Storage model: every state counted, those judged by one trial for a class of equivalent "
                "states included. A prefix keeps every write up to the power loss; dropped loses writes the "
                "disk had not flushed; torn cuts one write at a 512-byte boundary.", ""]
        out += _table(head, rows)
    scenarios = scenario_rows(entries)
    out += ["#### Trials without a cut: per method and kind", ""]
    out += (_table(["method", "kind", "trials", "as expected", "not as expected"], scenarios) if scenarios
            else ["No trials without a cut in this journal.", ""])
    out += ["#### Per method: what a strategy costs", "",
            "Cut trials count atomic+completes with nothing broken booted on the way. Downtime, bytes "
            "downloaded and bytes written are over the plain v1 to v2 updates (happy and downtime runs) that "
            "ended cleanly on v2; failed ones are counted apart. Storage overhead is every partition a method "
            "adds beyond boot, data and one root, from the disk layouts built when the page was generated, "
            "plus repository growth (OSTree).", ""]
    out += _table(STRATEGY_HEAD, strategy_rows(entries, layouts))
    unfinished = [e for e in entries if e.final in UNFINISHED]
    if unfinished:
        out += ["#### Trials that ended in error or timeout", ""]
        out += _table(["id", "final", "reason", "reproduce"],
                      [[e.id or label(e), e.final, (e.error or "no reason recorded").splitlines()[0],
                        f"`{e.reproduce}`"] for e in unfinished])
    return out


# The suite's files shown one by one on the page, the longest; the rest are summed in one row.
SUITE_FILES_SHOWN = 15
# A campaign long enough that its start and snapshots vanish (cli.long_run_rate).
RATE_LONG_RUN = "long run (snapshots taken)"


def _alone_label(rate: dict) -> str:
    """The row of a sample run again with every shortcut off: its trials cold if it says so."""
    cold = "each cold, " if rate["judged_alone"].get("cold") else "each "
    return f"{rate['method']}, {cold}judged on its own, re-run cold"


def bench_section(path: Path) -> list[str]:
    b = load_bench(path)
    s = b.get("stamp", {})
    host = f"{s.get('nproc') or '?'} CPUs, {s.get('memory', '?')} memory, {s.get('cpu', '?')}, " \
           f"Linux {s.get('kernel', '?')}; {s.get('qemu', '?')}"
    commit = f"`{s.get('commit', '?')}`" + (" (with uncommitted changes)" if s.get("dirty") else "")
    out = [f"### `{_shown(path)}`: {b['benchmark']}", "",
           f"- run: {s.get('generated', '?')}, commit {commit}", f"- host: {host}", ""]
    if b["benchmark"] == "boot":
        out += [f"Cold power-on to first heartbeat, {b.get('method')}, {b.get('runs')} runs (seconds):", ""]
        out += _table(["stage", "min", "median", "max"],
                      [[r["name"], f"{r['min']:.3f}", f"{r['median']:.3f}", f"{r['max']:.3f}"]
                       for r in b.get("stages", [])])
    elif b["benchmark"] == "trials":
        rates = b.get("methods") or [b]
        rows = []
        for r in rates:
            slot = f" ({r['same_but_slot']} but for the target slot)" if r.get("same_but_slot") else ""
            rows.append(_rate_row(r["method"], r) + [f"{r.get('same_disk', '-')}{slot}"])
            if "judged_alone" in r:
                rows.append(_rate_row(_alone_label(r), r["judged_alone"]) + ["0"])
        out += _table(["method", "trials", "jobs", "start", "wall", "trials/hour", "after the first (snapshot)",
                       RATE_LONG_RUN, "outcomes", "outcome of a disk already judged"], rows)
        for r in rates:
            if "judged_alone" in r:
                differing = r.get("differing", [])
                out += [f"{r['method']}: the same outcome and cut both ways for {r['trials'] - len(differing)} of "
                        f"{r['trials']} trials" + (f"; differing: {', '.join(differing)}" if differing else "")
                        + ".", ""]
        labelled = [(r["method"], r) for r in rates]
        labelled += [(_alone_label(r), r["judged_alone"]) for r in rates
                     if "judged_alone" in r]
        timed = [(label, r) for label, r in labelled if r.get("timings")]
        if timed:
            parts = [k for k in TIMINGS if any(k in r["timings"] for _, r in timed)]
            out += ["Where a trial's host time goes, mean seconds per trial:", ""]
            out += _table(["method", "phases cut", *parts],
                          [[label, ", ".join(f"{p} {n}" for p, n in r.get("phases", {}).items()),
                            *(f"{r['timings'][k]:.1f}" if k in r["timings"] else "-" for k in parts)]
                           for label, r in timed])
    elif b["benchmark"] == "states":
        out += [f"Crash states of {b['method']}'s disk life per hour (storage model, seed {b.get('seed')}): "
                "a seeded sample, one cold power-on per class of equivalent states, next to bootloader-point "
                "trials of the syscall model in the same run:", ""]
        states, rows = b["states"], []
        rows.append(_states_row("storage, one trial per class", states, states.get("judged", states.get("trials"))))
        if "direct" in states:
            rows.append(_states_row("storage, every state on its own", states["direct"], states["direct"]["trials"]))
        rows.append(_states_row("syscall", b["syscall"], b["syscall"]["trials"]))
        out += _table(["model", "states or trials", "trials run", "jobs", "wall", "per hour", "outcomes"], rows)
        if "direct" in states:
            differing = states.get("differing", [])
            out += [f"The same outcome judged both ways for {states['states'] - len(differing)} of "
                    f"{states['states']} states" + (f"; differing: {', '.join(differing)}" if differing else "")
                    + ".", ""]
    elif b["benchmark"] == "all":
        out += [f"Per method, -j {b.get('jobs')}: median cold boot to first heartbeat ({b.get('boots')} boots), "
                f"bootloader-point cut trials per hour ({b.get('trials')} trials):", ""]
        out += _table(["method", "boot, median", "trials", "jobs", "start", "wall", "trials/hour",
                       "after the first (snapshot)", RATE_LONG_RUN, "outcomes"],
                      [[r["method"], f"{r['boot_median_s']:.2f} s", *_rate_row(r["method"], r["rate"])[1:]]
                       for r in b.get("methods", [])])
    elif b["benchmark"] == "demo":
        since = "`make demo`'s start" if b.get("from_make") else "`brownout demo`'s start"
        out += [f"The demo ({b['trials']} trials, -j {b['jobs']}): {b['wall_s']:.0f} s "
                f"({b['wall_s'] / 60:.1f} min) from {since} to its report, part by part:", ""]
        out += _table(["part", "seconds"], [[r["part"], f"{r['seconds']:.0f}"] for r in b["parts"]])
        built, taken = b.get("steps_built", {}), b.get("steps_taken", [])
        if built or taken:
            longest = ", ".join(f"{k} {v:.0f} s" for k, v in sorted(built.items(), key=lambda kv: -kv[1])[:3])
            out += [(f"The image build built {len(built)} steps, two at a time (the longest: {longest})"
                     if built else "The image build built no step") + f" and took {len(taken)} from the cache.", ""]
    elif b["benchmark"] == "suite":
        busy = b["test_s"] / (b["wall_s"] * b["workers"]) if b["wall_s"] else 0
        out += [f"The test suite, as `make test` runs it (pytest, -n {b['workers']}): {b['tests']} tests in "
                f"{b['wall_s']:.0f} s ({', '.join(f'{k} {v}' for k, v in sorted(b['outcomes'].items()))}; "
                f"exit {b['exit_status']}). The tests' own times add up to {b['test_s']:.0f} s: the workers were "
                f"busy {busy:.1%} of the run. Where it goes, per file:", ""]
        shown, rest = b["files"][:SUITE_FILES_SHOWN], b["files"][SUITE_FILES_SHOWN:]
        by_file = [(f"`{r['file']}`", r["tests"], r["seconds"]) for r in shown]
        if rest:
            by_file.append((f"the other {len(rest)} files", sum(r["tests"] for r in rest),
                            sum(r["seconds"] for r in rest)))
        out += _table(["file", "tests", "seconds", "share"],
                      [[name, str(tests), f"{seconds:.0f}", f"{seconds / b['test_s']:.0%}" if b["test_s"] else "-"]
                       for name, tests, seconds in by_file])
    else:
        out += [f"Unknown benchmark '{b['benchmark']}': not shown.", ""]
    return out


def _states_row(model: str, r: dict, run: int) -> list[str]:
    return [model, str(r.get("states", r.get("trials"))), str(run), str(r["jobs"]), f"{r['wall_s']:.0f} s",
            f"{r['per_hour']:.0f}", ", ".join(f"{k} {v}" for k, v in sorted(r.get("outcomes", {}).items())) or "-"]


def _rate_row(method: str, r: dict) -> list[str]:
    steady, long_run = r.get("steady_per_hour"), r.get("long_run_per_hour")
    return [method, str(r["trials"]), str(r["jobs"]), "cold" if r.get("cold") else _snapshots_text(r),
            f"{r['wall_s']:.0f} s", f"{r['per_hour']:.0f}", "-" if steady is None else f"{steady:.0f}",
            "-" if long_run is None else f"{long_run:.0f}",
            ", ".join(f"{k} {v}" for k, v in sorted(r.get("outcomes", {}).items())) or "-"]


def _snapshots_text(r: dict) -> str:
    """Where a run's snapshots came from, when its figures say."""
    if "snapshots_taken" not in r:
        return "snapshots"
    return f"snapshots: {r['snapshots_taken']} taken, {r.get('snapshots_kept', 0)} kept"


def layouts() -> dict[str, Path]:
    """Each method's disk layout, where storage overhead is computed from (as the report does)."""
    return {name: by_name(m.disk_step).out / "layout.json" for name, m in METHODS.items()}


def render(journals: list[Path], benches: list[Path], s: Stamp,
           layouts: dict[str, Path] | None = None, searched: str = "") -> str:
    out = ["# brownout results", "",
           "Generated by `./brownout results`; do not edit by hand. Every figure below is computed from the "
           "journals and bench outputs it names. What the outcomes and verdicts mean: "
           "[README, Concepts](../README.md#concepts).", ""]
    out += [f"- generated: {s.generated}", f"- commit: {_commit_text(s)}", f"- host: {_host_text(s)}",
            f"- QEMU: {s.qemu}", ""]
    if any(s.images.values()):
        out += ["Image keys when the page was generated (the hash of each build step's inputs; a journal's "
                "trials ran on the images built when they ran, which need not be these):", ""]
        out += _table(["step", "key"], [[name, f"`{key}`" if key else "not built"]
                                        for name, key in s.images.items()])
    else:
        out += ["Image keys: no image step was built when the page was generated.", ""]
    out += ["## Campaigns", ""]
    if journals:
        for path in journals:
            out += journal_section(path, layouts)
    elif benches and not searched:
        out += ["Bench figures alone: no journal was asked for.", ""]
    else:
        out += [f"No journals: {searched or 'none were given'}. This page holds no trial results. "
                "Run `make demo` or `./brownout campaign ...`, then `./brownout results`.", ""]
    out += ["## Benchmarks", ""]
    if benches:
        for path in benches:
            out += bench_section(path)
    else:
        out += ["No bench output given (`./brownout bench --json FILE`, then "
                "`./brownout results --bench FILE`).", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def write(out: Path | None = None, journals: list[Path] | None = None, benches: Sequence[Path] = ()) -> Path:
    """Write the page for `journals` (None: every one under build/ that exists) to `out`."""
    searched = ""
    if journals is None:
        searched = (f"none of {_shown(BUILD / 'journals')}/*.jsonl and "
                    f"{_shown(BUILD / 'demo' / 'demo.jsonl')} exists")
        journals = default_journals()
    for path in benches:
        load_bench(path)               # a bad file is one clear error before anything is written
    text = render(list(journals), list(benches), stamp(), layouts(), searched)
    out = Path(out) if out else DEFAULT_OUTPUT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return out
