"""RAUC update scenarios on real QEMU devices: Debian's rauc 1.8 under the same
trials as brownout's own methods, and a smoke campaign of power cuts named by
the phase rules (RAUC prints no phases of its own). The full campaign is
`./brownout campaign --method rauc`."""
from __future__ import annotations

import pytest

from harness.server import Fault
from harness.trial.run import TrialSpec, record_points, run_trial, take_snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.qemu, pytest.mark.timeout(1200)]


def test_v1_to_v2_ends_on_v2_with_bc_and_the_slot_marked_good(trial) -> None:
    result = trial(method="rauc", payload="v2")
    assert result.final == "v2" and result.slot == "B"
    assert set(result.verdicts) >= {"atomic", "completes"}, result.summary()
    assert result.measures.reboots == 1
    assert result.measures.bytes_downloaded > 0 and result.measures.bytes_written > 0


def test_v2_bad_is_marked_bad_and_the_boot_order_falls_back_to_v1(trial) -> None:
    result = trial(method="rauc", payload="v2-bad")
    assert result.final == "v1" and result.slot == "A"
    assert set(result.verdicts) >= {"atomic", "rolled-back"}, result.summary()
    assert result.rollback and "boot counter" in result.rollback, result.summary()
    # The update's reboot, then the one after `rauc status mark-bad`: B leaves BOOT_ORDER at once.
    assert result.measures.reboots == 2


@pytest.mark.parametrize("payload, reason, detail, said", [
    # Bytes changed under a valid signature: the CMS digest over the bundle no longer matches.
    ("v2-tampered", "verify", "hash", "verification failure"),
    ("v2-badsig", "verify", "signature", "unable to get local issuer certificate"),
])
def test_a_bundle_rauc_refuses_leaves_v1_running_with_raucs_own_message(
        trial, payload: str, reason: str, detail: str, said: str) -> None:
    result = trial(method="rauc", payload=payload)
    assert result.final == "v1" and result.slot == "A"
    assert set(result.verdicts) >= {"atomic", "refused"}, result.summary()
    assert result.update_error is not None, result.summary()
    assert (result.update_error["reason"], result.update_error["detail"]) == (reason, detail), result.summary()
    assert said in result.update_error.get("message", ""), result.update_error
    assert result.refusal and said in result.refusal
    assert result.measures.reboots == 0


def test_a_download_cut_by_the_server_never_reaches_rauc(trial) -> None:
    cut = trial(method="rauc", payload="v2",
                fault=Fault("close", pattern="*/update.raucb", after_bytes=5_000_000, count=20))
    assert cut.final == "v1" and cut.slot == "A" and "refused" not in cut.verdicts
    assert cut.update_error is not None and cut.update_error["reason"] == "download", cut.summary()
    assert cut.measures.reboots == 0


@pytest.mark.parametrize("cut", [
    # RAUC first takes the target slot out of the boot order, then writes it, then puts it first.
    "phase=bootloader,n=1,edge=after",
    "phase=bootloader,n=1,torn=8192",
    "phase=pull,n=40,edge=after",           # the bundle half fetched (a MiB a write)
    "phase=deploy,n=400,edge=after",        # the slot half written
    # RAUC's status file: its first version is renamed into place with no fsync before.
    "phase=deploy,syscall=renameat,path=/data/rauc.status,n=1,edge=after",
], ids=["rauc-bootloader-first-after", "rauc-bootloader-first-torn", "rauc-pull-40-after",
        "rauc-deploy-400-after", "rauc-status-first-rename-after"])
def test_rauc_survives_the_cut(trial, cut: str) -> None:
    # Two cuts each in the bootloader and the deploy phase: those start as a
    # campaign's do, from one snapshot held where their phase starts.
    held = not cut.startswith("phase=pull")
    result = trial(method="rauc", payload="v2", cut=cut, held=held)
    assert result.started == (f"snapshot:{result.phase}" if held else "cold"), result.summary()
    assert result.cut is not None and result.cut["phase"] == cut.split(",")[0].split("=")[1], result.summary()
    assert {"atomic", "completes"} <= set(result.verdicts), result.summary()


@pytest.mark.parametrize("phase, cut", [("pull", "phase=pull,n=40,edge=after"),
                                        ("deploy", "phase=deploy,n=400,edge=after")])
def test_a_cut_from_a_snapshot_held_where_the_phase_starts_is_the_cold_cut(
        update_server, tmp_path, phase: str, cut: str) -> None:
    """RAUC names no phases: the hold comes at the first point a phase rule puts
    in the phase (the pull's, before the bundle is asked for: a connection does
    not outlive a snapshot; the deploy's, once the bundle is whole). The cut from
    there is judged as the cold one above, and the update's time runs from its
    start, before the hold, to the cut."""
    snapshot = take_snapshot(TrialSpec("rauc", "v2"), phase, tmp_path / "snapshot", update_server)
    assert (snapshot.bytes_downloaded > 0) == (phase == "deploy") and snapshot.elapsed_s >= 0, snapshot
    result = run_trial(TrialSpec("rauc", "v2", cut=cut), tmp_path / "trial", update_server, snapshot=snapshot)
    assert result.started == f"snapshot:{phase}" and result.phase == phase, result.summary()
    assert {"atomic", "completes"} <= set(result.verdicts), result.summary()
    duration = result.measures.duration_s
    assert duration is not None and snapshot.elapsed_s < duration < snapshot.elapsed_s + 60, result.summary()


def test_an_env_with_both_copies_corrupted_boots_the_default_and_rauc_still_updates(trial) -> None:
    # U-Boot finds no valid copy, boots A with the documented default and saves
    # it; RAUC's fw_printenv then reads that copy, and the update proceeds.
    result = trial(method="rauc", payload="v2", corrupt_env=True)
    assert result.final == "v2" and "completes" in result.verdicts, result.summary()


def test_the_confirmation_recorded_under_the_agent_ends_with_its_points(update_server, tmp_path) -> None:
    # The system bus is the boot hook's, started before the confirmation: one
    # the confirmation started would outlive it, and the agent would wait for it.
    points = record_points(TrialSpec("rauc", "v2"), tmp_path, update_server, confirm=True)
    assert points and all(p["phase"] == "confirm" for p in points), points
