"""The comparison report: one self-contained HTML page from a journal of trials.

Every figure and verdict on the page is computed from the journal's entries;
nothing about a method is written in advance. Plots are inline SVG and the
style sheet is inline, so the page opens offline and can be archived as
evidence. Everything taken from the journal is HTML-escaped.
"""
from __future__ import annotations

import datetime
import json
import logging
import statistics
from collections import Counter
from dataclasses import dataclass
from html import escape
from pathlib import Path

from ..trial import cutspec
from . import plots
from ..methods import METHODS
from ..trial.runlogs import LOG_LINES, console_tail
from ..campaign.journal import UNFINISHED, Entry, latest, load_journal
from ..trial.run import Measures

log = logging.getLogger(__name__)

OUTCOMES = tuple(plots.OUTCOME_COLOURS)
# Plain v1 -> v2 updates without a fault: where an update's cost is measured.
HAPPY_KINDS = ("happy", "downtime")


def label(entry: Entry) -> str:
    """The method, the client when it is not the real one (an unsafe fixture's
    results must never be read as the method's), and the fault model when it is
    the storage one (a crash state of the disk, not a cut at a syscall)."""
    name = entry.method if entry.client == "safe" else f"{entry.method} ({entry.client} client)"
    if entry.lazy_writeback:
        name += " [lazy writeback]"
    return f"{name} [storage]" if entry.model == "storage" else name


def column(entry: Entry) -> str:
    """The outcome, with every 'not atomic (FINAL)' in one column."""
    result = entry.outcome
    return "not atomic" if result.startswith("not atomic") else result


def cut_index(entry: Entry) -> int | None:
    """Where the cut was aimed: the agent's index, else n= of the spec (a missed cut)."""
    raw = (entry.cut or {}).get("index")
    if raw is None:
        spec = cutspec.try_parse(entry.cut_spec)
        return spec.index if spec and spec.plain_point else None   # n= of a phase counts in it
    try:
        return int(raw)
    except ValueError:
        return None


def edge(entry: Entry) -> str:
    """before | after: from the agent, else from the spec (a missed cut)."""
    spec = cutspec.try_parse(entry.cut_spec)
    return (entry.cut or {}).get("edge") or (spec.edge if spec else "before")


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float


def spread(values: list[float]) -> Spread | None:
    return Spread(statistics.median(values), min(values), max(values)) if values else None


@dataclass(frozen=True)
class Strategy:
    """One method's row of the 'choosing a strategy' table, from its trials."""
    method: str
    cuts_ok: int
    cuts: int
    rolled_back: int
    rollbacks: int
    downtime_s: Spread | None         # happy-path runs that met their expectation
    downloaded: Spread | None         # bytes, the same runs
    written: Spread | None            # bytes, the same runs
    overhead: int | None              # bytes of partitions the method adds, plus repository growth
    happy_failed: int = 0             # happy-path runs that did not end cleanly on v2: kept out of the medians
    open_outages: int = 0             # runs whose application never beat again after the update began


def measure(entries: list[Entry], key: str) -> list[float]:
    return [getattr(e.measures, key) for e in entries if getattr(e.measures, key) is not None]


# Every device has these: firmware files, its data and one root (the largest
# partition of the rest). What a method adds beyond them is its overhead.
BASE_PARTITIONS = ("boot", "data")


def overhead(layout: Path | None, growth: Spread | None = None) -> int | None:
    """Bytes a method needs beyond a plain device, from a disk's layout.json: every
    partition but boot, data and the one root (a second slot, recovery, the boot
    env), plus what an update leaves in the root besides the new tree (OSTree's
    repository growth, median of the happy runs)."""
    try:
        parts = json.loads(Path(layout).read_text())["partitions"] if layout else None
    except (OSError, ValueError, KeyError):
        return None
    rest = [p["size"] for p in parts or () if p.get("name", "") not in BASE_PARTITIONS]
    if not rest:
        return None
    return sum(rest) - max(rest) + (int(growth.median) if growth else 0)


def repo_growth(entries: list[Entry]) -> list[float]:
    """Bytes the device's repository grew by in each run that measured it."""
    out = []
    for e in entries:
        m = e.measures
        if m.repo_kib_before is not None and m.repo_kib_after is not None:
            out.append(1024.0 * (m.repo_kib_after - m.repo_kib_before))
    return out


def strategies(entries: list[Entry], layouts: dict[str, Path] | None = None) -> list[Strategy]:
    rows = []
    for name in sorted({label(e) for e in entries}):
        mine = [e for e in entries if label(e) == name]
        cuts = [e for e in mine if e.kind == "cut"]
        rollbacks = [e for e in mine if e.kind == "rollback"]
        # A failed happy run measures a failure, not the method's cost.
        tried = [e for e in mine if e.kind in HAPPY_KINDS]
        happy = [e for e in tried if e.failure is None]
        rows.append(Strategy(
            name, sum(e.outcome == "atomic+completes" for e in cuts), len(cuts),
            sum(e.failure is None for e in rollbacks), len(rollbacks),
            spread(measure(happy, "downtime_s")), spread(measure(happy, "bytes_downloaded")),
            spread(measure(happy, "bytes_written")),
            overhead((layouts or {}).get(mine[0].method), spread(repo_growth(happy))),
            happy_failed=len(tried) - len(happy),
            open_outages=sum(e.measures.downtime_open for e in mine)))
    return rows


def matrix(entries: list[Entry]) -> dict[tuple[str, str], Counter]:
    """(method, phase) -> outcome counts, cut trials only."""
    cells: dict[tuple[str, str], Counter] = {}
    for e in entries:
        if e.kind == "cut":
            cells.setdefault((label(e), e.phase), Counter())[column(e)] += 1
    order = {p: i for i, p in enumerate(dict.fromkeys(p for m in METHODS.values() for p in m.phases))}
    return dict(sorted(cells.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], len(order)), kv[0][1])))


def size(n: float) -> str:
    if abs(n) < 1024:
        return f"{n:.0f} B"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if abs(n) < 1024:
            break
    return f"{n:.1f} {unit}"


def _table(table_id: str, head: list[str], rows: list[list[str]]) -> str:
    """Cells are HTML already (escaped by the caller)."""
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _matrix_html(entries: list[Entry]) -> str:
    cells = matrix(entries)
    if not cells:
        return '<p id="outcome-matrix">No cut trials in this journal.</p>'
    rows = [[escape(m), escape(p), *(f'<span class="{"ok" if o == OUTCOMES[0] else "bad"}">{c[o]}</span>'
                                     if c[o] else "0" for o in OUTCOMES), str(sum(c.values()))]
            for (m, p), c in cells.items()]
    return _table("outcome-matrix", ["method", "phase", *(escape(o) for o in OUTCOMES), "trials"], rows)


def _scenarios_html(entries: list[Entry]) -> str:
    runs = sorted((e for e in entries if e.kind != "cut"), key=lambda e: (label(e), e.kind, e.time or 0))
    if not runs:
        return '<p id="scenarios">No scenario trials (happy path, rollback, refusal) in this journal.</p>'
    rows = []
    for e in runs:
        m, why = e.measures, e.failure
        rows.append([escape(label(e)), escape(e.kind), escape(e.payload), escape(e.id or "-"),
                     escape(e.final), escape(", ".join(e.verdicts) or "none"), _evidence_html(e),
                     _downtime(m), str(m.reboots),
                     '<span class="ok">as expected</span>' if why is None
                     else f'<span class="bad">{escape(why)}</span>'])
    return _table("scenarios", ["method", "scenario", "payload", "id", "final", "verdicts", "evidence", "downtime",
                                "reboots", "result"], rows)


def _downtime(m: Measures) -> str:
    if m.downtime_s is None:
        return "-"
    return f"{m.downtime_s:.2f} s" + (" (never came back up)" if m.downtime_open else "")


def _evidence_html(e: Entry) -> str:
    """What the verdicts rest on: the rollback and refusal seen, the update error, the anomalies."""
    if e.legacy:
        return '<span class="legacy">older entry: verdicts as recorded, no boot evidence</span>'
    parts = [f"{what}: {escape(text)}" for what, text in (("rollback", e.rollback),
                                                          ("refusal", e.refusal)) if text]
    if e.update_error and not e.refusal:
        err = e.update_error
        parts.append(f"update error: {escape(err.get('reason', ''))} ({escape(err.get('detail', ''))})")
    parts += [f'<span class="bad">{escape(a)}</span>' for a in e.anomalies]
    if e.final in UNFINISHED:
        parts.append(f'<span class="bad">{escape(e.error)}</span>')
    return "<br>".join(parts) or "-"


def _strategy_html(rows: list[Strategy]) -> str:
    def ratio(ok: int, total: int) -> str:
        return f"{ok}/{total} ({100 * ok / total:.0f} %)" if total else "not tested"

    def rolled(s: Strategy) -> str:
        if not s.rollbacks:
            return "not tested"
        return f"{'yes' if s.rolled_back == s.rollbacks else 'no'} ({s.rolled_back}/{s.rollbacks} rolled back)"

    def down(s: Strategy) -> str:
        d = s.downtime_s
        text = "n/a" if d is None else f"{d.median:.2f} s ({d.low:.2f}–{d.high:.2f})"
        if s.happy_failed:
            text += f'; <span class="bad">{s.happy_failed} failed run(s) left out</span>'
        if s.open_outages:
            text += f'; <span class="bad">{s.open_outages} run(s) never came back up</span>'
        return text

    def median(d: Spread | None) -> str:
        return "n/a" if d is None else size(d.median)

    body = [[escape(s.method), ratio(s.cuts_ok, s.cuts), rolled(s), down(s), median(s.downloaded),
             median(s.written), "n/a" if s.overhead is None else size(s.overhead)] for s in rows]
    return _table("strategy", ["method", "power-loss safety (cut trials atomic+completes)", "rollback (v2-bad)",
                               "downtime, happy path (median, range)", "bandwidth (bytes downloaded, median)",
                               "flash writes (bytes written, median)",
                               "storage overhead (partitions added, repository growth)"], body)


def _failures_html(entries: list[Entry]) -> str:
    failing = [(e, why) for e in entries if (why := e.failure) is not None]
    if not failing:
        return '<p id="failures">Every trial met its expectation.</p>'
    out = ['<div id="failures">']
    for e, why in failing:
        tail = console_tail(e.log_dir) or e.console_tail or None
        notes = "".join(f"<li>{escape(n)}</li>" for n in e.notes) or "<li>none</li>"
        boots = "".join(f"<li>{escape(_boot_line(b))}</li>" for b in e.boots)
        out.append(f'<div class="failure"><h3>{escape(e.id or label(e))}: {escape(why)}</h3>'
                   f"{_state_html(e)}"
                   f"<p>reproduce: <code>{escape(e.reproduce)}</code></p><p>evidence: {_evidence_html(e)}</p>"
                   f"<p>notes:</p><ul>{notes}</ul>" + (f"<p>boots:</p><ol>{boots}</ol>" if boots else "") +
                   f"{_mixed_roots_html(list(e.mixed_roots))}"
                   f"<details open><summary>console log (last {LOG_LINES} lines)</summary>"
                   f"<pre>{escape(tail) if tail is not None else 'log not available'}</pre></details></div>")
    out.append("</div>")
    return "".join(out)


def _state_html(e: Entry) -> str:
    """A storage-model trial's crash state: kind, where in the life, which write."""
    cut = e.cut or {}
    if e.model != "storage":
        return ""
    return (f"<p>crash state: {escape(cut.get('state', '?'))} ({escape(cut.get('kind', '?'))}); "
            f"write {escape(cut.get('index', '?'))} of boot {escape(cut.get('boot', '?'))}, "
            f"{escape(cut.get('stage', '?'))}, phase {escape(cut.get('phase', '?'))}, "
            f"partition {escape(cut.get('partition', '?'))}, device offset {escape(cut.get('offset', '?'))}</p>")


def _boot_line(b: dict) -> str:
    said = [f"{k} {b[k]}" for k in ("version", "slot", "confirm", "settled", "ended_by", "failure") if b.get(k)]
    return ", ".join(said + ([] if b.get("heartbeat") else ["no heartbeat"])) or "nothing on the console"


def _mixed_roots_html(mixed_roots: list[dict]) -> str:
    """Where a root that is no known version differs from the nearest one."""
    out = []
    for m in mixed_roots:
        shown = len(m["paths"])
        more = f" (first {shown} shown)" if m["count"] > shown else ""
        out.append(f"<p>root {escape(m['when'])}: neither version; nearest {escape(m['nearest'])}, "
                   f"{m['count']} paths differ{more} (+ only here, - only in {escape(m['nearest'])}, ~ changed):</p>"
                   f"<pre>{escape(chr(10).join(m['paths']))}</pre>")
    return "".join(out)


def _plots_html(entries: list[Entry]) -> str:
    names = sorted({label(e) for e in entries})

    def by_method(subset: list[Entry], key: str, scale: float = 1.0) -> dict[str, list[float]]:
        return {n: [v / scale for v in measure([e for e in subset if label(e) == n], key)] for n in names}

    happy = [e for e in entries if e.kind in HAPPY_KINDS]
    cuts: dict[str, list[tuple[int, str, str]]] = {}
    for e in entries:
        if e.kind == "cut" and (i := cut_index(e)) is not None:
            cuts.setdefault(f"{label(e)} {e.phase}", []).append((i, edge(e), column(e)))
    cuts = {f"{m} {p}": cuts[f"{m} {p}"] for m, p in matrix(entries) if f"{m} {p}" in cuts}
    figures = [
        ("downtime", "Downtime per method, every run that measured one",
         plots.strip(by_method(entries, "downtime_s"), "seconds", "downtime")),
        ("downloaded", "Bytes downloaded per method, happy-path runs",
         plots.strip(by_method(happy, "bytes_downloaded", 2 ** 20), "MiB", "downloaded")),
        ("written", "Bytes written per method, happy-path runs",
         plots.strip(by_method(happy, "bytes_written", 2 ** 20), "MiB", "written")),
        ("reboots", "Boots to recover (reboots) per method, every run",
         plots.strip(by_method(entries, "reboots"), "reboots", "boots to recover", integer=True)),
        ("timeline", "Cut-point outcomes along the update", plots.timeline(cuts)),
    ]
    return "".join(f'<figure id="plot-{fid}"><figcaption>{escape(caption)}</figcaption>'
                   f"{picture if picture else '<p>no data</p>'}</figure>" for fid, caption, picture in figures)


CSS = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 75em; color: #222; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dt { font-weight: bold; } dd { margin: 0; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f0f0f0; }
.ok { color: #2e7d32; } .bad { color: #c62828; font-weight: bold; }
pre { background: #f7f7f7; padding: 0.5em; max-height: 30em; overflow: auto; font-size: 0.8em; }
figure { display: inline-block; vertical-align: top; margin: 0 1em 1em 0; }
figcaption { font-weight: bold; margin-bottom: 0.3em; }
.failure { border-left: 4px solid #c62828; padding-left: 0.8em; margin-bottom: 1.5em; }
.legacy { color: #757575; font-style: italic; }
"""


def render(entries: list[Entry], journal: Path, layouts: dict[str, Path] | None = None,
           superseded: int = 0) -> str:
    seeds = sorted({e.seed for e in entries if e.seed is not None})
    keys = sorted({json.dumps(e.images, sort_keys=True) for e in entries if e.images})
    times = [e.time for e in entries if e.time]
    span = " to ".join(datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
                       for t in (min(times), max(times))) if times else "-"
    unfinished = sum(e.final in UNFINISHED for e in entries)
    older = sum(e.legacy for e in entries)
    header = [("journal", escape(str(journal))), ("trials", str(len(entries))),
              ("without a verdict", f'<span class="{"bad" if unfinished else "ok"}">{unfinished} '
                                    f"(error or timeout: the harness could not finish them)</span>")]
    if superseded:
        header.append(("re-run", f"{superseded} journal line(s) of trials that ended in error or timeout "
                                 f"and were run again; the last run of each is shown"))
    if older:
        header.append(("older entries", f'<span class="legacy">{older} entries of an older journal shape: '
                                        f"their verdicts are shown as recorded, without the boot-by-boot "
                                        f"evidence newer entries carry</span>"))
    header += [("report made", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
               ("trials ran", span), ("seeds", escape(", ".join(map(str, seeds)) or "-"))]
    header += [("images", f"<code>{escape(k)}</code>") for k in keys]
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in header)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>brownout report: {escape(journal.name)}</title>
<style>{CSS}</style></head><body>
<h1>brownout report</h1><dl id="header">{dl}</dl>
<h2>Outcome matrix (cut trials)</h2>{_matrix_html(entries)}
<h2>Choosing a strategy</h2>{_strategy_html(strategies(entries, layouts))}
<p>Power-loss safety counts cut trials that ended atomic+completes with nothing broken booted on the way;
a rollback counts only where v2-bad is seen booting, failing its confirmation and v1 coming back.
Downtime, bandwidth and flash writes are over happy-path runs (v1 to v2, no fault) that ended cleanly on v2;
failed ones are counted apart. Storage overhead is every partition a method adds beyond boot, data and one
root (a second slot, recovery, the boot environment), plus the repository growth of an update (OSTree).</p>
<h2>Scenarios</h2>{_scenarios_html(entries)}
<h2>Plots</h2>{_plots_html(entries)}
<h2>Failing trials</h2>{_failures_html(entries)}
</body></html>
"""


def write(journal: Path, out: Path | None = None, layouts: dict[str, Path] | None = None,
          model: str | None = None) -> Path:
    """Render the report of `journal` to `out` (default: next to it, .html); with
    `model`, only that fault model's cut trials (and every scenario)."""
    journal = Path(journal)
    every = load_journal(journal)
    entries = [e for e in latest(every) if model is None or e.kind != "cut" or e.model == model]
    out = Path(out) if out else journal.with_suffix(".html")
    out.write_text(render(entries, journal, layouts, superseded=len(every) - len(entries)))
    log.info("report of %d trials written to %s", len(entries), out)
    return out
