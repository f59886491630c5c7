"""A campaign's trials: one test per planned trial, made by the campaign plugin
(harness/campaign/pytest_plugin.py) from the plan `./brownout campaign` hands pytest.
Collected empty, and skipped, without a plan. Each trial's console logs stay
next to the journal (<journal>.logs/<id>/)."""
from __future__ import annotations

from typing import Callable

import pytest

from harness.campaign.runner import PlannedCut
from harness.campaign.journal import Entry
from harness.trial.run import TrialResult

pytestmark = [pytest.mark.campaign, pytest.mark.e2e, pytest.mark.qemu]


def test_power_cut(planned_cut: PlannedCut, run_planned: Callable[[PlannedCut], TrialResult]) -> None:
    result = run_planned(planned_cut)
    assert result.final not in ("error", "timeout"), result.summary()
    assert result.final != "missed", f"the cut point never fired: {result.reproduce}"
    entry = Entry.of_trial(planned_cut.id, planned_cut.kind, planned_cut.phase, result)
    assert entry.failure is None, result.summary()
