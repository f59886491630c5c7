"""A trial's console logs on disk: one console.log per boot under its run directory."""
from __future__ import annotations

import re
from pathlib import Path

LOG_LINES = 300


def console_logs(log_dir: str | Path) -> list[Path]:
    """A trial's console logs (one per boot), in boot order; [] when they are gone."""
    root = Path(log_dir) if log_dir else None
    if root is None or not root.is_dir():
        return []
    return sorted(root.rglob("console.log"),
                  key=lambda p: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(p))])


def console_tail(log_dir: str | Path, lines: int = LOG_LINES) -> str | None:
    """The last `lines` lines of a trial's console logs, every boot in order, or None."""
    text: list[str] = []
    for f in console_logs(log_dir):
        text.append(f"==> {f.relative_to(log_dir)} <==")
        text += f.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:]) if text else None
