"""OSTree update scenarios on real QEMU devices, no power cut: the method's own behaviour."""
from __future__ import annotations

import pytest

from harness.server import Fault

pytestmark = [pytest.mark.e2e, pytest.mark.qemu, pytest.mark.timeout(900)]


def test_v1_to_v2_ends_on_v2_with_bc_and_the_deployment_marked_good(trial) -> None:
    result = trial(method="ostree", payload="v2")
    assert result.final == "v2", result.summary()
    assert set(result.verdicts) >= {"atomic", "completes"}
    assert result.measures.reboots == 1
    # Only what v2 adds travels: objects v1 has already are not fetched again.
    assert 0 < result.measures.bytes_downloaded < 10_000_000
    assert result.measures.bytes_written > 0
    assert result.measures.downtime_s is not None


def test_v2_bad_rolls_back_to_v1_within_the_boot_limit(trial) -> None:
    result = trial(method="ostree", payload="v2-bad")
    assert result.final == "v1", result.summary()
    assert set(result.verdicts) >= {"atomic", "rolled-back"}
    assert result.rollback and "boot counter" in result.rollback, result.summary()
    # The update's reboot, three tries of v2-bad, then the previous deployment.
    assert result.measures.reboots == 4


@pytest.mark.parametrize("payload, error", [("v2-tampered", {"reason": "verify", "detail": "checksum"}),
                                            ("v2-badsig", {"reason": "verify", "detail": "signature"})])
def test_a_bad_payload_is_refused_and_v1_keeps_running(trial, payload: str, error: dict) -> None:
    result = trial(method="ostree", payload=payload)
    assert result.final == "v1", result.summary()
    assert set(result.verdicts) >= {"atomic", "refused"}
    assert result.update_error == error, result.summary()
    assert result.measures.reboots == 0


def test_a_pull_cut_by_the_server_never_switches_and_a_retry_completes(trial) -> None:
    # Every object transfer broken: libostree's retries run out, the pull fails, v1 stays.
    cut = trial(method="ostree", payload="v2", fault=Fault("close", pattern="*.filez", after_bytes=1000, count=0))
    assert cut.final == "v1" and "refused" not in cut.verdicts, cut.summary()
    assert cut.update_error == {"reason": "download", "detail": "pull"}, cut.summary()
    assert cut.measures.reboots == 0
    # One transfer broken: libostree fetches that object again and completes.
    resumed = trial(method="ostree", payload="v2", fault=Fault("close", pattern="*.filez", after_bytes=1000, count=1))
    assert resumed.final == "v2" and "completes" in resumed.verdicts, resumed.summary()
