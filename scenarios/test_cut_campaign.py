"""A campaign: one trial per planned cut point, and for a comparative campaign
the scenarios of each method (`./brownout campaign` plans them and sets
BROWNOUT_PLAN). Collected empty, and skipped, without a plan.

Cut trials of a phase with enough of them start from a snapshot held where the
phase begins (harness/snapshot.py), one per group (campaign.group_cuts), unless
BROWNOUT_SNAPSHOTS=0 asks for cold starts.
Each trial's console logs stay next to the journal (<journal>.logs/<id>/).

Every trial ends in the journal: one the harness cannot finish (a QEMU or QMP
failure, a snapshot that cannot be taken or restored) is written as `error`,
one that outlives BROWNOUT_TRIAL_TIMEOUT seconds as `timeout`, each with its
reason and the console's last lines."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from harness.campaign import Journal, PlannedCut, failure, load_plan
from harness.trial import TrialResult, run_trial

PLAN: list[PlannedCut] = load_plan(Path(os.environ["BROWNOUT_PLAN"])) if os.environ.get("BROWNOUT_PLAN") else []
TRIAL_TIMEOUT = float(os.environ.get("BROWNOUT_TRIAL_TIMEOUT", "1200"))
# pytest-timeout's signal method ends a test with pytest.fail("Timeout >Ns").
TIMEOUT_MESSAGE = "Timeout >"

pytestmark = [pytest.mark.campaign, pytest.mark.e2e, pytest.mark.qemu, pytest.mark.timeout(TRIAL_TIMEOUT)]


def _unfinished(cut: PlannedCut, error: BaseException, run_dir: Path, started: str) -> TrialResult:
    text = str(error).strip()
    if isinstance(error, pytest.fail.Exception) and text.startswith(TIMEOUT_MESSAGE):
        return TrialResult.unfinished(cut.trial(), "timeout", f"the trial outlived its {TRIAL_TIMEOUT:.0f} s",
                                      run_dir, started)
    first = text.splitlines()[0] if text else "no message"
    return TrialResult.unfinished(cut.trial(), "error", f"{type(error).__name__}: {first}", run_dir, started)


@pytest.mark.parametrize("cut", [pytest.param(c, marks=pytest.mark.xdist_group(c.group)) if c.group else c
                                 for c in PLAN], ids=[c.id for c in PLAN])
def test_power_cut(cut: PlannedCut, update_server, snapshots, request: pytest.FixtureRequest) -> None:
    journal = Journal(Path(os.environ["BROWNOUT_JOURNAL"]))
    run_dir = journal.path.with_suffix(".logs") / cut.id
    shutil.rmtree(run_dir, ignore_errors=True)
    started = "cold"
    try:
        spec = cut.trial()
        use = cut.snapshot and os.environ.get("BROWNOUT_SNAPSHOTS", "1") != "0"
        snapshot = snapshots(spec, cut.phase) if use else None
        if snapshot and cut.index <= snapshot.points:
            snapshot = None          # the point comes before the hold: start cold
        started = f"snapshot:{snapshot.phase}" if snapshot else "cold"
        result = run_trial(spec, run_dir, update_server, snapshot=snapshot)
    except KeyboardInterrupt:
        raise                        # a stopped campaign: the trial is run again on --resume
    except BaseException as e:       # noqa: B036 — pytest-timeout's failure is a BaseException
        result = _unfinished(cut, e, run_dir, started)
    finally:
        for disk in run_dir.glob("*.qcow2"):
            disk.unlink()            # keep the logs, not the disk
    journal.append(cut, result, int(os.environ.get("BROWNOUT_SEED", "0")))
    request.node.user_properties.append(("brownout-trial", result.summary()))
    assert result.final not in ("error", "timeout"), result.summary()
    assert result.final != "missed", f"the cut point never fired: {result.reproduce}"
    assert failure({**result.as_dict(), "kind": cut.kind}) is None, result.summary()
