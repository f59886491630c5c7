"""The campaign's pytest plugin: `brownout campaign` runs pytest with this plugin
and a plan file; the plugin makes one test per planned trial and runs each
through the harness, which journals it. Control goes one way: CLI → pytest
(options) → plugin → harness.

Options: --brownout-plan FILE (the planned trials, campaign.save_plan),
--brownout-journal FILE, --brownout-seed N, --brownout-trial-timeout SECONDS,
--brownout-cold (no snapshots, and a cut in the confirmation runs the update
before it too), --brownout-judge-every-trial, --brownout-cold-rerun,
--brownout-fresh-snapshots. Without a plan the campaign test is collected empty.

Every trial ends in the journal: one the harness cannot finish (a QEMU or QMP
failure, a snapshot that cannot be taken or restored) is written as `error`,
one that outlives the trial timeout as `timeout`, each with its reason and the
console's last lines. Test ids are the planned ids (`-k ab-pull-cut017`). The
campaign's xdist workers share its snapshots (trial/snapshots.py) and take
the trials one at a time in the plan's order (harness/schedule.py).
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Callable

import pytest

from .runner import DEFAULT_TRIAL_TIMEOUT, PlannedCut, load_plan, same_disk_store
from .journal import Journal
from ..server import UpdateServer
from ..machine.snapshot import Snapshot
from ..trial.run import TrialResult, TrialSpec, run_trial, start_label
from ..trial.samedisk import SameDisk, SameDiskStore

# pytest-timeout's signal method ends a test with pytest.fail("Timeout >Ns").
TIMEOUT_MESSAGE = "Timeout >"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("brownout campaign")
    group.addoption("--brownout-plan", type=Path, metavar="FILE", help="planned trials (JSON) to run")
    group.addoption("--brownout-journal", type=Path, metavar="FILE", help="journal the trials are appended to")
    group.addoption("--brownout-seed", type=int, default=0, help="the campaign's seed, kept in the journal")
    group.addoption("--brownout-trial-timeout", type=float, default=DEFAULT_TRIAL_TIMEOUT, metavar="SECONDS",
                    help="a trial still running after this long is ended and journaled as a timeout")
    group.addoption("--brownout-cold", action="store_true", help="cold-boot every trial (no snapshots)")
    group.addoption("--brownout-judge-every-trial", action="store_true",
                    help="boot and judge every trial, even when its cut left a disk already judged")
    group.addoption("--brownout-cold-rerun", action="store_true",
                    help="re-run an update after its cut from a cold boot, not from the boot that settled")
    group.addoption("--brownout-fresh-snapshots", action="store_true",
                    help="take every snapshot, none from those earlier campaigns kept (they are kept anew)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "planned_cut" not in metafunc.fixturenames:
        return
    path = metafunc.config.getoption("brownout_plan")
    plan = load_plan(path) if path else []
    timeout = pytest.mark.timeout(metafunc.config.getoption("brownout_trial_timeout"))
    metafunc.parametrize("planned_cut", [pytest.param(c, marks=[timeout]) for c in plan], ids=[c.id for c in plan])


@pytest.fixture
def run_planned(request: pytest.FixtureRequest, update_server: UpdateServer,
                snapshots: Callable[[TrialSpec, str, int, int], Snapshot]) -> Callable[[PlannedCut], TrialResult]:
    """Run one planned trial and journal it, whatever becomes of it."""
    config = request.config
    journal = Journal(config.getoption("brownout_journal"))
    timeout = config.getoption("brownout_trial_timeout")

    def run(cut: PlannedCut) -> TrialResult:
        began = time.monotonic()
        run_dir = journal.path.with_suffix(".logs") / cut.id
        shutil.rmtree(run_dir, ignore_errors=True)
        started = "cold"
        snapshot_s = 0.0
        try:
            spec = cut.trial()
            asked = time.monotonic()
            snapshot = snapshots(spec, cut.hold_phase or cut.phase, cut.hold_at, cut.hold_index - 1) \
                if cut.snapshot and not config.getoption("brownout_cold") else None
            snapshot_s = time.monotonic() - asked
            if snapshot and not cut.rank and cut.index <= snapshot.points:
                snapshot = None          # the point comes before the hold: start cold
            cold = config.getoption("brownout_cold")
            started = start_label(snapshot, spec.confirm_stage and not cold)
            same_disk = None if config.getoption("brownout_judge_every_trial") else \
                SameDisk(SameDiskStore(same_disk_store(journal)), cut.id)
            result = run_trial(spec, run_dir, update_server, snapshot=snapshot, same_disk=same_disk,
                               from_installed=not cold, hold_rerun=not config.getoption("brownout_cold_rerun"))
        except KeyboardInterrupt:
            raise                        # a stopped campaign: the trial is run again on --resume
        except BaseException as e:       # noqa: B036 — pytest-timeout's failure is a BaseException
            result = unfinished(cut, e, run_dir, started, timeout)
        finally:
            for disk in run_dir.glob("*.qcow2"):
                disk.unlink()            # keep the logs, not the disk
        if result.timings:
            result.timings = spent(result.timings, snapshot_s, time.monotonic() - began)
        journal.record(cut.id, cut.kind, cut.phase, result, config.getoption("brownout_seed"), cut.equivalents,
                       dict(cut.equivalent_kinds))
        request.node.user_properties.append(("brownout-trial", result.summary()))
        return result

    return run


def spent(parts: dict[str, float], snapshot_s: float, wall_s: float) -> dict[str, float]:
    """A campaign trial's timings: the trial's own parts, the snapshot it took or
    waited for (none when it was taken already) and the rest of its wall time, so
    that the parts add up to that time."""
    own = {"snapshot": round(snapshot_s, 3)} if snapshot_s >= 0.01 else {}
    own |= parts
    return own | {"other": round(max(0.0, wall_s - sum(own.values())), 3)}


def unfinished(cut: PlannedCut, error: BaseException, run_dir: Path, started: str, timeout: float) -> TrialResult:
    """The journal entry of a trial the harness could not finish."""
    text = str(error).strip()
    if isinstance(error, pytest.fail.Exception) and text.startswith(TIMEOUT_MESSAGE):
        return TrialResult.unfinished(cut.trial(), "timeout", f"the trial outlived its {timeout:.0f} s",
                                      run_dir, started)
    first = text.splitlines()[0] if text else "no message"
    return TrialResult.unfinished(cut.trial(), "error", f"{type(error).__name__}: {first}", run_dir, started)
