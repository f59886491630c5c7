"""The disk fingerprint that lets a trial take the outcome of a byte-identical
disk, on qcow2 chains made with qemu-img and written with qemu-io; the pinned
guest clock that makes a campaign's boots write the same bytes."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from harness import HarnessError
from harness.checks.device import GUEST_CLOCK_ENV, guest_clock
from harness.trial.samedisk import Judged, SameDiskStore, disk_fingerprint

MIB = 1 << 20


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


@pytest.fixture
def base(tmp_path: Path) -> Path:
    raw = tmp_path / "base.img"
    raw.write_bytes(os.urandom(MIB) + bytes(7 * MIB))
    return raw


def overlay(base: Path, path: Path, fmt: str = "raw") -> Path:
    _run("qemu-img", "create", "-q", "-f", "qcow2", "-F", fmt, "-b", str(base), str(path))
    return path


def write(image: Path, pattern: int, offset: int, length: str = "4k") -> None:
    _run("qemu-io", "-f", "qcow2", "-c", f"write -P {pattern:#x} {offset} {length}", str(image))


def test_the_same_writes_give_the_same_fingerprint(base: Path, tmp_path: Path) -> None:
    one, two = overlay(base, tmp_path / "one.qcow2"), overlay(base, tmp_path / "two.qcow2")
    for disk in (one, two):
        write(disk, 0x5a, 3 * MIB)
        write(disk, 0x11, 64 * 1024)
    assert disk_fingerprint(one) == disk_fingerprint(two) is not None


def test_one_byte_more_or_elsewhere_changes_it(base: Path, tmp_path: Path) -> None:
    reference = overlay(base, tmp_path / "ref.qcow2")
    write(reference, 0x5a, 3 * MIB)
    other_data, other_place, more = (overlay(base, tmp_path / f"{n}.qcow2") for n in ("data", "place", "more"))
    write(other_data, 0x5b, 3 * MIB)
    write(other_place, 0x5a, 4 * MIB)
    write(more, 0x5a, 3 * MIB)
    write(more, 0x00, 5 * MIB, "512")
    prints = {disk_fingerprint(d) for d in (reference, other_data, other_place, more)}
    assert None not in prints and len(prints) == 4


def test_writes_in_a_snapshot_layer_or_the_trials_layer_count_alike(base: Path, tmp_path: Path) -> None:
    # Worker A's snapshot holds the first write; worker B's trial made it itself.
    snapshot = overlay(base, tmp_path / "snapshot.qcow2")
    write(snapshot, 0x22, 2 * MIB)
    on_snapshot = overlay(snapshot, tmp_path / "trial-a.qcow2", "qcow2")
    write(on_snapshot, 0x33, 6 * MIB)
    direct = overlay(base, tmp_path / "trial-b.qcow2")
    write(direct, 0x22, 2 * MIB)
    write(direct, 0x33, 6 * MIB)
    assert disk_fingerprint(on_snapshot) == disk_fingerprint(direct) is not None


def test_another_base_is_another_disk(base: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.img"
    copy.write_bytes(base.read_bytes())
    assert disk_fingerprint(overlay(base, tmp_path / "a.qcow2")) != \
        disk_fingerprint(overlay(copy, tmp_path / "b.qcow2"))


def test_a_range_left_out_hides_its_writes_and_no_other(base: Path, tmp_path: Path) -> None:
    slot = (2 * MIB, 2 * MIB)
    reference, inside, outside = (overlay(base, tmp_path / f"{n}.qcow2") for n in ("ref", "in", "out"))
    for disk in (reference, inside, outside):
        write(disk, 0x44, 4 * MIB - 4096, "8k")        # one cluster across the range's end
    write(inside, 0x55, 3 * MIB)
    write(inside, 0x55, 4 * MIB - 4096)               # the straddling cluster, its part inside
    write(outside, 0x55, 4 * MIB)                     # the straddling cluster, its part outside
    assert disk_fingerprint(reference, without=slot) == disk_fingerprint(inside, without=slot) is not None
    assert disk_fingerprint(reference, without=slot) != disk_fingerprint(outside, without=slot)
    assert disk_fingerprint(reference) != disk_fingerprint(inside)
    assert disk_fingerprint(reference, without=slot) != disk_fingerprint(reference)


def test_no_chain_no_fingerprint(tmp_path: Path) -> None:
    assert disk_fingerprint(tmp_path / "missing.qcow2") is None


def test_the_store_keeps_an_outcome_whole(tmp_path: Path) -> None:
    store = SameDiskStore(tmp_path / "disks")
    assert store.get("k") is None
    judged = Judged("ab-pull-cut017-after", "f" * 64, {"final": "v1", "verdicts": ["atomic", "completes"]})
    store.put("k", judged)
    assert store.get("k") == judged
    assert [p.name for p in (tmp_path / "disks").iterdir()] == ["k.json"]
    (tmp_path / "disks" / "k.json").write_text("{\"trial\": ")
    assert store.get("k") is None


def test_the_guest_clock_is_pinned_only_when_set_and_well_formed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(GUEST_CLOCK_ENV, raising=False)
    assert guest_clock() is None
    monkeypatch.setenv(GUEST_CLOCK_ENV, "2026-12-01T11:30:00")
    assert guest_clock() == "2026-12-01T11:30:00"
    monkeypatch.setenv(GUEST_CLOCK_ENV, "yesterday")
    with pytest.raises(HarnessError, match="BROWNOUT_GUEST_CLOCK=yesterday"):
        guest_clock()
