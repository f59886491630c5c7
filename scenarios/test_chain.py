"""The update's later life. The second update: a device already on v2 (a start
built once per method, trial --from v2) takes v3. A/B and RAUC write the other
slot this time (A); OSTree deploys v3 beside the booted v2 and, once v3
confirms, cleans up the v1 deployment it no longer lists; asymmetric and
in-place simply run again. And after a rollback: a device that was offered
v2-bad and came back to v1 (--from v2-bad) takes v2 over v2-bad's leftovers."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.checks.device import partitions
from harness.checks.disk import extract
from harness.machine.console import parse_marker
from harness.trial.runlogs import console_logs

pytestmark = [pytest.mark.e2e, pytest.mark.qemu, pytest.mark.timeout(900)]

SECOND_SLOT = {"ab": "A", "rauc": "A", "asymmetric": "root", "inplace": "root"}


def deployments(disk: Path, tmp_path: Path) -> list[str]:
    """The deployment directories of the OSTree partition, offline."""
    part = {p.name: p for p in partitions("ostree")}["ostree"]
    image = extract(disk, part, tmp_path / "ostree.img")
    # What the last boot journaled, as a mount would find it: debugfs reads no journal.
    subprocess.run(["e2fsck", "-E", "journal_only", "-p", str(image)], capture_output=True)
    listing = subprocess.run(["debugfs", "-R", "ls -p /ostree/deploy/brownout/deploy", str(image)],
                             capture_output=True, text=True, check=True).stdout
    # ls -p: /inode/mode/uid/gid/name/size/ per entry; directories have mode 04xxxx.
    return sorted(f[5] for f in (line.split("/") for line in listing.splitlines())
                  if len(f) > 6 and f[2].startswith("04") and f[5] not in (".", ".."))


@pytest.mark.parametrize("method", ["ab", "asymmetric", "inplace", "ostree", "rauc"])
def test_a_device_on_v2_takes_v3(trial, tmp_path: Path, method: str) -> None:
    result = trial(method=method, payload="v3", start="v2")
    assert result.start == "v2" and result.final == "v3", result.summary()
    assert set(result.verdicts) >= {"atomic", "completes"}, result.summary()
    assert not result.anomalies, result.summary()
    if method in SECOND_SLOT:
        assert result.slot == SECOND_SLOT[method]
    else:
        # v3 booted and confirmed; of v1 and v2 only the fallback, v2, is left.
        disk = next(Path(result.log_dir).glob("*.qcow2"))
        left = deployments(disk, tmp_path)
        assert len(left) == 2 and result.slot in left, (left, result.summary())
        # Every commit is still named (v1 by the ref the factory pulled it under): nothing to prune.
        assert cleanups(result.log_dir) == ["skipped"], result.summary()


@pytest.mark.parametrize("method", ["ab", "asymmetric", "ostree", "rauc"])
def test_a_device_that_rolled_back_from_v2_bad_takes_v2(trial, method: str) -> None:
    result = trial(method=method, payload="v2", start="v2-bad")
    assert result.start == "v2-bad" and result.final == "v2", result.summary()
    assert set(result.verdicts) >= {"atomic", "completes"}, result.summary()
    assert not result.anomalies, result.summary()
    # It came up in v1 (the rollback held) before it took v2.
    assert result.boots[0]["version"] == "1", result.summary()
    if method == "ostree":
        # v2-bad's commit, pulled by the rolled-back update, is named by no ref once v2 is
        # pulled: v2's cleanup prunes (its deletions are not synced, so the disk after the
        # last power-off need not show them).
        assert cleanups(result.log_dir) == ["done"], result.summary()


def cleanups(log_dir: str) -> list[str]:
    """How each OSTree cleanup of a trial's boots went: its `cleanup` markers' prune field."""
    # A console log's line is "[seconds] text" (machine/console.py).
    texts = (line.partition("] ")[2] for console in console_logs(log_dir)
             for line in console.read_text(errors="replace").splitlines())
    markers = (parse_marker(text, 0.0) for text in texts)
    return [m.get("prune", "") for m in markers if m and m.event == "cleanup"]
