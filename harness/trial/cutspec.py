"""The agent's cut spec, parsed in one place: `key=value` pairs joined by commas
(`n=17,edge=after`, `phase=bootloader,n=1,torn=8192`, `hold=deploy`,
`hold=pull,at=40`), with the keys brownout-fi knows (faultinject/cutpoint.c)
and a hold's."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import HarnessError

KEYS = ("n", "edge", "syscall", "phase", "path", "target", "torn", "bytes", "hold", "at")
_VALUE = re.compile(r"[A-Za-z0-9_./*?\[\]-]+")
_NUMBER = ("n", "torn", "bytes", "at")


@dataclass(frozen=True)
class CutSpec:
    fields: tuple[tuple[str, str], ...]

    def get(self, key: str) -> str | None:
        return dict(self.fields).get(key)

    @property
    def index(self) -> int | None:
        """n=: the point's index among the matching syscalls, if given."""
        n = self.get("n")
        return int(n) if n is not None else None

    @property
    def edge(self) -> str:
        return self.get("edge") or "before"

    @property
    def plain_point(self) -> bool:
        """Only n= (and edge=): a recorded point, as a campaign plans it."""
        return {k for k, _ in self.fields} <= {"n", "edge"} and self.index is not None

    def __str__(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.fields)


def parse(text: str) -> CutSpec:
    """The spec in `text`; HarnessError (one line, with an example) when malformed."""
    fields: list[tuple[str, str]] = []
    for pair in text.split(","):
        key, sep, value = pair.partition("=")
        if not sep or key not in KEYS or not _VALUE.fullmatch(value) or any(k == key for k, _ in fields):
            raise HarnessError(f"malformed cut spec '{text}': comma-separated key=value with keys "
                               f"{', '.join(KEYS)}, each once, e.g. n=17,edge=after")
        if key in _NUMBER and not value.isdigit():
            raise HarnessError(f"malformed cut spec '{text}': {key}= takes a number")
        fields.append((key, value))
    return CutSpec(tuple(fields))


def point(index: int, edge: str) -> str:
    """The spec of a recorded point at one edge."""
    return str(CutSpec((("n", str(index)), ("edge", edge))))


def phase_point(phase: str, rank: int, edge: str) -> str:
    """The spec of the `rank`-th point (from 1) of a phase at one edge: it finds the
    same point however many points an earlier phase made (a download's writes vary
    in number with how the data arrives)."""
    return str(CutSpec((("phase", phase), ("n", str(rank)), ("edge", edge))))


def try_parse(text: str) -> CutSpec | None:
    """The spec, or None for an empty or malformed one (reading an old journal)."""
    try:
        return parse(text) if text else None
    except HarnessError:
        return None
