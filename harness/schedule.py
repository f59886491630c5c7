"""How `make test` spreads its tests over xdist workers (`--dist load`): the
longest first, by how long each took when it last ran on this machine, and
each worker given its next test only as it starts the one before. xdist's
own load scheduling hands out tests in chunks in file order, so the end of a
run can find one worker idle while the other still holds several minutes of
queued guest tests. Longest first, one at a time, leaves only short tests
for the end, where the workers even out. A campaign's trials go one at a
time too, in the order its plan lists them (campaign.dispatch_order), except
that a trial whose snapshot is being taken (its first trial sent, none of
its trials finished) is passed over for the next one that need not wait,
while there is one; when every one would wait, a worker takes the next
trial of a snapshot it is taking itself, which is ready by the time it
gets there, before one it would wait on another worker for.

The durations are kept in the cache beside the image steps' (they outlive
build/); a test never timed here counts as a guest test if it lives where
guest tests do. A run can also write its figures (wall time, each file's
summed test time) as bench output, stamped like every bench's."""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest

from .images import CACHE, read_seconds, write_seconds
from .report.results import stamp, write_bench

log = logging.getLogger(__name__)

DURATIONS = CACHE / "test-seconds.json"
# Where `make test` has the run's figures written (`./brownout results --bench FILE` shows them).
SUITE_BENCH = "BROWNOUT_SUITE_BENCH"
_WORSE = ("passed", "skipped", "failed")
# What an untimed test is guessed to take: a guest test's typical minute, else a unit test's moment.
GUESS_GUEST_S = 60.0
GUESS_OTHER_S = 0.1
GUEST_PATHS = ("scenarios/", "tests/python/test_e2e")


def expected_s(nodeid: str, durations: dict[str, float]) -> float:
    if nodeid in durations:
        return durations[nodeid]
    return GUESS_GUEST_S if nodeid.startswith(GUEST_PATHS) else GUESS_OTHER_S


def longest_first(collection: list[str], durations: dict[str, float]) -> list[int]:
    """The indices of `collection`, longest expected first (ties in collection order)."""
    return sorted(range(len(collection)), key=lambda i: -expected_s(collection[i], durations))


def snapshot_groups(collection: list[str], plan: Path | None) -> list[str | None]:
    """For each test of the collection, the snapshot its campaign trial starts
    from (campaign.snapshot_of); None for a cold trial, or outside a campaign."""
    if plan is None:
        return [None] * len(collection)
    from .campaign.runner import load_plan, snapshot_of
    of_trial = {c.id: snapshot_of(c) for c in load_plan(plan)}
    return [of_trial.get(nodeid.partition("[")[2][:-1]) for nodeid in collection]


def next_position(pending: list[int], groups: list[str | None], sent: set[str], finished: set[str],
                  own: frozenset[str] = frozenset()) -> int:
    """Where in `pending` the test to send next is: the first that waits for
    no snapshot being taken (its group's first trial sent, none finished);
    when each of them would wait, the first whose snapshot the worker it
    goes to is taking (`own`: the groups whose first trial it was sent),
    else the first of all."""
    for position, index in enumerate(pending):
        group = groups[index]
        if group is None or group not in sent or group in finished:
            return position
    return next((position for position, index in enumerate(pending) if groups[index] in own), 0)


def _scheduler_class() -> type:
    from xdist.scheduler import LoadScheduling

    class LongestFirst(LoadScheduling):  # type: ignore[misc]
        """LoadScheduling with its order and chunks replaced (see the module's docstring)."""
        collection: list[str] | None
        groups: list[str | None]
        sent: set[str]
        finished: set[str]
        taker: dict[str, Any]            # the worker each group's first trial was sent to

        def schedule(self) -> None:
            assert self.collection_is_completed
            if self.collection is not None:
                for node in self.nodes:
                    self.check_schedule(node)
                return
            if not self._check_nodes_have_same_collection():
                self.log("**Different tests collected, aborting run**")
                return
            collection: list[str] = list(self.node2collection.values())[0]
            self.collection = collection
            plan = self.config.getoption("brownout_plan", None)
            self.groups, self.sent, self.finished = snapshot_groups(collection, plan), set(), set()
            self.taker = {}
            # A campaign's plan is in the order its trials are to be taken (campaign.dispatch_order).
            self.pending[:] = range(len(collection)) if plan else longest_first(collection, read_seconds(DURATIONS))
            # Round by round, so the two longest start side by side on two workers.
            for _ in range(2):
                for node in self.nodes:
                    if self.pending:
                        self._send_tests(node, 1)
            if not self.pending:
                for node in self.nodes:
                    node.shutdown()

        def check_schedule(self, node: Any, duration: float = 0) -> None:
            if node.shutting_down:
                return
            if not self.pending:
                node.shutdown()
                return
            # A worker runs a test once it holds the next one (pytest's nextitem): two each.
            wanted = 2 - len(self.node2pending[node])
            if wanted > 0:
                self._send_tests(node, min(wanted, len(self.pending)))

        def _send_tests(self, node: Any, num: int) -> None:
            for _ in range(num):
                if not self.pending:
                    return
                own = frozenset(g for g, taker in self.taker.items() if taker is node)
                index = self.pending.pop(next_position(self.pending, self.groups, self.sent, self.finished, own))
                self.pending.insert(0, index)
                group = self.groups[index]
                if group is not None:
                    self.sent.add(group)
                    self.taker.setdefault(group, node)
                super()._send_tests(node, 1)

        def mark_test_complete(self, node: Any, item_index: int, duration: float = 0) -> None:
            group = self.groups[item_index]
            if group is not None:
                self.finished.add(group)
            super().mark_test_complete(node, item_index, duration)

    return LongestFirst


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getoption("dist") != "load":
        return None
    return _scheduler_class()(config, log)


class _Timer:
    """On the controller (or a run without xdist): each test's setup, call and
    teardown summed, written to DURATIONS at the end with the earlier ones;
    where SUITE_BENCH names a file, the run's figures too, as bench output."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.seconds: dict[str, float] = {}
        self.outcomes: dict[str, str] = {}
        self.started = time.monotonic()
        # The commit the suite runs, whatever is committed while it runs.
        self.began = stamp() if os.environ.get(SUITE_BENCH) else None

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[report.nodeid] = self.seconds.get(report.nodeid, 0.0) + report.duration
        # The worst of a test's phases (setup, call, teardown): a failed teardown fails a passed call.
        self.outcomes[report.nodeid] = max(self.outcomes.get(report.nodeid, "passed"), report.outcome,
                                           key=_WORSE.index)

    @pytest.hookimpl
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.seconds:
            return
        merged = read_seconds(DURATIONS)
        merged.update((k, round(v, 2)) for k, v in self.seconds.items())
        try:
            write_seconds(DURATIONS, merged)
        except OSError as e:
            log.warning("test durations not kept in %s (%s): the next run orders its tests less well", DURATIONS, e)
        bench = os.environ.get(SUITE_BENCH)
        if bench:
            write_bench(Path(bench), "suite", suite_figures(self.seconds, self.outcomes,
                                                            time.monotonic() - self.started,
                                                            self.config.getoption("numprocesses", None) or 1,
                                                            int(exitstatus)), self.began)


def suite_figures(seconds: dict[str, float], outcomes: dict[str, str], wall_s: float, workers: int,
                  exit_status: int) -> dict:
    """A run's wall time and where it went: each test file's tests and their summed seconds."""
    files: dict[str, list[float]] = {}
    for nodeid, s in seconds.items():
        files.setdefault(nodeid.split("::", 1)[0], []).append(s)
    counts: dict[str, int] = {}
    for outcome in outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return {"wall_s": round(wall_s, 1), "workers": workers, "tests": len(seconds), "exit_status": exit_status,
            "outcomes": counts, "test_s": round(sum(seconds.values()), 1),
            "files": sorted(({"file": f, "tests": len(v), "seconds": round(sum(v), 1)} for f, v in files.items()),
                            key=lambda r: -r["seconds"])}


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    # Workers report to the controller, which times every test; timing on them too would race.
    # A campaign's trials are not the suite's tests: their times would only crowd the file.
    if not hasattr(config, "workerinput") and not config.getoption("brownout_plan", None):
        config.pluginmanager.register(_Timer(config), "brownout-test-durations")
