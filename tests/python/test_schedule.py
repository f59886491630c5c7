"""make test's order over xdist workers: longest first, one test at a time."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness import schedule
from harness.images import REPO

TIMED = {"t.py::test_t[a-0.8]": 0.8, "t.py::test_t[b-0.5]": 0.5, "t.py::test_t[c-0.2]": 0.2,
         "t.py::test_t[d-0.1]": 0.1, "t.py::test_t[e-0.0]": 0.0}


def test_the_longest_known_test_comes_first_and_untimed_guest_tests_before_unit_tests() -> None:
    collection = ["tests/python/test_unit.py::test_new", "t.py::test_t[c-0.2]",
                  "scenarios/test_new.py::test_boot", "t.py::test_t[a-0.8]"]
    order = [collection[i] for i in schedule.longest_first(collection, TIMED)]
    assert order == ["scenarios/test_new.py::test_boot", "t.py::test_t[a-0.8]", "t.py::test_t[c-0.2]",
                     "tests/python/test_unit.py::test_new"]


def test_two_workers_start_the_two_longest_side_by_side_and_keep_the_times(tmp_path: Path) -> None:
    (tmp_path / "t.py").write_text(
        "import os, time\nimport pytest\n"
        "@pytest.mark.parametrize('name, seconds', [('e', 0.0), ('d', 0.1), ('c', 0.2), ('b', 0.5), ('a', 0.8)])\n"
        "def test_t(name, seconds):\n"
        "    with open(os.environ['ORDER_LOG'], 'a') as f:\n"
        "        f.write(name + ' ' + os.environ['PYTEST_XDIST_WORKER'] + '\\n')\n"
        "    time.sleep(seconds)\n")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "test-seconds.json").write_text(json.dumps(TIMED))
    env = dict(os.environ, ORDER_LOG=str(tmp_path / "order.log"), BROWNOUT_CACHE=str(tmp_path / "cache"),
               PYTHONPATH=str(REPO))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "harness.schedule",
                          "-p", "no:cacheprovider", "-c", "/dev/null", "--rootdir", str(tmp_path), "t.py"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    by_worker: dict[str, list[str]] = {}
    for line in (tmp_path / "order.log").read_text().split("\n"):
        if line:
            name, worker = line.split()
            by_worker.setdefault(worker, []).append(name)
    assert sorted(names[0] for names in by_worker.values()) == ["a", "b"], by_worker
    assert sorted(sum(by_worker.values(), [])) == ["a", "b", "c", "d", "e"]
    kept = json.loads((tmp_path / "cache" / "test-seconds.json").read_text())
    assert set(kept) == set(TIMED) and kept["t.py::test_t[a-0.8]"] >= 0.8, kept
