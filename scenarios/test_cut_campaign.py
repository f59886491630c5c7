"""A campaign: one trial per planned cut point, and for a comparative campaign
the scenarios of each method (`./brownout campaign` plans them and sets
BROWNOUT_PLAN). Collected empty, and skipped, without a plan.

Cut trials of a phase with enough of them start from a snapshot held where the
phase begins (harness/snapshot.py), one per group (campaign.group_cuts), unless
BROWNOUT_SNAPSHOTS=0 asks for cold starts.
Each trial's console logs stay next to the journal (<journal>.logs/<id>/)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from harness.campaign import Journal, PlannedCut, failure, load_plan
from harness.trial import run_trial

PLAN: list[PlannedCut] = load_plan(Path(os.environ["BROWNOUT_PLAN"])) if os.environ.get("BROWNOUT_PLAN") else []

pytestmark = [pytest.mark.campaign, pytest.mark.e2e, pytest.mark.qemu, pytest.mark.timeout(1200)]


@pytest.mark.parametrize("cut", [pytest.param(c, marks=pytest.mark.xdist_group(c.group)) if c.group else c
                                 for c in PLAN], ids=[c.id for c in PLAN])
def test_power_cut(cut: PlannedCut, update_server, snapshots, request: pytest.FixtureRequest) -> None:
    journal = Journal(Path(os.environ["BROWNOUT_JOURNAL"]))
    run_dir = journal.path.with_suffix(".logs") / cut.id
    shutil.rmtree(run_dir, ignore_errors=True)
    spec = cut.trial()
    use = cut.snapshot and os.environ.get("BROWNOUT_SNAPSHOTS", "1") != "0"
    snapshot = snapshots(spec, cut.phase) if use else None
    if snapshot and cut.index <= snapshot.points:
        snapshot = None          # the point comes before the hold: start cold
    try:
        result = run_trial(spec, run_dir, update_server, snapshot=snapshot)
    finally:
        for disk in run_dir.glob("*.qcow2"):
            disk.unlink()        # keep the logs, not the disk
    journal.append(cut, result, int(os.environ.get("BROWNOUT_SEED", "0")))
    request.node.user_properties.append(("brownout-trial", result.summary()))
    assert result.final != "missed", f"the cut point never fired: {result.reproduce}"
    assert failure({**result.as_dict(), "kind": cut.kind}) is None, result.summary()
