"""Cuts in the new version's first confirmation: the update runs plainly and
reboots; the first boot of v2 runs its confirmation (the health check, the
env's commit writes; OSTree's cleanup of what it no longer lists) under the
agent, which cuts there. The device must come back atomic, settle on v2, and
stay on it over one more power-on with nothing asked (the commit holds)."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.checks.device import partitions
from harness.images import require
from harness.server import UpdateServer
from harness.trial.run import TrialSpec, record_parts, record_points

pytestmark = [pytest.mark.e2e, pytest.mark.qemu, pytest.mark.timeout(900)]


def test_the_ab_confirmation_is_recorded_in_phase_confirm(update_server: UpdateServer, tmp_path: Path) -> None:
    points = record_points(TrialSpec("ab", "v2"), tmp_path / "alone", update_server, confirm=True)
    env = "/dev/vda{}".format(next(p.index for p in partitions("ab") if p.name == "env"))
    assert points and all(p["phase"] == "confirm" for p in points), points
    # Marking v2 good is an env write, made durable; the slots are not touched.
    assert any(p["path"] == env and p["syscall"] in ("write", "pwrite64") for p in points), points
    assert any(p["path"] == env and p["syscall"] in ("fsync", "fdatasync") for p in points), points
    assert not [p for p in points if p["path"] and p["path"].startswith("/dev/vda")
                and p["path"] != env], points
    # Recorded on the disk a recorded update left (as a campaign's record does):
    # the same points as after the update run plainly.
    both = record_parts(TrialSpec("ab", "v2"), ("update", "confirm"), {}, tmp_path / "both", update_server)
    assert both["update"][0] and all(p["phase"] != "confirm" for p in both["update"][0]), both["update"]
    assert [(p["phase"], p["syscall"], p["path"]) for p in both["confirm"][0]] == \
        [(p["phase"], p["syscall"], p["path"]) for p in points], (both["confirm"], points)


@pytest.mark.parametrize("method, cut", [
    ("ab", "phase=confirm,n=1,edge=after"),        # the first env copy written, not yet synced
    ("ostree", "phase=confirm,n=1,edge=before"),   # nothing of the commit written
])
def test_a_cut_in_the_confirmation_comes_back_on_v2_and_the_commit_holds(trial, method: str, cut: str) -> None:
    result = trial(method=method, payload="v2", cut=cut)
    assert result.phase == "confirm", result.summary()
    assert result.final == "v2" and {"atomic", "completes"} <= set(result.verdicts), result.summary()
    assert "committed-rolled-back" not in result.verdicts, result.summary()
    versions = [(b["version"], b["ended_by"], b["confirm"]) for b in result.boots]
    # v1 updates and reboots; v2's first boot is cut in its confirmation; v2
    # comes back and confirms; one more power-on comes up in v2 again.
    assert versions[0][:2] == ("1", "reboot") and versions[1][:2] == ("2", "cut"), versions
    assert [v for v, _, confirm in versions[2:]] == ["2", "2"], versions
    assert all(confirm == "good" for _, _, confirm in versions[2:]), versions


def test_a_cut_in_the_confirmation_from_the_installed_disk_runs_no_update(trial) -> None:
    result = trial(method="ab", payload="v2", cut="phase=confirm,n=1,edge=after", from_installed=True)
    assert result.started == "installed" and result.phase == "confirm", result.summary()
    assert result.final == "v2" and {"atomic", "completes"} <= set(result.verdicts), result.summary()
    # The first power-on is v2's, cut in its confirmation; the update's boot is the start's.
    versions = [(b["version"], b["ended_by"]) for b in result.boots]
    assert versions[0] == ("2", "cut") and [v for v, _ in versions[1:]] == ["2", "2"], versions
    # The payload was downloaded once, building the start, and counts for the trial.
    payload = require("payloads-ab") / "ab" / "v2" / "rootfs.ext4"
    assert result.measures.bytes_downloaded >= payload.stat().st_size, result.summary()
