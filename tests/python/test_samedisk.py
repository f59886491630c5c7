"""The disk fingerprint that lets a trial take the outcome of a byte-identical
disk, on qcow2 chains made with qemu-img and written with qemu-io; the pinned
guest clock that makes a campaign's boots write the same bytes; the claim that
makes a trial wait for another judging the same disk."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness import HarnessError, methods
from harness.checks.device import GUEST_CLOCK_ENV, guest_clock
from harness.machine.console import Marker
from harness.machine.snapshot import boot_markers_of
from harness.trial.run import _Boot, _Trial
from harness.trial.samedisk import Judged, SameDisk, SameDiskStore, disk_fingerprint

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


def test_a_disk_is_claimed_by_one_trial_at_a_time(tmp_path: Path) -> None:
    store = SameDiskStore(tmp_path / "disks")
    first = store.claim("k")
    assert first is not None
    assert store.claim("k") is None
    other = store.claim("other")
    assert other is not None
    first.close()
    again = store.claim("k")
    assert again is not None
    again.close()
    other.close()


def test_a_claim_goes_with_the_process_that_held_it(tmp_path: Path) -> None:
    """A worker killed while judging leaves no claim behind for the others to wait on."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from harness.trial.samedisk import SameDiskStore; "
        f"claim = SameDiskStore(Path({str(tmp_path / 'disks')!r})).claim('k'); "
        "print(claim is not None, flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2])
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "True"
        store = SameDiskStore(tmp_path / "disks")
        assert store.claim("k") is None
    finally:
        holder.kill()
        holder.wait(timeout=10)
    claim = store.claim("k")
    assert claim is not None
    claim.close()


def test_a_trial_waits_for_the_claim_until_it_is_let_go_or_the_wait_runs_out(tmp_path: Path) -> None:
    store = SameDiskStore(tmp_path / "disks")
    held = store.claim("k")
    assert held is not None
    threading.Timer(0.3, held.close).start()
    claim, waited = store.claim_when_free("k", timeout=30)
    assert claim is not None and 0.3 <= waited < 30
    never, waited = store.claim_when_free("k", timeout=0.2)
    assert never is None and waited >= 0.2
    claim.close()


def _claiming_trial(store: SameDiskStore, outside: bool) -> SimpleNamespace:
    """What _Trial._claimed reads and sets: the disk's key, and but for slot B's."""
    return SimpleNamespace(same_disk=SameDisk(store, "ab-pull-cut073-after"), cut_disk="own",
                           outside_target=("but-b", "f" * 64, "B") if outside else None, claim=None, notes=[])


def test_a_trial_reaching_a_disk_being_judged_takes_that_outcome_once_it_is_kept(tmp_path: Path) -> None:
    store = SameDiskStore(tmp_path / "disks")
    judged = Judged("ab-pull-cut016-before", "f" * 64, {"final": "v1"}, without="B")
    held = store.claim("but-b")
    assert held is not None

    def keep_then_let_go() -> None:
        store.put("but-b", judged)
        held.close()
    threading.Timer(0.3, keep_then_let_go).start()
    trial = _claiming_trial(store, outside=True)
    assert _Trial._claimed(trial) == judged      # type: ignore[arg-type]
    assert trial.claim is None
    assert trial.notes and trial.notes[0].startswith("waited ") and "ab-pull-cut016-before" in trial.notes[0]
    assert "partition B" in trial.notes[0]


def test_a_trial_judges_a_disk_itself_when_the_trial_it_waited_for_kept_nothing_it_takes(tmp_path: Path) -> None:
    store = SameDiskStore(tmp_path / "disks")
    held = store.claim("but-b")
    assert held is not None
    threading.Timer(0.3, held.close).start()
    trial = _claiming_trial(store, outside=True)
    assert _Trial._claimed(trial) is None        # type: ignore[arg-type]
    # It holds the claim now: a third trial on the same disk waits for it.
    assert trial.claim is not None and store.claim("but-b") is None
    assert "judged here" in trial.notes[0]
    trial.claim.close()
    # Nothing held: claimed at once, no wait noted.
    alone = _claiming_trial(store, outside=False)
    assert _Trial._claimed(alone) is None        # type: ignore[arg-type]
    assert alone.claim is not None and alone.notes == []
    alone.claim.close()


def test_the_guest_clock_is_pinned_only_when_set_and_well_formed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(GUEST_CLOCK_ENV, raising=False)
    assert guest_clock() is None
    monkeypatch.setenv(GUEST_CLOCK_ENV, "2026-12-01T11:30:00")
    assert guest_clock() == "2026-12-01T11:30:00"
    monkeypatch.setenv(GUEST_CLOCK_ENV, "yesterday")
    with pytest.raises(HarnessError, match="BROWNOUT_GUEST_CLOCK=yesterday"):
        guest_clock()


def _console(*markers: Marker) -> SimpleNamespace:
    """A machine whose console printed `markers`, one a line."""
    def printed(event: str | None = None, since: int = 0, until: int | None = None) -> list[Marker]:
        return [m for m in markers[since:until] if event in (None, m.event)]
    return SimpleNamespace(console=SimpleNamespace(markers=printed))


def _ostree_boot(number: int, slot: str, outcome: str, *more: Marker, resumes: _Boot | None = None) -> _Boot:
    said = () if resumes else (Marker("uboot-boot", {"entry": "1", "slot": slot}),
                               Marker("init", {"version": "1", "slot": "f" * 64 + ".0"}))
    return _Boot(_console(*said, *more), number, outcome=Marker(outcome), resumes=resumes,
                 before=boot_markers_of(resumes.markers()) if resumes else ())


def test_a_boot_that_goes_on_from_a_held_one_says_the_slot_u_boot_loaded_for_it() -> None:
    held = _ostree_boot(2, "A", "confirm")
    rerun = _ostree_boot(3, "A", "reboot", Marker("reboot", {"reason": "update"}), resumes=held)
    assert [m.get("slot") for m in rerun.markers("uboot-boot")] == ["A"]
    assert [m.event for m in rerun.markers()] == ["uboot-boot", "init", "reboot"]
    assert rerun.markers("reboot") == [Marker("reboot", {"reason": "update"})]


@pytest.mark.parametrize("after_the_cut, unread", [("A", True), ("B", False)])
def test_ostrees_spare_boot_slot_is_unread_while_u_boot_loads_the_other(after_the_cut: str, unread: bool) -> None:
    """OSTree's init names a deployment, never the slot: U-Boot's marker does."""
    cut = _ostree_boot(1, "A", "cut")
    settled = _ostree_boot(2, after_the_cut, "confirm")
    rerun = _ostree_boot(3, after_the_cut, "reboot", Marker("reboot", {"reason": "update"}), resumes=settled)
    trial = SimpleNamespace(method=methods.get("ostree"), boots=[cut, settled, rerun])
    assert _Trial._target_unread(trial) is unread     # type: ignore[arg-type]
