"""Asymmetric update scenarios on real QEMU devices, no power cut: the method's own
behaviour. The root asks, recovery installs over the only root slot, so even a
refused payload may cost a reinstall: recovery's policy is in docs/methods/asymmetric.md."""
from __future__ import annotations

import pytest

from harness.images import require
from harness.server import Fault
from harness.trial.run import TrialSpec, run_trial, take_snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.qemu, pytest.mark.timeout(1200)]


def image_size(version: str) -> int:
    """The bytes of the root image recovery downloads for `version`."""
    return sum(f.stat().st_size for f in (require("payloads-asymmetric") / "asymmetric" / version).iterdir()
               if f.name != "manifest")


def test_v1_to_v2_goes_through_recovery_and_ends_on_v2_with_bc(trial) -> None:
    result = trial(method="asymmetric", payload="v2")
    assert result.final == "v2" and result.slot == "root"
    assert set(result.verdicts) >= {"atomic", "completes"}
    # Into recovery, back to the root.
    assert result.measures.reboots == 2
    assert result.measures.bytes_downloaded > 0 and result.measures.bytes_written > 0
    assert result.measures.downtime_s is not None and result.measures.duration_s is not None


def test_v2_bad_spends_its_tries_then_recovery_reinstalls_v1(trial) -> None:
    result = trial(method="asymmetric", payload="v2-bad")
    assert result.final == "v1" and result.slot == "root"
    assert set(result.verdicts) >= {"atomic", "rolled-back"}
    assert result.rollback and "recovery" in result.rollback, result.summary()
    # Boots: the update's, recovery, v2-bad three times, recovery again, v1.
    assert result.measures.reboots == 6
    # The rollback downloads v1 as well: two images.
    assert result.measures.bytes_downloaded >= image_size("v2-bad") + image_size("v1")


def test_a_wrongly_signed_manifest_is_refused_before_the_root_is_touched(trial) -> None:
    result = trial(method="asymmetric", payload="v2-badsig")
    assert result.final == "v1" and set(result.verdicts) >= {"atomic", "refused"}
    assert result.update_error == {"reason": "manifest", "detail": "bad-signature"}, result.summary()
    # The root checks the manifest before it asks recovery: no env write, no reboot.
    assert result.measures.reboots == 0
    assert result.measures.bytes_downloaded < 10_000


def test_a_tampered_payload_is_refused_and_recovery_puts_v1_back(trial) -> None:
    result = trial(method="asymmetric", payload="v2-tampered")
    # The hash fails only after the root slot was overwritten: the last good image goes back.
    assert result.final == "v1" and set(result.verdicts) >= {"atomic", "refused"}
    assert result.update_error == {"reason": "verify", "detail": "sha256"}, result.summary()
    assert result.measures.reboots == 2
    assert result.measures.bytes_downloaded >= image_size("v2-tampered") + image_size("v1")


def test_a_download_cut_by_the_server_is_retried_by_recovery_until_it_completes(trial) -> None:
    # More breaks than the client's in-process retries (1 + 5 attempts, each
    # cut after a tenth of the image): recovery keeps the request, reboots
    # into itself and tries again.
    result = trial(method="asymmetric", payload="v2",
                   fault=Fault("close", pattern="*/rootfs.ext4", after_bytes=image_size("v2") // 10, count=8))
    assert result.final == "v2" and set(result.verdicts) >= {"atomic", "completes"}
    assert result.measures.reboots == 3


def test_a_torn_env_write_in_recovery_leads_back_to_recovery_and_a_retry(trial) -> None:
    result = trial(method="asymmetric", payload="v2", cut="phase=bootloader,n=1,torn=8192")
    assert result.cut is not None and result.cut["phase"] == "bootloader"
    assert {"atomic", "completes"} <= set(result.verdicts), result.summary()


def test_a_cut_from_a_snapshot_held_in_recovery_is_the_cold_trial(update_server, tmp_path) -> None:
    """Mid-download into the root slot: the snapshot holds recovery where its pull
    starts, the root's hand-over behind it. The trial from it ends as the cold
    trial at that point does, boot for boot after the hand-over, and counts the
    hand-over's reboot and the downtime since the root's last heartbeat."""
    snapshot = take_snapshot(TrialSpec("asymmetric", "v2"), "pull", tmp_path / "snapshot", update_server)
    inits = [m.get("slot") for m in snapshot.boot_markers if m.event == "init"]
    assert snapshot.boot == 2 and inits == ["recovery"], snapshot
    assert snapshot.down_s is not None and snapshot.down_s > 0
    spec = TrialSpec("asymmetric", "v2", cut=f"n={snapshot.points + 30},edge=after")
    held = run_trial(spec, tmp_path / "held", update_server, snapshot=snapshot)
    cold = run_trial(spec, tmp_path / "cold", update_server)
    for result in (held, cold):
        assert result.cut is not None and result.cut["phase"] == "pull", result.summary()
        assert result.final == "v2" and {"atomic", "completes"} <= set(result.verdicts), result.summary()
        assert result.anomalies == [], result.summary()
    assert held.started == "snapshot:pull" and cold.started == "cold"
    assert cold.boots[0]["slot"] == "root" and cold.boots[0]["ended_by"] == "reboot", cold.boots
    assert [(b["version"], b["slot"], b["ended_by"]) for b in held.boots] == \
        [(b["version"], b["slot"], b["ended_by"]) for b in cold.boots[1:]], (held.boots, cold.boots)
    assert held.cut == cold.cut
    assert held.measures.reboots == cold.measures.reboots
    # The outage runs from the root's last heartbeat, before the snapshot, to v2's first.
    assert held.measures.downtime_s is not None and cold.measures.downtime_s is not None
    assert held.measures.downtime_s > snapshot.down_s
    # Recovery downloads the whole image again after the cut; the held trial's
    # bytes include those the snapshot's boots downloaded (the root's manifest).
    assert min(held.measures.bytes_downloaded, cold.measures.bytes_downloaded) > image_size("v2")
    assert held.measures.bytes_downloaded > snapshot.bytes_downloaded > 0
