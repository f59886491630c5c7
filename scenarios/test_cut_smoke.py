"""A smoke campaign: a few power cuts, chosen by phase, on the safe client and on
the deliberately unsafe fixture. The full campaign is `./brownout campaign`."""
from __future__ import annotations

import pytest

from harness import HarnessError
from harness.images import require
from harness.machine.console import parse_marker
from harness.trial.run import TrialResult, TrialSpec, run_trial, take_snapshot
from harness.trial.runlogs import console_logs
from harness.trial.samedisk import SameDisk, SameDiskStore

pytestmark = [pytest.mark.e2e, pytest.mark.qemu, pytest.mark.timeout(1200)]


@pytest.mark.parametrize("cut", [
    "phase=bootloader,n=1,torn=8192",      # the env copy torn half-way
    "phase=bootloader,n=2,edge=before",    # env written, not yet fsync'd
], ids=["ab-bootloader-torn-env", "ab-bootloader-before-fsync"])
def test_the_safe_client_survives_the_cut(trial, cut: str) -> None:
    assert_survived(trial(payload="v2", cut=cut), cut)


def assert_survived(result: TrialResult, cut: str) -> None:
    assert result.cut is not None and result.cut["phase"] == cut.split(",")[0].split("=")[1]
    assert {"atomic", "completes"} <= set(result.verdicts), result.summary()
    # The device is judged as the cut left it: a boot of its own, without the
    # update's request, comes between the cut and the re-run.
    assert [b["ended_by"] for b in result.boots[:2]] == ["cut", "confirm"], result.boots
    assert result.boots[1]["confirm"] == "good" and not result.boots[1]["errors"], result.boots
    assert result.anomalies == [], result.summary()


def test_a_rerun_held_after_the_cut_is_the_cold_rerun(trial) -> None:
    """Mid-download: the boot that settles after the cut holds, is judged
    stopped, and the re-run goes on in it (boot 3 resumes boot 2, in version
    1). It ends as the re-run from a cold boot of version 1 does."""
    cut = "phase=pull,n=40,edge=after"
    held = trial(payload="v2", cut=cut)
    cold = trial(payload="v2", cut=cut, hold_rerun=False)
    for result in (held, cold):
        assert_survived(result, cut)
        assert result.final == "v1" and result.slot == "A", result.summary()
    assert [(b["resumes"], b["version"], b["ended_by"]) for b in held.boots[1:3]] == \
        [(0, "1", "confirm"), (2, "1", "reboot")], held.boots
    assert [(b["resumes"], b["version"], b["ended_by"]) for b in cold.boots[1:3]] == \
        [(0, "1", "confirm"), (0, "1", "reboot")], cold.boots
    assert len(held.boots) == len(cold.boots) and held.boots[-1] == cold.boots[-1], (held.boots, cold.boots)


def test_a_slot_written_whole_before_its_record_is_read_back_not_pulled_again(trial) -> None:
    """A cut right after the slot's fsync, before the record of what it holds:
    the re-run finds the slot tagged with the payload, reads it back equal to
    the signed manifest and takes it, with no second download. A cut
    mid-download leaves no tag of the payload and pulls it again."""
    payload = str((require("payloads-ab") / "ab" / "v2" / "rootfs.ext4").stat().st_size)
    deploy = "phase=deploy,n=1,edge=after"
    whole = trial(payload="v2", cut=deploy)
    assert_survived(whole, deploy)
    assert whole.final == "v1" and whole.slot == "A", whole.summary()
    assert pulls(whole.log_dir) == [("pulled", payload), ("tagged", "0")]
    pull = "phase=pull,n=60,edge=after"
    short = trial(payload="v2", cut=pull)
    assert_survived(short, pull)
    assert pulls(short.log_dir) == [("pulled", payload)]


def pulls(log_dir: str) -> list[tuple[str, str]]:
    """Each pull a trial's boots ended: the payload it reused (or `pulled`) and the bytes it took."""
    # A console log's line is "[seconds] text" (machine/console.py).
    texts = (line.partition("] ")[2] for console in console_logs(log_dir)
             for line in console.read_text(errors="replace").splitlines())
    markers = (parse_marker(text, 0.0) for text in texts)
    return [(m.get("reused", "pulled"), m.get("bytes", "")) for m in markers
            if m and m.event == "phase" and m.get("name") == "pull" and m.get("state") == "end"]


def test_a_snapshot_held_at_a_point_of_its_phase_cuts_there(update_server, tmp_path) -> None:
    """Held at the deploy's second point (the slot state file's write), before
    it counts: the trial cut at that point fires at once, at the first point
    after the hold, and the device stays on version 1 in slot A."""
    cut = "phase=deploy,n=2,edge=after"
    snapshot = take_snapshot(TrialSpec("ab", "v2"), "deploy", tmp_path / "snapshot", update_server, at=2)
    # Before the hold: the pull's points (one a MiB of the payload, and more) and the deploy's first.
    assert snapshot.at == 2 and snapshot.points > payload_size() >> 20, snapshot
    result = run_trial(TrialSpec("ab", "v2", cut=cut), tmp_path / "trial", update_server, snapshot=snapshot)
    assert result.started == "snapshot:deploy"
    assert_survived(result, cut)
    assert result.cut is not None and result.cut["index"] == str(snapshot.points + 1), result.cut
    assert result.final == "v1" and result.slot == "A", result.summary()
    # The update's time is the snapshot's up to the hold, then the restored machine's up to the cut.
    duration = result.measures.duration_s
    assert duration is not None and snapshot.elapsed_s <= duration < snapshot.elapsed_s + 60, result.summary()


def test_a_pull_snapshot_replays_the_transfer_and_a_slot_only_difference_takes_the_outcome(
        update_server, tmp_path) -> None:
    """Held where the pull starts, before its first request (a transfer is not
    restored: its connections end with the QEMU that saved it): a trial cut at
    the pull's 40th point ends as the cold trial at that point does (above). A
    later pull cut leaves a disk that differs from that one in slot B alone,
    which no boot ran before the re-run wrote it again: it takes that outcome,
    named so, without a boot."""
    cut = "phase=pull,n=40,edge=after"
    snapshot = take_snapshot(TrialSpec("ab", "v2"), "pull", tmp_path / "snapshot", update_server)
    assert snapshot.at == 0 and snapshot.bytes_downloaded == 0, snapshot
    judged = SameDiskStore(tmp_path / "judged")
    result = run_trial(TrialSpec("ab", "v2", cut=cut), tmp_path / "trial", update_server, snapshot=snapshot,
                       same_disk=SameDisk(judged, "first"))
    assert result.started == "snapshot:pull" and result.same_disk_as is None
    assert_survived(result, cut)
    assert result.cut is not None and result.cut["index"] == "40", result.cut
    assert result.final == "v1" and result.slot == "A", result.summary()
    assert not any(b["errors"] for b in result.boots), result.boots
    # Near the pull's end: the guest kernel has written most of the slot back by then.
    late = f"phase=pull,n={(payload_size() >> 20) - 4},edge=after"
    again = run_trial(TrialSpec("ab", "v2", cut=late), tmp_path / "late", update_server, snapshot=snapshot,
                      same_disk=SameDisk(judged, "late"))
    assert again.same_disk_as is not None, again.summary()
    assert (again.same_disk_as["trial"], again.same_disk_as.get("without")) == ("first", "rootB"), again.same_disk_as
    assert (again.final, again.verdicts, again.slot) == (result.final, result.verdicts, result.slot)
    assert len(again.boots) == 1 and again.boots[0]["ended_by"] == "cut", again.boots
    assert any("but for partition rootB" in note for note in again.notes), again.notes


def payload_size() -> int:
    return (require("payloads-ab") / "ab" / "v2" / "rootfs.ext4").stat().st_size


def test_the_unsafe_client_is_flagged(trial) -> None:
    # It switches to the new slot, without fallback, before writing it.
    result = trial(payload="v2", cut="phase=pull,n=40,edge=after", client="unsafe")
    assert result.final == "bricked", result.summary()
    assert "atomic" not in result.verdicts
    # Its application never beats again: the outage lasts to the end of the trial, and says so.
    assert result.measures.downtime_open and result.measures.downtime_s is not None, result.summary()
    assert result.anomalies, result.summary()


def test_a_cut_point_that_never_fires_is_its_own_result(trial) -> None:
    result = trial(payload="v2", cut="phase=bootloader,n=50")
    assert result.final == "missed" and result.verdicts == []


def test_a_cut_behind_an_update_error_is_missed_not_judged(trial) -> None:
    """The tampered payload is refused in the deploy phase, so a bootloader cut
    never fires: the trial has no cut to judge, whatever the device runs."""
    result = trial(payload="v2-tampered", cut="phase=bootloader,n=1")
    assert result.final == "missed" and result.verdicts == [], result.summary()
    assert result.cut is None
    assert any(note.startswith("the cut point never fired: the update failed first (verify:")
               for note in result.notes), result.notes


def test_a_trial_from_a_snapshot_is_the_cold_trial(update_server, tmp_path) -> None:
    """Held where the bootloader phase starts, restored, then cut after the env
    fsync: the agent counts the points before the hold, the device ends on v2
    as a cold trial at that point does, and the bytes before the hold count."""
    snapshot = take_snapshot(TrialSpec("ab", "v2"), "bootloader", tmp_path / "snapshot", update_server)
    payload = payload_size()
    # The pull writes the slot a MiB at a time: every one of those is a point before the hold.
    assert snapshot.points > payload >> 20
    fsync = f"n={snapshot.points + 2},edge=after"
    judged = SameDiskStore(tmp_path / "judged")
    result = run_trial(TrialSpec("ab", "v2", cut=fsync), tmp_path / "trial", update_server, snapshot=snapshot,
                       same_disk=SameDisk(judged, "first"))
    assert result.started == "snapshot:bootloader" and result.same_disk_as is None
    assert result.cut is not None and result.cut["syscall"] == "fsync" and result.cut["phase"] == "bootloader"
    assert result.final == "v2" and {"atomic", "completes"} <= set(result.verdicts), result.summary()
    assert result.measures.bytes_downloaded >= payload
    # The same cut again leaves the same disk: its outcome is taken, not judged again.
    again = run_trial(TrialSpec("ab", "v2", cut=fsync), tmp_path / "again", update_server, snapshot=snapshot,
                      same_disk=SameDisk(judged, "again"))
    assert again.same_disk_as is not None and again.same_disk_as["trial"] == "first", again.summary()
    assert (again.final, again.verdicts, again.slot) == (result.final, result.verdicts, result.slot)
    assert len(again.boots) == 1 and again.boots[0]["ended_by"] == "cut", again.boots
    with pytest.raises(HarnessError, match="comes before the snapshot's hold"):
        run_trial(TrialSpec("ab", "v2", cut="n=3,edge=after"), tmp_path / "early", update_server,
                  snapshot=snapshot)
