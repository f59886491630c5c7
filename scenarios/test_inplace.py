"""In-place update scenarios on real QEMU devices, no power cut: apt and dpkg upgrade
the running root from the signed repository the harness serves, then the
application restarts. No reboot, and no rollback: v2-bad stays. The cuts
inside dpkg start as a campaign's do, from one snapshot held where the deploy
phase starts."""
from __future__ import annotations

import pytest

from harness.server import Fault

pytestmark = [pytest.mark.e2e, pytest.mark.qemu, pytest.mark.timeout(900)]


def test_v1_to_v2_upgrades_in_place_to_exactly_the_v2_tree(trial) -> None:
    result = trial(method="inplace", payload="v2")
    # The digest equals the v2 tree built with dpkg -i: apt made the same root.
    assert result.final == "v2" and result.slot == "root"
    assert set(result.verdicts) >= {"atomic", "completes"}
    assert result.measures.reboots == 0
    # The switch-over is an application restart: well under a reboot.
    assert result.measures.downtime_s is not None and result.measures.downtime_s < 2.0
    assert 0 < result.measures.bytes_downloaded < 1_000_000
    assert result.dpkg == {"unsettled": [], "brownout-app": "2", "bc": "installed"}


def test_v2_bad_stays_installed_and_unhealthy_there_is_no_rollback(trial) -> None:
    # The finding: in-place has nothing to fall back to. dpkg finished, the
    # health check fails, and the device keeps running v2-bad with bc.
    result = trial(method="inplace", payload="v2-bad")
    assert result.final == "v2-bad"
    assert "rolled-back" not in result.verdicts and "atomic" not in result.verdicts
    assert result.rollback is None
    assert result.dpkg == {"unsettled": [], "brownout-app": "2-bad", "bc": "installed"}
    assert result.measures.reboots == 0


@pytest.mark.parametrize("payload, error", [("v2-tampered", {"reason": "verify", "detail": "hash"}),
                                            ("v2-badsig", {"reason": "verify", "detail": "repository-signature"})])
def test_a_bad_repository_is_refused_before_dpkg_runs(trial, payload: str, error: dict) -> None:
    result = trial(method="inplace", payload=payload)
    assert result.final == "v1" and set(result.verdicts) >= {"atomic", "refused"}
    assert result.update_error == error, result.summary()
    assert result.dpkg == {"unsettled": [], "brownout-app": "1", "bc": "absent"}
    assert result.measures.reboots == 0


def test_a_download_cut_by_the_server_leaves_v1_and_a_retry_completes(trial) -> None:
    # Every request for the app package breaks before its first byte: apt gives
    # up after its retries (Acquire::Retries), before dpkg starts.
    cut = trial(method="inplace", payload="v2",
                fault=Fault("close", pattern="*/brownout-app_*.deb", after_bytes=0, count=20))
    assert cut.final == "v1" and "refused" not in cut.verdicts, cut.summary()
    assert cut.update_error is not None and cut.update_error["reason"] == "download", cut.summary()
    assert cut.dpkg is not None and cut.dpkg["unsettled"] == []
    # A break mid-file: apt resumes it with a Range request and the upgrade completes.
    resumed = trial(method="inplace", payload="v2",
                    fault=Fault("close", pattern="*/brownout-app_*.deb", after_bytes=10_000, count=1))
    assert resumed.final == "v2" and "completes" in resumed.verdicts


def test_a_cut_inside_dpkg_leaves_a_mixed_root_that_a_rerun_repairs(trial) -> None:
    # Power fails just before dpkg renames the new application into place:
    # bc is unpacked but not configured, brownout-app is half-installed
    # (reinstreq), the files are of both versions. v1's binary still runs.
    result = trial(method="inplace", payload="v2", held=True,
                   cut="phase=deploy,syscall=renameat,path=/usr/bin/brownout-app.dpkg-new,n=1,edge=before")
    assert result.cut is not None and result.cut["phase"] == "deploy"
    assert result.final == "mixed" and "atomic" not in result.verdicts
    assert result.dpkg is not None and result.dpkg["unsettled"] == [
        "bc install-ok-unpacked", "brownout-app install-reinstreq-half-installed"]
    # dpkg --configure -a cannot mend a half-installed package; apt reinstalls
    # it from the repository on the re-run, which ends on v2.
    assert "completes" in result.verdicts
    assert result.dpkg_rerun == {"unsettled": [], "brownout-app": "2", "bc": "installed"}


def test_a_package_dpkg_refuses_to_configure_is_reinstalled_by_the_rerun(trial) -> None:
    # Power fails once bc's files are in place, before dpkg marks it unpacked:
    # bc stays flagged reinst-required, which `dpkg --configure -a` refuses to
    # touch. The client goes on and apt unpacks bc again from the repository.
    result = trial(method="inplace", payload="v2", held=True,
                   cut="phase=deploy,syscall=unlinkat,path=/usr/share/doc/bc/AUTHORS.dpkg-tmp,n=1,edge=before")
    assert result.cut is not None and result.cut["phase"] == "deploy"
    assert result.final == "mixed" and "atomic" not in result.verdicts
    assert result.dpkg is not None and result.dpkg["unsettled"] == ["bc install-reinstreq-unpacked"]
    assert result.mixed_roots and result.mixed_roots[0]["when"] == "after the cut"
    assert "completes" in result.verdicts
    assert result.dpkg_rerun == {"unsettled": [], "brownout-app": "2", "bc": "installed"}


def test_a_cut_before_dpkg_removes_its_folded_journal_is_repaired_by_the_rerun(trial) -> None:
    # dpkg folds its journal into the status file twice in the upgrade: after
    # unpacking and after configuring. Power fails at the second, once the new
    # status file is in place and before the journal entries it folded in are
    # removed: every package is settled and dpkg --audit finds nothing, yet
    # the journal is on disk. The client's start folds it in again
    # (dpkg --configure -a) and the device ends exactly on v2.
    result = trial(method="inplace", payload="v2", held=True,
                   cut="phase=deploy,syscall=unlinkat,path=/var/lib/dpkg/updates/0000,n=2,edge=before")
    assert result.cut is not None and result.cut["phase"] == "deploy"
    assert result.dpkg == {"unsettled": [], "brownout-app": "2", "bc": "installed"}, result.summary()
    assert result.final == "mixed" and result.mixed_roots, result.summary()
    assert result.mixed_roots[0]["when"] == "after the cut"
    assert "+var/lib/dpkg/updates/0000" in result.mixed_roots[0]["paths"], result.summary()
    assert "completes" in result.verdicts, result.summary()
    assert [m["when"] for m in result.mixed_roots] == ["after the cut"], result.summary()
