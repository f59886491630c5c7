"""A/B update scenarios on real QEMU devices, no power cut: the method's own behaviour."""
from __future__ import annotations

import pytest

from harness.images import require
from harness.server import Fault

pytestmark = [pytest.mark.e2e, pytest.mark.qemu, pytest.mark.timeout(900)]


def test_v1_to_v2_ends_on_v2_with_bc_and_the_slot_marked_good(trial) -> None:
    result = trial(payload="v2")
    assert result.final == "v2" and result.slot == "B"
    assert set(result.verdicts) >= {"atomic", "completes"}
    assert result.measures.reboots == 1
    assert result.measures.bytes_downloaded > 0 and result.measures.bytes_written > 0
    assert result.measures.downtime_s is not None


def test_v2_bad_rolls_back_to_v1_within_the_boot_limit(trial) -> None:
    result = trial(payload="v2-bad")
    assert result.final == "v1" and result.slot == "A"
    assert set(result.verdicts) >= {"atomic", "rolled-back"}
    assert result.rollback and "boot counter" in result.rollback, result.summary()
    # The update's reboot, three tries of v2-bad, then the fallback to A.
    assert result.measures.reboots == 4


@pytest.mark.parametrize("payload, error", [("v2-tampered", {"reason": "verify", "detail": "sha256"}),
                                            ("v2-badsig", {"reason": "manifest", "detail": "bad-signature"})])
def test_a_bad_payload_is_refused_and_v1_keeps_running(trial, payload: str, error: dict) -> None:
    result = trial(payload=payload)
    assert result.final == "v1" and result.slot == "A"
    assert set(result.verdicts) >= {"atomic", "refused"}
    assert result.update_error == error, result.summary()
    assert result.measures.reboots == 0


def test_a_download_cut_by_the_server_never_switches_and_a_retry_completes(trial) -> None:
    # More cuts than the client retries, each after a tenth of the image (its
    # 1 + 5 attempts end short of it): the update fails, the device stays on v1.
    tenth = (require("payloads-ab") / "ab" / "v2" / "rootfs.ext4").stat().st_size // 10
    cut = trial(payload="v2", fault=Fault("close", pattern="*/rootfs.ext4", after_bytes=tenth, count=20))
    # A transfer that breaks is no refusal: nothing was verified and found wrong.
    assert cut.final == "v1" and cut.slot == "A" and "refused" not in cut.verdicts
    assert cut.update_error is not None and cut.update_error["reason"] == "download", cut.summary()
    assert cut.measures.reboots == 0
    # One cut only: the client resumes with a Range request and completes.
    resumed = trial(payload="v2", fault=Fault("close", pattern="*/rootfs.ext4", after_bytes=tenth, count=1))
    assert resumed.final == "v2" and "completes" in resumed.verdicts


def test_both_env_copies_corrupted_boots_the_safe_default(trial) -> None:
    result = trial(payload="v2", corrupt_env=True)
    # The documented default: BOOT_ORDER "A B", 3 tries each; the update then proceeds.
    assert result.final == "v2" and "completes" in result.verdicts
