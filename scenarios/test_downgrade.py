"""An older release, offered to a device that runs a newer one, is refused by
every method before anything is written. The device starts on v2 (a start
built once per method, trial --from v2) and is offered v1 exactly as it was
signed at its release: a replay of an old, correctly signed release."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness import methods
from harness.checks.device import partitions
from harness.checks.digest import classify, load_known
from harness.checks.disk import check_root
from harness.images import require

pytestmark = [pytest.mark.e2e, pytest.mark.qemu, pytest.mark.timeout(900)]


def slot_version(disk: Path, method: str, partition: str) -> str:
    versions = require(methods.get(method).digests)
    part = {p.name: p for p in partitions(method)}[partition]
    root = check_root(disk, part, "/", versions)
    return classify(root.digest, load_known(versions / "digests.jsonl")) if root.digest else "mixed"


@pytest.mark.parametrize("method", ["ab", "asymmetric", "inplace", "ostree", "rauc"])
def test_an_older_signed_release_is_refused_and_v2_keeps_running(trial, method: str) -> None:
    result = trial(method=method, payload="v1", start="v2")
    assert result.start == "v2" and result.final == "v2", result.summary()
    assert set(result.verdicts) >= {"atomic", "refused"}, result.summary()
    assert result.update_error and (result.update_error["reason"], result.update_error["detail"]) == \
        ("verify", "downgrade"), result.summary()
    # Nothing switched: no reboot, and no boot of anything but v2.
    assert result.measures.reboots == 0
    assert {b["version"] for b in result.boots} == {"2"}
    if method in ("ab", "rauc"):
        # The other slot still holds the v1 the start came from: the refused v1 never went into it.
        disk = next(Path(result.log_dir).glob("*.qcow2"))
        assert slot_version(disk, method, "rootA") == "v1"
