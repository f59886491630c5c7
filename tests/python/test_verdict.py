"""The evidence behind verdicts: boot records from console markers, rollbacks,
refusals and anomalies (harness/verdict.py), and how campaign and report grade
entries with and without that evidence."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.campaign.journal import Entry
from harness.machine.console import parse_marker
from harness.report.html import overhead, render, spread, strategies
from harness.trial.verdict import (BootRecord, anomalies, boot_record, commit_undone, error_fields,
                                   refusal_evidence, rollback_evidence)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def boot(number: int, *lines: str, failure: str = "") -> BootRecord:
    markers = [m for m in (parse_marker(f"BROWNOUT {line}", float(i)) for i, line in enumerate(lines)) if m]
    ended = next((m for m in reversed(markers) if m.event in ("reboot", "cut", "confirm", "settled",
                                                              "update-error")), None)
    return boot_record(number, markers, ended, failure)


def v1_boot(n: int) -> BootRecord:
    return boot(n, "init version=1 slot=A", "heartbeat seq=1", "confirm result=good slot=A version=1 env=unchanged")


def bad_boot(n: int) -> BootRecord:
    return boot(n, "init version=2-bad slot=B", "heartbeat seq=1", "confirm result=bad slot=B",
                "reboot reason=unhealthy slot=B")


def test_a_boot_record_reads_its_markers() -> None:
    b = boot(3, "init version=2 slot=B", "init-warning reason=data-mount-failed dev=/dev/vda5",
             "heartbeat seq=1", "update-error reason=verify detail=sha256", "confirm result=good slot=B")
    assert (b.number, b.version, b.slot, b.confirm, b.heartbeat) == (3, "2", "B", "good", True)
    assert b.warnings == ("data-mount-failed",) and b.errors == (("verify", "sha256"),)
    assert BootRecord.from_dict(json.loads(json.dumps(b.as_dict()))) == b


def test_a_boot_record_keeps_the_repairs_that_let_it_mount() -> None:
    b = boot(2, "initramfs-repair what=root dev=/dev/vda3 e2fsck=1", "init version=2 slot=ostree",
             "init-repair what=data superblock=8193", "heartbeat seq=1")
    assert b.repairs == ("root dev=/dev/vda3 e2fsck=1", "data superblock=8193")
    assert not anomalies([b], "v2")
    assert BootRecord.from_dict(json.loads(json.dumps(b.as_dict()))) == b
    assert BootRecord.from_dict({"number": 1}).repairs == ()


def test_a_rollback_needs_v2_bad_booted_and_v1_back_after_it() -> None:
    update = boot(1, "init version=1 slot=A", "heartbeat seq=1", "confirm result=good slot=A",
                  "phase name=pull state=start", "reboot reason=update slot=B")
    seen = rollback_evidence([update, bad_boot(2), bad_boot(3), bad_boot(4), v1_boot(5)])
    assert seen is not None and "boot 2, 3, 4" in seen and "boot counter" in seen and "boot 5" in seen
    # Final v1 without v2-bad ever booting (it never installed) is no rollback.
    assert rollback_evidence([update, v1_boot(2)]) is None
    # Nor is v2-bad booting without v1 confirming after it.
    assert rollback_evidence([update, bad_boot(2), bad_boot(3)]) is None
    # v1 before v2-bad does not count.
    assert rollback_evidence([v1_boot(1), bad_boot(2)]) is None


def test_a_commit_undone_needs_the_new_version_confirmed_then_another_booted() -> None:
    cut = boot(2, "init version=2 slot=B", "heartbeat seq=1", "cut index=3 syscall=fsync edge=after phase=confirm")
    committed = boot(3, "init version=2 slot=B", "heartbeat seq=1", "confirm result=good slot=B")
    again = boot(4, "init version=2 slot=B", "heartbeat seq=1", "confirm result=good slot=B")
    seen = commit_undone([cut, committed, v1_boot(4)], "2")
    assert seen is not None and "boot 3: version 2 (slot B) confirmed good" in seen and "boot 4: version 1" in seen
    assert commit_undone([cut, committed, again], "2") is None
    # A fallback before any commit is the boot counter at work, not a lost commit.
    assert commit_undone([cut, v1_boot(3)], "2") is None


def test_recovery_bringing_v1_back_is_named() -> None:
    recovery = boot(5, "init version=1 slot=recovery", "reboot reason=reinstall-good slot=root")
    seen = rollback_evidence([bad_boot(2), bad_boot(3), bad_boot(4), recovery,
                              boot(6, "init version=1 slot=root", "heartbeat seq=1", "confirm result=good")])
    assert seen is not None and "recovery" in seen


@pytest.mark.parametrize("payload, error, refused", [
    ("v2-badsig", "reason=manifest detail=bad-signature", True),
    ("v2-badsig", "reason=verify detail=signature", True),
    ("v2-tampered", "reason=verify detail=sha256", True),
    ("v2-tampered", "reason=verify detail=hash", True),
    # A transfer broken by the server is a failed update, not a refusal.
    ("v2-tampered", "reason=download detail=apt-download", False),
    ("v2-badsig", "reason=download detail=timeout", False),
    # The wrong verification: a signature payload refused for its hash is not its refusal.
    ("v2-badsig", "reason=verify detail=sha256", False),
    ("v2", "reason=manifest detail=bad-signature", False),
])
def test_a_refusal_is_the_verification_the_payload_was_made_to_fail(
        payload: str, error: str, refused: bool) -> None:
    boots = [boot(1, "init version=1 slot=A", "heartbeat seq=1", f"update-error {error}")]
    assert (refusal_evidence(payload, boots) is not None) == refused


def test_anomalies_name_what_broke_and_spare_what_v2_bad_is_built_to_do() -> None:
    panic = boot(2, "uboot-boot slot=B", failure="kernel panic")
    silent = boot(3, "init version=2 slot=B", "reboot reason=unhealthy")
    found = anomalies([v1_boot(1), panic, silent, bad_boot(4),
                       boot(5, "init version=9 slot=A", "heartbeat seq=1", "confirm result=good"),
                       boot(6, "init version=2 slot=root", "heartbeat seq=1", "settled result=unhealthy version=2")],
                      "v2")
    text = "\n".join(found)
    assert "boot 2: never reached an outcome (kernel panic)" in text
    assert "boot 3: version 2 (slot B): the application never ran" in text
    assert "boot 4: version 2-bad (slot B): confirm result=bad" in text
    assert "boot 5: version 9 (slot A): a root that is no built version" in text
    assert "boot 6: version 2 (slot root): settled unhealthy" in text
    # For a v2-bad trial, v2-bad failing its confirmation is the evidence of the rollback.
    assert anomalies([v1_boot(1), bad_boot(2), v1_boot(3)], "v2-bad") == []
    # A boot the agent cut, or recovery, is not expected to run the application.
    assert anomalies([boot(1, "init version=1 slot=A", "cut index=3 phase=pull"),
                      boot(2, "init version=1 slot=recovery", "reboot reason=update")], "v2") == []


def entry(**over: object) -> Entry:
    base = {"id": "ab-pull-cut001-after", "method": "ab", "payload": "v2", "final": "v1", "kind": "cut",
            "verdicts": ["atomic", "completes"], "measures": {"downtime_s": 1.0, "reboots": 1,
                                                              "bytes_downloaded": 1, "bytes_written": 1,
                                                              "duration_s": 1.0},
            "reproduce": "./brownout trial", "schema": 2, "anomalies": [], "boots": []}
    return Entry.from_dict({**base, **over})


def test_a_cut_trial_that_booted_something_broken_is_not_plain_atomic_completes() -> None:
    assert entry().outcome == "atomic+completes" and entry().failure is None
    troubled = entry(anomalies=["boot 2: version 2 (slot B): confirm result=bad, the device fell back"])
    assert troubled.outcome == "atomic+completes after a broken boot"
    assert troubled.failure == "atomic+completes after a broken boot"


def test_a_happy_run_that_booted_something_broken_fails() -> None:
    happy = entry(id="ab-happy", kind="happy", final="v2", anomalies=["boot 2: never reached an outcome (panic)"])
    assert happy.failure == "ended on v2 after a broken boot"


@pytest.mark.parametrize("final", ["error", "timeout"])
def test_errors_and_timeouts_are_outcomes_and_failures_of_every_kind(final: str) -> None:
    for k in ("cut", "happy", "rollback", "refusal"):
        e = entry(kind=k, final=final, verdicts=[], error="QMPError: no greeting")
        assert e.failure == f"{final}: QMPError: no greeting"
    assert entry(final=final, verdicts=[]).outcome == final


def test_an_older_entry_keeps_its_recorded_verdicts_and_is_shown_as_such(tmp_path: Path) -> None:
    old = Entry.from_dict(json.loads((FIXTURES / "journal-ab.jsonl").read_text().splitlines()[0]))
    assert old.legacy and not entry().legacy
    # No grade is invented for it: its verdicts decide, as when it was written.
    assert old.outcome == "atomic+completes"
    html = render([old, entry()], tmp_path / "j.jsonl")
    assert "1 entries of an older journal shape" in html


def test_an_unfinished_trial_is_counted_in_the_report(tmp_path: Path) -> None:
    err = entry(id="ab-pull-cut002-after", final="error", verdicts=[], error="HarnessError: restore failed",
                console_tail="U-Boot 2023.01\nBROWNOUT uboot-start script=ab")
    html = render([entry(), err], tmp_path / "j.jsonl")
    assert "<dd><span class=\"bad\">1 (error or timeout" in html
    assert "HarnessError: restore failed" in html and "BROWNOUT uboot-start script=ab" in html
    row = html.split('id="outcome-matrix"')[1].split("</table>")[0]
    assert "error" in row


def test_failed_happy_runs_stay_out_of_the_medians_and_are_counted() -> None:
    ok = [entry(id=f"ab-downtime{i}", kind="downtime", final="v2",
                measures={"downtime_s": 2.0, "reboots": 1, "bytes_downloaded": 100, "bytes_written": 100,
                          "duration_s": 9.0})
          for i in range(3)]
    bricked = entry(id="ab-happy", kind="happy", final="bricked", verdicts=[],
                    measures={"downtime_s": 90.0, "downtime_open": True, "reboots": 6,
                              "bytes_downloaded": 5, "bytes_written": 5, "duration_s": None})
    (row,) = strategies([*ok, bricked])
    assert row.downtime_s == spread([2.0, 2.0, 2.0]) and row.downloaded == spread([100.0] * 3)
    assert row.happy_failed == 1 and row.open_outages == 1


def test_storage_overhead_counts_every_partition_a_method_adds(tmp_path: Path) -> None:
    def layout(*parts: tuple[str, int]) -> Path:
        path = tmp_path / f"layout-{len(list(tmp_path.iterdir()))}.json"
        path.write_text(json.dumps({"partitions": [{"name": n, "size": s} for n, s in parts]}))
        return path
    mib = 1 << 20
    ab = layout(("boot", 64 * mib), ("env", mib), ("rootA", 400 * mib), ("rootB", 400 * mib), ("data", 64 * mib))
    asymmetric = layout(("boot", 64 * mib), ("env", mib), ("root", 400 * mib), ("recovery", 64 * mib),
                        ("data", 64 * mib))
    inplace = layout(("boot", 64 * mib), ("root", 400 * mib), ("data", 64 * mib))
    ostree = layout(("boot", 16 * mib), ("env", mib), ("ostree", 600 * mib), ("data", 64 * mib))
    assert overhead(ab) == 401 * mib
    assert overhead(asymmetric) == 65 * mib
    assert overhead(inplace) == 0
    assert overhead(ostree, spread([10.0 * mib, 12.0 * mib, 14.0 * mib])) == 13 * mib


def test_bytes_written_is_unknown_not_zero_when_qmp_cannot_say() -> None:
    from types import SimpleNamespace

    from harness import QMPError
    from harness.trial.run import _Trial

    class Broken:
        def execute(self, *args: object, **kwargs: object) -> object:
            raise QMPError("QMP connection closed")

    class Listing:
        def execute(self, *args: object, **kwargs: object) -> object:
            return [{"device": "disk", "stats": {"wr_bytes": 4096}}, {"device": "other", "stats": {"wr_bytes": 7}}]

    trial = SimpleNamespace(notes=[])
    assert _Trial._written(trial, SimpleNamespace(qmp=lambda: Broken()), 2) is None  # type: ignore[arg-type]
    assert trial.notes and "boot 2: block statistics unavailable" in trial.notes[0]
    assert _Trial._written(trial, SimpleNamespace(qmp=lambda: Listing()), 3) == 4096  # type: ignore[arg-type]


def test_an_in_place_switch_to_v2_bad_is_its_expected_unhealthy_settle() -> None:
    # In-place boots v1 and settles on what it installed, in the same boot.
    switched = boot(1, "init version=1 slot=root", "heartbeat seq=1", "settled result=unhealthy version=2-bad")
    assert switched.settled_version == "2-bad"
    assert anomalies([switched], "v2-bad") == []
    assert anomalies([switched], "v2") == ["boot 1: version 1 (slot root): settled unhealthy"]


def test_an_updaters_own_message_is_kept_with_its_refusal_and_survives_the_journal() -> None:
    said = "signature verification failed: Verify error: unable to get local issuer certificate"
    encoded = said.replace("%", "%25").replace(" ", "%20")
    record = boot(1, "init version=1 slot=A", "heartbeat seq=1",
                  f"update-error reason=verify detail=signature message={encoded}")
    assert record.errors == (("verify", "signature", said),)
    evidence = refusal_evidence("v2-badsig", [record])
    assert evidence == f"boot 1: update-error reason=verify detail=signature: {said}"
    again = BootRecord.from_dict(json.loads(json.dumps(record.as_dict())))
    assert again == record
    assert error_fields(record.errors[0]) == {"reason": "verify", "detail": "signature", "message": said}
    # Our clients give no message: the error is its reason and detail.
    plain = boot(1, "update-error reason=verify detail=sha256")
    assert error_fields(plain.errors[0]) == {"reason": "verify", "detail": "sha256"}
