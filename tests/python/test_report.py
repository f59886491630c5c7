"""Reports, merged journals, shards, progress and evidence bundles (no QEMU)."""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import random
import re
import subprocess
import sys
import tarfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness import HarnessError, images
from harness.campaign import runner as campaign
from harness.report import html as report
from harness.campaign.runner import Progress, parse_shard, plan, shard
from harness.campaign.journal import Entry, Journal, load_journal, merge
from harness.trial.run import Measures, TrialResult

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "journal-ab.jsonl"
CHROMIUM = Path("/usr/bin/chromium")
LOG_LINES = 400
POINTS = ([{"index": i, "phase": "pull"} for i in range(1, 41)]
          + [{"index": 41, "phase": "deploy"}, {"index": 42, "phase": "bootloader"}])


def need(available: bool, what: str) -> None:
    """Skip without the external tool `what`, unless BROWNOUT_REQUIRE_IMAGES=1 (make test): then fail."""
    if available:
        return
    if os.environ.get("BROWNOUT_REQUIRE_IMAGES") == "1":
        pytest.fail(f"{what} is missing (bash images/deps.sh installs it)")
    pytest.skip(f"needs {what} (apt-get install it, or run bash images/deps.sh)")


def entry(id: str, method: str = "ostree", payload: str = "v2", final: str = "v1",
          verdicts: tuple[str, ...] = ("atomic", "completes"), phase: str = "pull", index: int = 1,
          log_dir: str = "", cut: bool = True, fired: bool = True, time: float = 1.0, **extra: object) -> dict:
    spec = f"n={index},edge=after" if cut else ""
    result = TrialResult(method, payload, final, list(verdicts), Measures(2.5, 1, 1 << 20, 2 << 20, 3.0),
                         f"./brownout trial --method {method} --payload {payload}" + (f" --cut {spec}" if cut else ""),
                         "A", spec, {"index": str(index), "edge": "after", "phase": phase} if cut and fired else None,
                         notes=[f"note of {id}"], log_dir=log_dir)
    return {"id": id, "seed": 7, "planned_phase": phase if cut else "", "time": time, **result.as_dict(), **extra}


@pytest.fixture
def bricked_log(tmp_path: Path) -> Path:
    """A failing trial's logs: two boots, the second ends with markup that must be escaped."""
    root = tmp_path / "trial-bricked"
    for boot, n in ((1, 50), (2, LOG_LINES)):
        path = root / "boots" / f"boot-{boot:03d}" / "console.log"
        path.parent.mkdir(parents=True)
        path.write_text("".join(f"boot {boot} line {i}\n" for i in range(1, n + 1)) + "<script>alert(1)</script>\n")
    return root


@pytest.fixture
def journal(tmp_path: Path, bricked_log: Path) -> Path:
    """The trimmed A/B sample plus synthetic trials of other methods and kinds."""
    synthetic = [
        entry("ostree-pull-cut001-after", index=1),
        entry("ostree-pull-cut002-after", index=2),
        entry("ostree-pull-cut003-after", final="bricked", verdicts=(), index=3, log_dir=str(bricked_log)),
        entry("ostree-deploy-cut010-after", final="mixed", verdicts=(), phase="deploy", index=10,
              log_dir=str(Path(bricked_log).parent / "gone"),
              mixed_roots=[{"when": "after the cut", "nearest": "v2", "count": 41,
                            "paths": [f"+var/lib/dpkg/tmp-{i}" for i in range(40)]}]),
        entry("ostree-deploy-cut011-after", final="missed", verdicts=(), phase="deploy", index=11, fired=False),
        entry("ostree-bootloader-cut012-after", final="v2", verdicts=("atomic",), phase="bootloader", index=12),
        entry("ab-happy-1", method="ab", final="v2", cut=False, time=5.0),
        entry("ab-rollback-1", method="ab", payload="v2-bad", verdicts=("atomic", "rolled-back"), cut=False),
        entry("ab-refusal-1", method="ab", payload="v2-tampered", verdicts=("atomic", "refused"), cut=False),
        entry("inplace-happy-1", method="inplace", kind="happy", final="v1", cut=False),
        entry("asymmetric-rollback-1", method="asymmetric", payload="v2-bad", final="v2-bad", cut=False),
    ]
    path = tmp_path / "campaign.jsonl"
    path.write_text(FIXTURE.read_text() + "".join(json.dumps(e) + "\n" for e in synthetic))
    return path


class Tables(HTMLParser):
    """Rows of text of every table, by table id."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.current: list[list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.current = self.tables.setdefault(dict(attrs).get("id") or "", [])
        elif tag == "tr" and self.current is not None:
            self.current.append([])
        elif tag in ("td", "th") and self.current is not None:
            self.current[-1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.current = None

    def handle_data(self, data: str) -> None:
        if self.current and self.current[-1]:
            self.current[-1][-1] += data


def tables(page: str) -> dict[str, list[list[str]]]:
    parser = Tables()
    parser.feed(page)
    return parser.tables


def test_the_matrix_counts_what_the_journal_holds(journal: Path) -> None:
    page = report.write(journal).read_text()
    head, *rows = tables(page)["outcome-matrix"]
    assert head == ["method", "phase", *report.OUTCOMES, "trials"]
    counts = {(r[0], r[1]): dict(zip(report.OUTCOMES, map(int, r[2:-1]))) for r in rows}
    zero = dict.fromkeys(report.OUTCOMES, 0)
    assert counts == {
        ("ab", "pull"): {**zero, "atomic+completes": 14},
        ("ab", "deploy"): {**zero, "atomic+completes": 2},
        ("ab", "bootloader"): {**zero, "atomic+completes": 4},
        ("ostree", "pull"): {**zero, "atomic+completes": 2, "bricked": 1},
        ("ostree", "deploy"): {**zero, "mixed, not completed": 1, "missed": 1},
        ("ostree", "bootloader"): {**zero, "atomic, not completed": 1},
    }


def test_the_strategy_table_is_computed_from_the_trials(journal: Path, tmp_path: Path) -> None:
    layout = tmp_path / "layout.json"
    layout.write_text(json.dumps({"partitions": [{"name": "boot", "size": 64 << 20},
                                                 {"name": "rootA", "size": 1 << 30}, {"name": "rootB", "size": 1 << 30},
                                                 {"name": "data", "size": 1 << 20}]}))
    page = report.write(journal, layouts={"ab": layout, "ostree": tmp_path / "missing.json"}).read_text()
    rows = {r[0]: r for r in tables(page)["strategy"][1:]}
    assert set(rows) == {"ab", "ostree", "inplace", "asymmetric"}
    assert rows["ab"][1:] == ["20/20 (100 %)", "yes (1/1 rolled back)", "2.50 s (2.50–2.50)", "1.0 MiB", "2.0 MiB",
                              "1.0 GiB"]
    assert rows["ostree"][1:3] == ["2/6 (33 %)", "not tested"] and rows["ostree"][6] == "n/a"
    assert rows["asymmetric"][1:3] == ["not tested", "no (0/1 rolled back)"]


def test_scenarios_and_failing_trials_show_how_to_reproduce(journal: Path) -> None:
    page = report.write(journal).read_text()
    results = {r[3]: r[-1] for r in tables(page)["scenarios"][1:]}
    assert results == {"ab-happy-1": "as expected", "ab-rollback-1": "as expected", "ab-refusal-1": "as expected",
                       "inplace-happy-1": "ended on v1, not v2",
                       "asymmetric-rollback-1": "did not roll back (final v2-bad)"}
    failing = page[page.index('id="failures"'):]
    for trial in ("ostree-pull-cut003-after", "ostree-deploy-cut010-after", "ostree-deploy-cut011-after",
                  "ostree-bootloader-cut012-after", "inplace-happy-1", "asymmetric-rollback-1"):
        assert trial in failing
    assert "ab-pull-cut012-after" not in failing and "ab-happy-1" not in failing
    assert "./brownout trial --method ostree --payload v2 --cut n=3,edge=after" in failing
    assert "note of ostree-pull-cut003-after" in failing
    # The last lines of the last boot, escaped; not the start of a 400-line log.
    assert f"boot 2 line {LOG_LINES}" in failing and "boot 2 line 50\n" not in failing
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in failing and "<script>" not in page
    assert "log not available" in failing
    # A mixed root names the paths that differ from the nearest version.
    assert "nearest v2, 41 paths differ (first 40 shown)" in failing and "+var/lib/dpkg/tmp-39" in failing


def test_every_plot_is_embedded(journal: Path) -> None:
    page = report.write(journal).read_text()
    for plot in ("downtime", "downloaded", "written", "reboots", "timeline"):
        figure = page[page.index(f'id="plot-{plot}"'):]
        assert figure[:figure.index("</figure>")].count("<svg") == 1, plot
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<link" not in page and "<img" not in page


def test_the_report_goes_next_to_the_journal_by_default(journal: Path, tmp_path: Path) -> None:
    result = subprocess.run([str(Path(__file__).resolve().parents[2] / "brownout"), "report", str(journal)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(journal.with_suffix(".html"))
    assert journal.with_suffix(".html").is_file()


def test_the_report_renders_in_a_browser(journal: Path, tmp_path: Path) -> None:
    need(CHROMIUM.is_file(), "chromium")
    page = report.write(journal)
    result = subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
                             f"--user-data-dir={tmp_path / 'chromium'}", "--dump-dom", page.as_uri()],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'id="outcome-matrix"' in result.stdout
    assert result.stdout.count("<svg") == 5


def test_merge_keeps_the_later_entry_and_orders_by_time(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    one, two = tmp_path / "shard1.jsonl", tmp_path / "shard2.jsonl"
    one.write_text("".join(json.dumps(entry(f"t{i}", time=float(i))) + "\n" for i in (3, 1, 2)))
    two.write_text(json.dumps(entry("t2", final="v2", time=2.5)) + "\n" + json.dumps(entry("t0", time=0.5)) + "\n"
                   + '{"id": "t9", "tor')    # its last append was interrupted
    with caplog.at_level(logging.WARNING):
        merged = merge(tmp_path / "all.jsonl", [one, two])
    assert [e.id for e in merged] == ["t0", "t1", "t2", "t3"]
    assert [e.id for e in load_journal(tmp_path / "all.jsonl")] == ["t0", "t1", "t2", "t3"]
    assert merged[2].final == "v2"
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
    done = [Entry.from_dict(entry("a")), Entry.from_dict(entry("b", final="bricked", verdicts=()))]
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


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake build with the kernel and firmware steps only."""
    root = tmp_path / "images"
    monkeypatch.setattr(images, "IMAGES", root)
    for step, name in (("kernel", "Image"), ("firmware", "u-boot.bin")):
        (root / step).mkdir(parents=True)
        (root / step / name).write_bytes(step.encode() * 1000)
        (root / step / images.KEY_FILE).write_text(f"key-{step}\n")
    return root


def bundle_of(journal: Path) -> tuple[Path, dict[str, bytes]]:
    from harness.report import evidence
    page = report.write(journal)
    path = evidence.write_bundle(journal, page)
    with tarfile.open(path) as tar:
        return path, {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_evidence_hashes_every_regular_file_as_sha256sum_would(tmp_path: Path) -> None:
    from harness.report import filehash
    top = tmp_path / "step"
    (top / "tree" / "deep").mkdir(parents=True)
    contents = {"empty": b"", "small": b"x" * 100, "tree/deep/big": os.urandom(filehash.BIG + 12345),
                "tree/small": b"y" * 4096}
    for name, data in contents.items():
        (top / name).write_bytes(data)
    (top / "link").symlink_to("small")
    (top / "tree" / "dirlink").symlink_to("deep")
    files = filehash.regular_files(top)
    assert [p.relative_to(top).as_posix() for p, _ in files] == sorted(contents)
    assert dict(files)[top / "tree/deep/big"] == filehash.BIG + 12345
    sums = filehash.sha256_of(files)
    assert {p.relative_to(top).as_posix(): s for p, s in sums.items()} == \
        {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}
    assert filehash.sha256_of([]) == {}


def test_evidence_hashes_big_files_alone_and_small_ones_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.report import filehash
    monkeypatch.setattr(filehash, "BATCH_FILES", 3)
    small = [(Path(f"s{i}"), 10 + i) for i in range(7)]
    big = [(Path("b1"), filehash.BIG), (Path("b2"), 5 * filehash.BIG)]
    tasks = filehash.batches(small + big)
    assert tasks[:2] == [[Path("b2")], [Path("b1")]]
    assert sorted(p for t in tasks[2:] for p in t) == sorted(p for p, _ in small)
    assert [len(t) for t in tasks[2:]] == [3, 3, 1]


def test_an_evidence_bundle_holds_what_the_campaign_rests_on(journal: Path, built: Path, tmp_path: Path) -> None:
    from harness.report import evidence
    campaign.save_plan(plan("ab", "v2", POINTS, "1", 1), journal.with_suffix(".plan.json"))
    path, files = bundle_of(journal)
    assert path == tmp_path / "campaign-evidence.tar.gz"
    top = "campaign-evidence/"
    assert {top + n for n in ("campaign.html", "campaign.jsonl", "campaign.plan.json", "images.sha256",
                              "manifest.json", "SHA256SUMS")} <= set(files)
    assert top + "logs/ostree-pull-cut003-after/boots/boot-002/console.log" in files
    manifest = json.loads(files[top + "manifest.json"])
    kernel = hashlib.sha256((built / "kernel" / "Image").read_bytes()).hexdigest()
    assert manifest["boot files"] == {"kernel": kernel,
                                      "u-boot": hashlib.sha256(b"firmware" * 1000).hexdigest()}
    assert manifest["images"] == {"kernel": "key-kernel", "firmware": "key-firmware"}
    assert f"{kernel}  kernel/Image" in files[top + "images.sha256"].decode()
    assert "kernel/.key" in files[top + "images.sha256"].decode()
    assert manifest["seeds"] == [7] and "python3" in manifest["tools"]
    assert {f["id"] for f in manifest["failing trials"]} >= {"ostree-pull-cut003-after", "inplace-happy-1"}
    assert evidence.verify_bundle(path) == len(files) - 1
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    subprocess.run(["tar", "-xzf", str(path), "-C", str(unpacked)], check=True, timeout=60)
    check = subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=unpacked / top,
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


def test_an_evidence_bundle_says_when_nothing_is_built(journal: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images, "IMAGES", tmp_path / "nothing")
    _, files = bundle_of(journal)
    manifest = json.loads(files["campaign-evidence/manifest.json"])
    assert manifest["images"].startswith("no image step is built")
    assert manifest["boot files"] == {"kernel": "not built", "u-boot": "not built"}


def rewrite(path: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_a_tampered_bundle_does_not_verify(journal: Path, built: Path) -> None:
    from harness.report import evidence
    path, files = bundle_of(journal)
    name = "campaign-evidence/campaign.jsonl"
    rewrite(path, {**files, name: files[name].replace(b'"bricked"', b'"v1"')})
    with pytest.raises(HarnessError, match="campaign.jsonl: SHA-256 differs"):
        evidence.verify_bundle(path)
    rewrite(path, {**files, "campaign-evidence/extra.txt": b"slipped in"})
    with pytest.raises(HarnessError, match="extra.txt: not listed"):
        evidence.verify_bundle(path)
    rewrite(path, {n: d for n, d in files.items() if not n.endswith("manifest.json")})
    with pytest.raises(HarnessError, match="manifest.json: missing"):
        evidence.verify_bundle(path)


def test_storage_model_trials_are_told_apart_and_name_their_crash_state(tmp_path: Path) -> None:
    state = {"model": "storage", "kind": "torn", "state": "write 57 torn at byte 4096, tail zeroed",
             "index": "57", "phase": "bootloader", "partition": "env", "boot": "1", "stage": "linux",
             "offset": "1048576", "len": "16384"}
    lines = [entry("ab-bootloader-cut302-after", method="ab", phase="bootloader"),
             {**entry("ab-storage-bootloader-torn-57-4096-zero", method="ab", final="mixed", verdicts=(),
                      phase="bootloader", cut=False), "cut": state, "cut_spec": "torn:57:4096:zero",
              "reproduce": "./brownout trial --method ab --payload v2 --state torn:57:4096:zero"}]
    journal = tmp_path / "j.jsonl"
    journal.write_text("".join(json.dumps(line) + "\n" for line in lines))
    page = report.write(journal).read_text()
    rows = {(r[0], r[1]) for r in tables(page)["outcome-matrix"][1:]}
    assert rows == {("ab", "bootloader"), ("ab [storage]", "bootloader")}
    failing = page[page.index('id="failures"'):]
    assert "crash state: write 57 torn at byte 4096, tail zeroed (torn); write 57 of boot 1, linux, " \
           "phase bootloader, partition env" in failing
    assert "--state torn:57:4096:zero" in failing


def test_the_report_can_show_one_fault_model(tmp_path: Path) -> None:
    lines = [entry("ab-bootloader-cut302-after", method="ab", phase="bootloader"),
             {**entry("ab-storage-boot-prefix-2", method="ab", phase="boot", cut=False),
              "cut": {"model": "storage", "phase": "boot", "index": "1"}, "cut_spec": "prefix:2"}]
    journal = tmp_path / "j.jsonl"
    journal.write_text("".join(json.dumps(line) + "\n" for line in lines))
    for model, label in (("syscall", "ab"), ("storage", "ab [storage]")):
        page = report.write(journal, tmp_path / f"{model}.html", model=model).read_text()
        assert [r[0] for r in tables(page)["outcome-matrix"][1:]] == [label]
