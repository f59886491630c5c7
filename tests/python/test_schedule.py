"""make test's order over xdist workers: longest first, one test at a time."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness import schedule
from harness.campaign.runner import PlannedCut, save_plan
from harness.images import REPO
from harness.report.results import bench_section, load_bench, write_bench

TIMED = {"t.py::test_t[a-0.8]": 0.8, "t.py::test_t[b-0.5]": 0.5, "t.py::test_t[c-0.2]": 0.2,
         "t.py::test_t[d-0.1]": 0.1, "t.py::test_t[e-0.0]": 0.0}


def run_five(tmp_path: Path, *options: str, **env: str) -> subprocess.CompletedProcess[str]:
    """pytest -n 2 under the scheduler on five tests that log their start and
    sleep (a 0.8 s ... e 0 s), with TIMED as the durations kept."""
    (tmp_path / "t.py").write_text(
        "import os, time\nimport pytest\n"
        "@pytest.mark.parametrize('name, seconds', [('e', 0.0), ('d', 0.1), ('c', 0.2), ('b', 0.5), ('a', 0.8)])\n"
        "def test_t(name, seconds):\n"
        "    with open(os.environ['ORDER_LOG'], 'a') as f:\n"
        "        f.write(name + ' ' + os.environ['PYTEST_XDIST_WORKER'] + '\\n')\n"
        "    time.sleep(seconds)\n")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "test-seconds.json").write_text(json.dumps(TIMED))
    environ = dict(os.environ, ORDER_LOG=str(tmp_path / "order.log"), BROWNOUT_CACHE=str(tmp_path / "cache"),
                   PYTHONPATH=str(REPO), **env)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "harness.schedule",
                           "-p", "no:cacheprovider", "-c", "/dev/null", "--rootdir", str(tmp_path), *options, "t.py"],
                          cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=120)


def started_by_worker(tmp_path: Path) -> dict[str, list[str]]:
    """The tests each worker started, in order."""
    by_worker: dict[str, list[str]] = {}
    for line in (tmp_path / "order.log").read_text().splitlines():
        name, worker = line.split()
        by_worker.setdefault(worker, []).append(name)
    return by_worker


def test_the_longest_known_test_comes_first_and_untimed_guest_tests_before_unit_tests() -> None:
    collection = ["tests/python/test_unit.py::test_new", "t.py::test_t[c-0.2]",
                  "scenarios/test_new.py::test_boot", "t.py::test_t[a-0.8]"]
    order = [collection[i] for i in schedule.longest_first(collection, TIMED)]
    assert order == ["scenarios/test_new.py::test_boot", "t.py::test_t[a-0.8]", "t.py::test_t[c-0.2]",
                     "tests/python/test_unit.py::test_new"]


def test_two_workers_start_the_two_longest_side_by_side_and_keep_the_times(tmp_path: Path) -> None:
    run = run_five(tmp_path, BROWNOUT_SUITE_BENCH=str(tmp_path / "suite.json"))
    assert run.returncode == 0, run.stdout + run.stderr
    by_worker = started_by_worker(tmp_path)
    assert sorted(names[0] for names in by_worker.values()) == ["a", "b"], by_worker
    assert sorted(sum(by_worker.values(), [])) == ["a", "b", "c", "d", "e"]
    kept = json.loads((tmp_path / "cache" / "test-seconds.json").read_text())
    assert set(kept) == set(TIMED) and kept["t.py::test_t[a-0.8]"] >= 0.8, kept
    suite = load_bench(tmp_path / "suite.json")
    assert (suite["benchmark"], suite["workers"], suite["tests"], suite["outcomes"]) == ("suite", 2, 5, {"passed": 5})
    assert [f["file"] for f in suite["files"]] == ["t.py"] and suite["files"][0]["seconds"] >= 1.6
    assert suite["wall_s"] >= 0.8 and suite["exit_status"] == 0


def test_a_test_counts_as_its_worst_phase_and_files_come_longest_first() -> None:
    seconds = {"a.py::one": 3.0, "a.py::two": 1.0, "b.py::three": 5.0}
    outcomes = {"a.py::one": "passed", "a.py::two": "failed", "b.py::three": "skipped"}
    figures = schedule.suite_figures(seconds, outcomes, wall_s=4.5, workers=2, exit_status=1)
    assert figures["files"] == [{"file": "b.py", "tests": 1, "seconds": 5.0},
                                {"file": "a.py", "tests": 2, "seconds": 4.0}]
    assert figures["outcomes"] == {"passed": 1, "failed": 1, "skipped": 1} and figures["test_s"] == 9.0


def test_the_results_page_shows_where_the_suites_time_went(tmp_path: Path) -> None:
    figures = schedule.suite_figures({"a.py::one": 30.0, "b.py::two": 10.0}, {"a.py::one": "passed",
                                     "b.py::two": "passed"}, wall_s=25.0, workers=2, exit_status=0)
    text = "\n".join(bench_section(write_bench(tmp_path / "suite.json", "suite", figures)))
    assert "2 tests in 25 s (passed 2; exit 0)" in text and "busy 80.0% of the run" in text
    assert "| `a.py` | 1 | 30 | 75% |" in text


def test_a_campaign_goes_in_its_plans_order_one_trial_at_a_time(tmp_path: Path) -> None:
    """The durations kept would start a and b; a campaign's plan starts e and d, its first two."""
    # The campaign's plugin gives the option; its plan makes tests of planned trials only, and t.py has none.
    (tmp_path / "plan.json").write_text("[]")
    run = run_five(tmp_path, "-p", "harness.campaign.pytest_plugin", "--brownout-plan", "plan.json")
    assert run.returncode == 0, run.stdout + run.stderr
    by_worker = started_by_worker(tmp_path)
    assert sorted(names[0] for names in by_worker.values()) == ["d", "e"], by_worker
    assert sorted(sum(by_worker.values(), [])) == ["a", "b", "c", "d", "e"]
    # A campaign's trials are not the suite's tests: the durations kept are left alone.
    assert json.loads((tmp_path / "cache" / "test-seconds.json").read_text()) == TIMED


def test_a_trial_whose_snapshot_another_worker_takes_is_passed_over_while_another_need_not_wait() -> None:
    groups = ["pull", "held", "pull", "held", None, "held"]
    # Nothing sent yet: the plan's order.
    assert schedule.next_position([0, 1, 2, 3, 4, 5], groups, set(), set()) == 0
    # The pull's and the held snapshot's first trials are out, none finished: a cold trial goes first.
    assert schedule.next_position([2, 3, 4, 5], groups, {"pull", "held"}, set()) == 2
    # The pull's first trial finished (its snapshot is there): its next trial goes.
    assert schedule.next_position([2, 3, 4, 5], groups, {"pull", "held"}, {"pull"}) == 0
    # Every one left would wait: the first of them, as planned.
    assert schedule.next_position([3, 5], groups, {"pull", "held"}, {"pull"}) == 0


def test_when_every_trial_would_wait_a_worker_takes_one_of_a_snapshot_it_takes_itself() -> None:
    groups = ["pull", "held", "pull", "held", "held"]
    # Both snapshots are being taken, neither finished: the held one by the worker asking.
    assert schedule.next_position([2, 3, 4], groups, {"pull", "held"}, set(), frozenset({"held"})) == 1
    assert schedule.next_position([2, 3, 4], groups, {"pull", "held"}, set(), frozenset({"pull"})) == 0
    # Neither is its own: the first, as planned.
    assert schedule.next_position([2, 3, 4], groups, {"pull", "held"}, set(), frozenset()) == 0
    # One that need not wait still goes first.
    assert schedule.next_position([2, 3, 4], groups, {"pull", "held"}, {"pull"}, frozenset({"held"})) == 0


def test_a_campaigns_tests_are_grouped_by_the_snapshot_their_trials_start_from(tmp_path: Path) -> None:
    cuts = [PlannedCut("ab-deploy-cut5-before", "ab", "v2", "deploy", 5, "before", rank=1, snapshot=True,
                       hold_phase="deploy", hold_at=1),
            PlannedCut("ab-pull-cut2-after", "ab", "v2", "pull", 2, "after", rank=2, snapshot=True),
            PlannedCut("ab-bootloader-cut9-after", "ab", "v2", "bootloader", 9, "after")]
    plan = tmp_path / "plan.json"
    save_plan(cuts, plan)
    collection = [f"scenarios/test_cut_campaign.py::test_power_cut[{c.id}]" for c in cuts] + ["other.py::test_x"]
    assert schedule.snapshot_groups(collection, plan) == ["ab-v2-safe-deploy-1", "ab-v2-safe-pull-0", None, None]
    assert schedule.snapshot_groups(collection, None) == [None] * 4
