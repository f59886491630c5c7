"""The report's plots: matplotlib figures rendered to SVG text for inlining.

Figures are made with the object API (no pyplot, no global figure state) on
the Agg-family SVG canvas, so this runs headless. Labels are taken literally:
journal text must not be read as mathtext.
"""
from __future__ import annotations

import io
import random
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# One colour per outcome, the same in every plot; the good one is green.
OUTCOME_COLOURS = {
    "atomic+completes": "#2e7d32",
    "atomic+completes after a broken boot": "#9e9d24",
    "atomic, not completed": "#f9a825",
    "not atomic": "#6a1b9a",
    "mixed, re-run completes": "#ff9800",
    "mixed, not completed": "#e65100",
    "committed, then rolled back": "#ad1457",
    "bricked": "#c62828",
    "missed": "#757575",
    "error": "#37474f",
    "timeout": "#000000",
}
RC = {"text.parse_math": False, "svg.fonttype": "none", "svg.hashsalt": "brownout", "font.size": 9}


def _matplotlib() -> ModuleType:
    """matplotlib on the headless backend, loaded by the first plot: every
    brownout command imports this module, and matplotlib's import costs
    about half a second of CPU that only a report needs."""
    import matplotlib
    matplotlib.use("Agg")
    return matplotlib


def svg(fig: Figure) -> str:
    """The figure as an <svg> element (no XML prolog, so it can sit inside HTML)."""
    buf = io.StringIO()
    with _matplotlib().rc_context(RC):
        fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg"):]


def strip(groups: dict[str, list[float]], ylabel: str, title: str, integer: bool = False) -> str | None:
    """A box per group with every value drawn over it (jittered), so the spread shows."""
    groups = {k: v for k, v in groups.items() if v}
    if not groups:
        return None
    mpl = _matplotlib()
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator
    with mpl.rc_context(RC):
        fig = Figure(figsize=(1.6 + 1.2 * len(groups), 3.2))
        ax = fig.subplots()
        values = list(groups.values())
        ax.boxplot(values, widths=0.5, showfliers=False)
        jitter = random.Random(0)  # the same picture for the same journal
        for x, vs in enumerate(values, 1):
            ax.scatter([x + jitter.uniform(-0.15, 0.15) for _ in vs], vs, s=10, alpha=0.6, color="#1565c0")
        ax.set_xticks(range(1, len(groups) + 1), list(groups))
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        if integer:
            ax.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
            flat = [v for vs in values for v in vs]
            ax.set_ylim(min(flat) - 0.5, max(flat) + 0.5)
        ax.grid(axis="y", alpha=0.3)
        return svg(fig)


def timeline(rows: dict[str, list[tuple[int, str, str]]]) -> str | None:
    """Cut outcomes along the update: one row per method/phase, x = cut index,
    colour = outcome; 'after' cuts drawn just above 'before' cuts of the same point."""
    rows = {k: v for k, v in rows.items() if v}
    if not rows:
        return None
    mpl = _matplotlib()
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator
    with mpl.rc_context(RC):
        fig = Figure(figsize=(8, 0.8 + 1.0 * len(rows)), layout="constrained")
        axes = fig.subplots(len(rows), 1, squeeze=False)[:, 0]
        for ax, (name, points) in zip(axes, rows.items()):
            for result, colour in OUTCOME_COLOURS.items():
                mine = [(x, 0.15 if edge == "after" else -0.15) for x, edge, r in points if r == result]
                if mine:
                    ax.scatter([x for x, _ in mine], [y for _, y in mine], s=14, color=colour, label=result)
            ax.set_ylim(-0.5, 0.5)
            # A margin of at least one index, so a row with a single point keeps integer ticks.
            xs = [x for x, _, _ in points]
            pad = max(1.0, 0.03 * (max(xs) - min(xs)))
            ax.set_xlim(min(xs) - pad, max(xs) + pad)
            ax.set_yticks([0], [name])
            ax.tick_params(axis="y", length=0)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
            ax.grid(axis="x", alpha=0.3)
        axes[-1].set_xlabel("cut point index (upper dots: edge=after, lower: edge=before)")
        handles = {h.get_label(): h for ax in axes for h in ax.collections}
        axes[0].legend(list(handles.values()), list(handles), loc="lower center", bbox_to_anchor=(0.5, 1.0),
                       ncol=len(handles), frameon=False)
        return svg(fig)
