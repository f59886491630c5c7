"""Merged journals, shards and campaign progress (no QEMU)."""
from __future__ import annotations

import io
import json
import logging
import random
import subprocess
import sys
from pathlib import Path

import pytest

from harness import HarnessError, campaign
from harness.campaign import Journal, Progress, load_journal, merge, parse_shard, plan, shard
from harness.trial import Measures, TrialResult

POINTS = ([{"index": i, "phase": "pull"} for i in range(1, 41)]
          + [{"index": 41, "phase": "deploy"}, {"index": 42, "phase": "bootloader"}])


def entry(id: str, method: str = "ostree", payload: str = "v2", final: str = "v1",
          verdicts: tuple[str, ...] = ("atomic", "completes"), phase: str = "pull", index: int = 1,
          log_dir: str = "", cut: bool = True, fired: bool = True, time: float = 1.0, **extra: object) -> dict:
    spec = f"n={index},edge=after" if cut else ""
    result = TrialResult(method, payload, final, list(verdicts), Measures(2.5, 1, 1 << 20, 2 << 20, 3.0),
                         f"./brownout trial --method {method} --payload {payload}" + (f" --cut {spec}" if cut else ""),
                         "A", spec, {"index": str(index), "edge": "after", "phase": phase} if cut and fired else None,
                         notes=[f"note of {id}"], log_dir=log_dir)
    return {"id": id, "seed": 7, "planned_phase": phase if cut else "", "time": time, **result.as_dict(), **extra}


def test_merge_keeps_the_later_entry_and_orders_by_time(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    one, two = tmp_path / "shard1.jsonl", tmp_path / "shard2.jsonl"
    one.write_text("".join(json.dumps(entry(f"t{i}", time=float(i))) + "\n" for i in (3, 1, 2)))
    two.write_text(json.dumps(entry("t2", final="v2", time=2.5)) + "\n" + json.dumps(entry("t0", time=0.5)) + "\n"
                   + '{"id": "t9", "tor')    # its last append was interrupted
    with caplog.at_level(logging.WARNING):
        merged = merge(tmp_path / "all.jsonl", [one, two])
    assert [e["id"] for e in merged] == ["t0", "t1", "t2", "t3"]
    assert [e["id"] for e in load_journal(tmp_path / "all.jsonl")] == ["t0", "t1", "t2", "t3"]
    assert merged[2]["final"] == "v2"
    assert "t2 appears twice" in caplog.text
    assert not (tmp_path / "all.jsonl.tmp").exists()


def test_merge_refuses_what_is_not_a_journal(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="no journal at"):
        merge(tmp_path / "out.jsonl", [tmp_path / "missing.jsonl"])
    (tmp_path / "plan.json").write_text('[{"id": "a"}]\n')
    with pytest.raises(HarnessError, match="is not a brownout journal: entry 1 lacks"):
        merge(tmp_path / "out.jsonl", [tmp_path / "plan.json"])
    (tmp_path / "notes.txt").write_text("hello\nworld\n")
    with pytest.raises(HarnessError, match="is not a brownout journal: line 1 is not JSON"):
        merge(tmp_path / "out.jsonl", [tmp_path / "notes.txt"])
    assert not (tmp_path / "out.jsonl").exists()


def test_merge_command_says_one_line_on_a_missing_journal(tmp_path: Path) -> None:
    result = subprocess.run([str(Path(__file__).resolve().parents[2] / "brownout"), "merge", str(tmp_path / "o"),
                             str(tmp_path / "missing.jsonl")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"brownout: error: no journal at {tmp_path / 'missing.jsonl'}"]


@pytest.mark.parametrize("n", [1, 2, 3, 7, 200])
def test_shards_partition_the_plan(n: int) -> None:
    planned = plan("ab", "v2", POINTS, "all", 1)
    shards = [shard(planned, i, n) for i in range(1, n + 1)]
    ids = [c.id for s in shards for c in s]
    assert sorted(ids) == sorted(c.id for c in planned) and len(set(ids)) == len(ids)
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    # The same share on every machine, whatever order its plan came in.
    shuffled = planned[:]
    random.Random(3).shuffle(shuffled)
    assert [{c.id for c in shard(shuffled, i, n)} for i in range(1, n + 1)] == [{c.id for c in s} for s in shards]


@pytest.mark.parametrize("text", ["0/2", "3/2", "x", "1/0", "1/2/3", "-1/2", ""])
def test_a_malformed_shard_is_refused(text: str) -> None:
    with pytest.raises(HarnessError, match="shard"):
        parse_shard(text)


def test_shard_checks_its_arguments_too() -> None:
    assert parse_shard("2/3") == (2, 3)
    with pytest.raises(HarnessError, match="1 to N"):
        shard([], 0, 2)


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_one_line_on_a_tty_and_sparse_in_a_log() -> None:
    done = [entry("a"), entry("b", final="bricked", verdicts=())]
    tty = Progress(4, Tty(), started=0.0)
    tty.update(done[:1])
    tty.update(done, final=True)
    assert tty.stream.getvalue().count("\r") == 2 and tty.stream.getvalue().endswith("\n")
    log = Progress(4, io.StringIO(), interval=3600)
    log.update(done[:1])
    log.update(done)                  # within the interval: nothing
    log.update(done, final=True)
    lines = log.stream.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in log.stream.getvalue()
    assert lines[-1].startswith("brownout: 2/4 trials, 1 failing, ")
    assert Progress(4, io.StringIO(), started=0.0).line(1, 0, now=90.0).endswith("0:01:30 elapsed, ETA 0:04:30")


def test_watch_follows_the_journal_until_the_run_ends(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    lines = [json.dumps(entry(i)) for i in ("a", "b", "other")]
    writer = (f"import time\nfor line in {lines!r}:\n    open({str(journal.path)!r}, 'a').write(line + '\\n')\n"
              "    time.sleep(0.2)\n")
    proc = subprocess.Popen([sys.executable, "-c", writer])
    progress = Progress(2, io.StringIO())
    assert campaign.watch(proc, journal, {"a", "b"}, progress, poll=0.05) == 0
    assert progress.stream.getvalue().splitlines()[-1].startswith("brownout: 2/2 trials, 0 failing")
