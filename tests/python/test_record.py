"""A record's point list as the rig prints it: JSON lines, gzip'd, in base64
lines (images/rootfs/rig.sh), read back and checked against its end marker."""
from __future__ import annotations

import base64
import gzip
import json
import textwrap
from pathlib import Path

import pytest

from harness import HarnessError
from harness.machine.console import parse_marker
from harness.trial.run import POINTS_LINE, recorded_points

POINTS = [{"index": n, "syscall": "pwrite64", "edge": "-", "phase": "pull", "path": "/dev/vda4"}
          for n in range(1, 400)]


def printed(points: list[dict]) -> list[str]:
    """What the serial console shows: base64 in 76-column lines, with their prefix."""
    data = gzip.compress("".join(json.dumps(p) + "\n" for p in points).encode())
    return [POINTS_LINE + chunk for chunk in textwrap.wrap(base64.b64encode(data).decode(), 76)]


def done(count: int):  # type: ignore[no-untyped-def]
    marker = parse_marker(f"BROWNOUT record-done status=0 points={count}", 0.0)
    assert marker is not None
    return marker


def test_the_points_come_back_whole_between_other_lines() -> None:
    lines = printed(POINTS)
    mixed = ["BROWNOUT heartbeat version=1 seq=4", *lines[:3], "[  3.1] random: crng init done", *lines[3:]]
    assert recorded_points(mixed, done(len(POINTS)), Path("console.log")) == POINTS


def test_a_record_of_no_points_is_empty() -> None:
    assert recorded_points(printed([]), done(0), Path("console.log")) == []


@pytest.mark.parametrize("damage", ["a line lost", "a line garbled"])
def test_a_damaged_list_is_one_clear_error(damage: str) -> None:
    lines = printed(POINTS)
    if damage == "a line lost":
        del lines[len(lines) // 2]
    else:
        lines[1] = POINTS_LINE + "not base64 at all!"
    with pytest.raises(HarnessError, match="console log: console.log"):
        recorded_points(lines, done(len(POINTS)), Path("console.log"))


def test_a_count_that_differs_from_the_end_marker_is_refused() -> None:
    with pytest.raises(HarnessError, match="lists 399 points, its end says 400"):
        recorded_points(printed(POINTS), done(400), Path("console.log"))
