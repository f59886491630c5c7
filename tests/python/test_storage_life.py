"""Placing a disk life's log entries in boots, stages and phases (no QEMU)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import HarnessError
from harness.checks.device import Partition
from harness.machine.console import Line
from harness.methods import images_builds, images_key
from harness.storage import crash
from harness.storage.life import PLACEMENT, PlacedEntry, life_paths, phase_rules, place, spans
from harness.storage.writelog import FLUSH, LogEntry, read_log
from test_storage import write_log

PARTS = [Partition(2, "env", 1 << 20, 1 << 20), Partition(3, "rootA", 2 << 20, 8 << 20),
         Partition(4, "rootB", 10 << 20, 8 << 20), Partition(5, "data", 18 << 20, 8 << 20)]
PHASES = ("pull", "deploy", "bootloader")


def write(number: int, offset: int) -> LogEntry:
    return LogEntry(number, offset, 4096, 0, 0)


def flush(number: int) -> LogEntry:
    return LogEntry(number, 0, 0, FLUSH, 0)


# Each line's stamp: how many log entries the disk had when the host read it.
BOOT1 = [Line(1.0, "U-Boot 2023.01", 0), Line(1.5, "BROWNOUT uboot-save slot=A", 1),
         Line(2.0, "Starting kernel ...", 1), Line(3.0, "BROWNOUT phase name=pull state=start", 2),
         Line(5.0, "BROWNOUT phase name=bootloader state=start", 4),
         Line(5.5, "BROWNOUT phase name=bootloader state=end", 5), Line(6.0, "BROWNOUT reboot reason=update", 5)]
BOOT2 = [Line(10.0, "U-Boot 2023.01", 6), Line(11.0, "Starting kernel ...", 7),
         Line(12.0, "BROWNOUT confirm result=good version=2", 7)]


def test_entries_are_placed_by_boot_stage_phase_and_partition() -> None:
    entries = [write(0, 1 << 20), write(1, 0), write(2, 10 << 20), flush(3), write(4, 1 << 20),
               write(5, 18 << 20), write(6, 1 << 20), write(7, 18 << 20)]
    placed = place(entries, spans([(1, BOOT1), (2, BOOT2)], PHASES), PARTS, [])
    assert [(p.boot, p.stage, p.phase, p.partition) for p in placed] == [
        (1, "firmware", "firmware", "env"), (1, "linux", "boot", ""), (1, "linux", "pull", "rootB"),
        (1, "linux", "pull", "-"), (1, "linux", "bootloader", "env"), (1, "linux", "shutdown", "data"),
        (2, "firmware", "firmware", "env"), (2, "linux", "settled", "data")]
    assert [p.volatile for p in placed][:2] == [False, True]


def test_a_write_the_disk_had_before_a_line_was_read_stays_before_it() -> None:
    # The bootloader's switch (entry 4) reached the disk before its phase's end
    # and the reboot were printed: both lines count it, however late they came.
    late = BOOT1[:5] + [Line(60.0, "BROWNOUT phase name=bootloader state=end", 5),
                        Line(60.0, "BROWNOUT reboot reason=update", 5)]
    entries = [write(n, off) for n, off in enumerate((1 << 20, 0, 10 << 20, 10 << 20, 1 << 20, 18 << 20))]
    placed = place(entries, spans([(1, late)], PHASES), PARTS, [])
    assert [p.phase for p in placed][3:] == ["pull", "bootloader", "shutdown"]


def test_a_line_without_a_stamp_is_refused() -> None:
    with pytest.raises(HarnessError, match="no write-log stamp"):
        spans([(1, [Line(1.0, "U-Boot 2023.01")])], PHASES)


def test_a_client_without_phase_markers_gets_its_phases_from_the_rules() -> None:
    lines = [Line(1.0, "U-Boot 2023.01", 0), Line(2.0, "Starting kernel ...", 0),
             Line(3.0, "BROWNOUT update-start", 0), Line(6.0, "BROWNOUT reboot reason=update", 4)]
    rules = [("deploy", "/dev/vda[34]"), ("bootloader", "/dev/vda2")]
    entries = [write(0, 10 << 20), flush(1), write(2, 1 << 20), write(3, 18 << 20)]
    placed = place(entries, spans([(1, lines)], PHASES), PARTS, rules)
    assert [p.phase for p in placed] == ["deploy", "deploy", "bootloader", "update"]


def test_phase_rules_name_the_paths_they_match() -> None:
    assert phase_rules(("deploy path=/dev/vda[34]", "pull path=/data/rauc/* syscall=write", "none syscall=sync")) \
        == [("deploy", "/dev/vda[34]"), ("pull", "/data/rauc/*")]


def test_an_update_over_several_boots_places_its_recovery_boot_before_the_update() -> None:
    first = BOOT1[:3] + [Line(3.0, "BROWNOUT reboot reason=recovery", 1)]
    recovery = [Line(10.0, "U-Boot 2023.01", 1), Line(11.0, "Starting kernel ...", 1),
                Line(12.0, "BROWNOUT phase name=pull state=start", 2), Line(14.0, "BROWNOUT reboot reason=update", 3)]
    new = [Line(20.0, "U-Boot 2023.01", 3), Line(21.0, "Starting kernel ...", 3),
           Line(22.0, "BROWNOUT confirm result=good version=2", 4)]
    entries = [write(0, 1 << 20), write(1, 18 << 20), write(2, 10 << 20), write(3, 18 << 20)]
    placed = place(entries, spans([(1, first), (2, recovery), (3, new)], PHASES, update_boots=2), PARTS, [])
    assert [(p.boot, p.phase) for p in placed] == [(1, "firmware"), (2, "boot"), (2, "pull"), (3, "confirm")]


def test_a_missing_or_stale_life_says_how_to_record_it(tmp_path: Path) -> None:
    with pytest.raises(HarnessError) as e:
        crash.load_life("ab", "v2", tmp_path, client="unsynced")
    assert "./brownout record --model storage --method ab --client unsynced" in str(e.value)
    log_path, index_path = life_paths("ab", "v2", tmp_path)
    log_path.write_bytes(b"")
    index_path.write_text('{"life": {"images": {}}, "entries": []}')
    with pytest.raises(HarnessError) as e:
        crash.load_life("ab", "v2", tmp_path)
    assert "other images" in str(e.value)
    index_path.write_text(json.dumps({"life": {"images": images_key("ab"), "builds": {"rootfs": "another"}},
                                      "entries": []}))
    with pytest.raises(HarnessError) as e:
        crash.load_life("ab", "v2", tmp_path)
    assert "other builds" in str(e.value)
    index_path.write_text(json.dumps({"life": {"images": images_key("ab"), "builds": images_builds("ab")},
                                      "entries": []}))
    with pytest.raises(HarnessError) as e:
        crash.load_life("ab", "v2", tmp_path)
    assert "another way" in str(e.value)


def test_a_plan_within_entries_holds_their_states_and_the_firmwares(tmp_path: Path) -> None:
    sector = b"x" * 512
    log = write_log(tmp_path / "life.log", [("w", 0, sector * 2), ("w", 4096, sector), ("f",),
                                            ("w", 8192, sector * 2), ("w", 16384, sector), ("f",)])
    placed = [PlacedEntry(0, 1, "firmware", "firmware", "env"), PlacedEntry(1, 1, "linux", "pull", "data"),
              PlacedEntry(2, 1, "linux", "pull", "-"), PlacedEntry(3, 1, "linux", "deploy", "rootB"),
              PlacedEntry(4, 1, "linux", "deploy", "rootB"), PlacedEntry(5, 1, "linux", "deploy", "-")]
    life = crash.Life("inplace", "v2", "safe", log, read_log(log), placed)
    every = crash.plan_states(life, "all", 7)
    within = crash.plan_states(life, "all", 7, range(3, 4))
    assert {life.where(p.state).number for p in within} == {0, 3}
    assert [p for p in every if life.where(p.state).number in (0, 3)] == within


@pytest.mark.parametrize("method, slot, names_a, names_b", [
    ("ab", "rootB", b"BOOT_ORDER=A B", b"BOOT_ORDER=B A"),
    ("ostree", "bootB", b"OSTREE_BOOT=A\0OSTREE_PENDING=0", b"OSTREE_BOOT=B\0OSTREE_PENDING=1")])
def test_states_that_differ_only_in_a_slot_no_env_names_are_one_class(
        tmp_path: Path, method: str, slot: str, names_a: bytes, names_b: bytes) -> None:
    env_a, env_b = (names.ljust(1024, b"\0") for names in (names_a, names_b))
    log = write_log(tmp_path / "life.log", [
        ("w", 0, env_a),                       # 0: U-Boot's save, the running slot first
        ("w", 32768, b"1" * 512),              # 1, 2: the target slot
        ("w", 36864, b"2" * 1024), ("f",),     # 3
        ("w", 512 * 8, env_b), ("f",),         # 4: the switch names the target first; 5
        ("w", 40960, b"3" * 512), ("f",)])     # 6: a slot write after the switch; 7
    partition = {"env": Partition(2, "env", 0, 32768), slot: Partition(4, slot, 32768, 32768)}
    placed = [PlacedEntry(0, 1, "firmware", "firmware", "env")] + [
        PlacedEntry(n, 1, "linux", phase, part) for n, phase, part in (
            (1, "pull", slot), (2, "pull", slot), (3, "pull", "-"), (4, "bootloader", "env"),
            (5, "bootloader", "-"), (6, "confirm", slot), (7, "confirm", "-"))]
    life = crash.Life(method, "v2", "safe", log, read_log(log), placed)
    p = crash.parse_token
    states = [p(t) for t in ("prefix:1", "prefix:2", "prefix:4", "torn:2:512:zero",
                             "prefix:5", "prefix:7", "torn:4:512:old")]
    keys = crash.equivalence_keys(life, states, partition)
    assert len({keys[s] for s in states[:4]}) == 1          # the env names A: slot B unread
    assert keys[p("prefix:5")] != keys[p("prefix:7")]       # B named: its content decides
    assert keys[p("prefix:5")] != keys[p("prefix:4")]
    assert keys[p("torn:4:512:old")].startswith("disk:")


def test_a_planned_state_counts_the_states_it_stands_for_per_kind(tmp_path: Path) -> None:
    sector = b"x" * 512
    # The same bytes written twice: a prefix after either write leaves the same disk.
    log = write_log(tmp_path / "life.log", [("w", 0, sector), ("f",), ("w", 0, sector), ("f",)])
    placed = [PlacedEntry(n, 1, "linux", "deploy", "data") for n in range(4)]
    life = crash.Life("inplace", "v2", "safe", log, read_log(log), placed)
    planned = crash.plan_states(life, "all", 7)
    for p in planned:
        assert sum(n for _, n in p.same_kinds) == p.same_as
    assert any(dict(p.same_kinds).get("prefix") for p in planned)


def _fake_life(directory: Path, builds: dict, writes: int) -> None:
    """A life of `writes` sector writes, placed anywhere, recorded on the images built now
    but for their build ids, `builds`."""
    directory.mkdir(parents=True, exist_ok=True)
    log_path, index_path = life_paths("ab", "v2", directory)
    write_log(log_path, [("w", 512 * n, b"x" * 512) for n in range(writes)])
    placed = [{"number": n, "boot": 1, "stage": "linux", "phase": "pull", "partition": "rootB"}
              for n in range(writes)]
    index_path.write_text(json.dumps({"life": {"images": images_key("ab"), "builds": builds, "placement": PLACEMENT},
                                      "entries": placed}))


def test_a_life_kept_for_the_images_built_now_is_taken_not_recorded(tmp_path: Path, monkeypatch) -> None:
    def record(*args: object, **kwargs: object) -> None:
        raise AssertionError("recorded although a kept life fits")
    monkeypatch.setattr(crash, "record_life", record)
    _fake_life(tmp_path / "kept", images_builds("ab"), 3)
    life = crash.ensure_life("ab", directory=tmp_path / "build", kept=tmp_path / "kept")
    assert len(life.entries) == 3 and life.log == life_paths("ab", "v2", tmp_path / "build")[0]


def test_a_life_kept_for_another_build_of_the_images_is_recorded_again_and_kept(tmp_path: Path, monkeypatch) -> None:
    recorded = []

    def record(method: str, payload: str, directory: Path, client: str = "safe") -> None:
        recorded.append(method)
        _fake_life(directory, images_builds("ab"), 2)
    monkeypatch.setattr(crash, "record_life", record)
    _fake_life(tmp_path / "kept", {"rootfs": "another build"}, 3)
    life = crash.ensure_life("ab", directory=tmp_path / "build", kept=tmp_path / "kept")
    assert recorded == ["ab"] and len(life.entries) == 2
    assert len(crash.load_life("ab", "v2", tmp_path / "kept").entries) == 2
