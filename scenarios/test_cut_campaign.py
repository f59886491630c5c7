"""The cut campaign: one trial per planned cut point (`./brownout campaign` plans
them and sets BROWNOUT_PLAN). Collected empty, and skipped, without a plan."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.campaign import Journal, PlannedCut, load_plan
from harness.trial import run_trial

PLAN: list[PlannedCut] = load_plan(Path(os.environ["BROWNOUT_PLAN"])) if os.environ.get("BROWNOUT_PLAN") else []

pytestmark = [pytest.mark.campaign, pytest.mark.e2e, pytest.mark.qemu, pytest.mark.timeout(1200)]


@pytest.mark.parametrize("cut", PLAN, ids=[c.id for c in PLAN])
def test_power_cut(cut: PlannedCut, update_server, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    result = run_trial(cut.trial(), tmp_path / "trial", update_server)
    Journal(Path(os.environ["BROWNOUT_JOURNAL"])).append(cut, result, int(os.environ.get("BROWNOUT_SEED", "0")))
    request.node.user_properties.append(("brownout-trial", result.summary()))
    assert result.final != "missed", f"the cut point never fired: {result.reproduce}"
    assert {"atomic", "completes"} <= set(result.verdicts), result.summary()
