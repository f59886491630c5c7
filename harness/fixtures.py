"""pytest fixtures for devices built by the image builder (a pytest plugin).

`device_factory("ab")` gives a fresh device on its own overlay of the pristine
disk; `power_factory(device)` gives its power switch, always left off;
`trial(payload=...)` runs a whole update trial against the session's update
server, and the session summary lists every trial's measures. Tests
that need built images skip with the command to build them when they are
missing, unless BROWNOUT_REQUIRE_IMAGES=1 (as `make test` sets), where a
missing image is a failure: CI must not pass by skipping.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

import pytest

from . import HarnessError, NoSpace, methods
from .checks.device import Device
from .machine.power import PowerSwitch
from .machine.qemu import interrupt_on_term
from .server import UpdateServer
from .machine.snapshot import Snapshot
from .campaign.runner import snapshot_store
from .trial import cutspec
from .trial.run import TrialResult, TrialSpec, run_trial
from .trial.snapshots import KEPT, SnapshotStore


def pytest_configure(config: pytest.Config) -> None:
    # Killed (a CI job's timeout, a TERM from a shell), a test run unwinds as
    # on Ctrl-C: fixtures tear down and their machines are reaped.
    interrupt_on_term()


def _images_or_skip(method: str, run_dir: Path) -> Device:
    try:
        return Device.create(method, run_dir)
    except NoSpace:
        raise
    except HarnessError as e:
        if os.environ.get("BROWNOUT_REQUIRE_IMAGES") == "1":
            raise
        pytest.skip(f"{e}")


@pytest.fixture
def device_factory(tmp_path: Path) -> Callable[[str], Device]:
    count = 0

    def make(method: str) -> Device:
        nonlocal count
        count += 1
        return _images_or_skip(method, tmp_path / f"{method}-{count}")

    return make


@pytest.fixture
def power_factory(tmp_path: Path) -> Iterator[Callable[[Device], PowerSwitch]]:
    switches: list[PowerSwitch] = []

    def make(device: Device) -> PowerSwitch:
        switch = PowerSwitch(device.config, device.run_dir / "boots")
        switches.append(switch)
        return switch

    yield make
    for switch in switches:
        switch.close()


@pytest.fixture(scope="session")
def update_server() -> Iterator[UpdateServer]:
    try:
        roots = methods.served_roots()
    except HarnessError as e:
        if os.environ.get("BROWNOUT_REQUIRE_IMAGES") == "1":
            raise
        pytest.skip(str(e))
    with UpdateServer(roots) as server:
        yield server


@pytest.fixture(scope="session")
def snapshots(update_server: UpdateServer, tmp_path_factory: pytest.TempPathFactory,
              pytestconfig: pytest.Config) -> Callable[[TrialSpec, str, int, int], Snapshot]:
    """Snapshots, one per update, phase and point held at (0: where the phase
    starts), taken on first use or copied from those kept (trial/snapshots.py),
    shared by all the session's workers: a campaign's beside its journal, a
    test run's beside the workers' own temporary directories."""
    journal = pytestconfig.getoption("brownout_journal", None)
    if journal:
        directory = snapshot_store(journal)
    else:
        base = tmp_path_factory.getbasetemp()
        # An xdist worker's base is its own directory under the session's.
        directory = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "snapshots"
        directory.mkdir(exist_ok=True)
    fresh = bool(pytestconfig.getoption("brownout_fresh_snapshots", False))
    return SnapshotStore(directory, update_server, kept=KEPT, fresh=fresh).get


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Each phase's report on its item, for fixtures that act on the outcome."""
    outcome = yield
    report = outcome.get_result()
    item.stash.setdefault(_REPORTS, {})[report.when] = report


_REPORTS = pytest.StashKey[dict]()


@pytest.fixture
def trial(update_server: UpdateServer, tmp_path: Path, request: pytest.FixtureRequest,
          snapshots: Callable[[TrialSpec, str, int, int], Snapshot]) -> Iterator[Callable[..., TrialResult]]:
    """Run a trial on a fresh device; its result is printed in the session summary.
    With `held`, a cut trial starts as a campaign's does: from the session's
    snapshot of its update held where the cut's phase starts (taken once for
    all the tests that ask for it), not from a cold boot and the update up to
    there. A passed test's device disks are removed (a slot write is 300-400 MB
    each); its console logs stay, and a failed test keeps everything."""
    count = 0

    def run(from_installed: bool = False, hold_rerun: bool = True, held: bool = False,
            **spec: object) -> TrialResult:
        nonlocal count
        count += 1
        wanted = TrialSpec(**spec)  # type: ignore[arg-type]
        phase = cutspec.parse(wanted.cut).get("phase") if held and wanted.cut else None
        if held and not phase:
            # What else a trial from a snapshot must be, the trial itself checks.
            raise HarnessError(f"a held trial needs a cut in a named phase, not {wanted.cut!r}")
        snapshot = snapshots(wanted, phase, 0, -1) if phase else None
        result = run_trial(wanted, tmp_path / f"trial-{count}", update_server, snapshot=snapshot,
                           from_installed=from_installed, hold_rerun=hold_rerun)
        # user_properties travel from xdist workers to the controller.
        request.node.user_properties.append(("brownout-trial", result.summary()))
        return result

    yield run
    call = request.node.stash.get(_REPORTS, {}).get("call")
    if call is not None and call.passed:
        for disk in tmp_path.glob("trial-*/*.qcow2"):
            disk.unlink()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    summaries = [value for reports in terminalreporter.stats.values() for report in reports
                 if getattr(report, "when", "") == "call"
                 for name, value in getattr(report, "user_properties", ()) if name == "brownout-trial"]
    if summaries:
        terminalreporter.section("brownout trial measures")
        for summary in summaries:
            terminalreporter.write_line(summary)
