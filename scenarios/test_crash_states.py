"""The storage fault model on real QEMU devices: the disk's life recorded through
blklogwrites, placed in boots and phases, and crash states of it judged by a
cold power-on. The full campaign is `./brownout campaign --model storage`."""
from __future__ import annotations

import pytest

from harness.checks.device import partitions
from harness.storage import crash
from harness.storage.life import FIRMWARE, record_life
from harness.storage.states import CrashState, epochs
from harness.storage.writelog import read_data

pytestmark = [pytest.mark.e2e, pytest.mark.qemu, pytest.mark.slow, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def ab_life(update_server) -> crash.Life:
    return crash.ensure_life("ab")


def firmware_writes(life: crash.Life, boot: int) -> list[int]:
    return [p.number for p in life.placed if p.boot == boot and p.stage == FIRMWARE]


def writes(life: crash.Life, partition: str, phase: str | None = None) -> list[int]:
    """The writes to partition, in phase if one is named."""
    return [p.number for p in life.placed
            if p.partition == partition and phase in (None, p.phase) and life.entries[p.number].is_write]


def update_switch(life: crash.Life) -> int:
    """The update's env switch: its first env write in the update's phases. A
    write's phase is where the disk had it when the phase's console line reached
    the host: on a loaded host the bootloader phase's line can arrive after the
    switch that follows it, which then counts in the phase before."""
    return min(n for phase in ("pull", "deploy", "bootloader") for n in writes(life, "env", phase))


def test_the_ab_life_holds_both_boots_and_every_phase(ab_life: crash.Life) -> None:
    placed = ab_life.placed
    assert {p.boot for p in placed} == {1, 2}
    # U-Boot's boot-count save at every boot, the new version's first boot included.
    for boot in (1, 2):
        assert [placed[n].partition for n in firmware_writes(ab_life, boot)] == ["env"], boot
    phases = {(p.phase, p.partition) for p in placed}
    assert {("pull", "rootB"), ("bootloader", "env"), ("confirm", "env")} <= phases, phases
    # The slot's data is flushed before the env switch that makes it the boot slot.
    first_switch = update_switch(ab_life)
    last_slot = max(p.number for p in placed if p.partition == "rootB")
    assert any(ab_life.entries[n].is_flush for n in range(last_slot, first_switch))


def test_the_whole_life_powered_on_is_v2(trial, ab_life: crash.Life) -> None:
    result = trial(method="ab", payload="v2", state=f"prefix:{len(ab_life.entries)}")
    assert result.final == "v2" and set(result.verdicts) >= {"atomic", "completes"}, result.summary()
    assert result.cut and result.cut["model"] == "storage" and result.cut["kind"] == "prefix"


def test_a_torn_boot_count_save_of_the_new_version_is_survived_by_the_redundant_env(
        trial, ab_life: crash.Life) -> None:
    (save,) = firmware_writes(ab_life, 2)
    state = CrashState("torn", save + 1, torn=save, torn_at=512, tail="zero")
    result = trial(method="ab", payload="v2", state=state.token())
    assert "atomic" in result.verdicts and result.final in ("v1", "v2"), result.summary()
    assert "completes" in result.verdicts, result.summary()
    assert (result.cut or {}).get("stage") == FIRMWARE and result.cut["partition"] == "env"


def test_the_slot_lost_from_the_disk_cache_before_its_flush_leaves_v1(trial, ab_life: crash.Life) -> None:
    last_slot = max(p.number for p in ab_life.placed if p.partition == "rootB" and p.volatile)
    epoch = next(e for e in epochs(ab_life.entries) if last_slot in e)
    lost = [n for n in epoch if ab_life.placed[n].partition == "rootB"][-3:]
    state = CrashState("dropped", epoch[-1], dropped=tuple(lost))
    result = trial(method="ab", payload="v2", state=state.token())
    assert result.final == "v1" and set(result.verdicts) >= {"atomic", "completes"}, result.summary()


# The unsynced-switch fixture (tests/fixtures/ab_unsynced.c): the new slot's data
# is still unsynced when the boot order switches to it.
UNSYNCED = "unsynced"
FLAGGED_OK = {"atomic", "completes"}


def flagged(result) -> bool:
    """The trial shows what the client did wrong: not atomic, not completed, or a
    broken boot on the way (the half-written slot booted before the fallback)."""
    return not FLAGGED_OK <= set(result.verdicts) or bool(result.anomalies)


def test_the_unsynced_switch_is_flagged_under_lazy_writeback(trial) -> None:
    # Right after the env's own fsync: the boot order names slot B, whose data
    # never left the page cache.
    result = trial(method="ab", payload="v2", client=UNSYNCED, lazy_writeback=True,
                   cut="phase=bootloader,syscall=fsync,n=1,edge=after")
    assert result.cut and result.cut.get("phase") == "bootloader", result.summary()
    assert flagged(result), result.summary()


def test_the_unsynced_switch_is_flagged_by_the_storage_model(trial) -> None:
    life = crash.ensure_life("ab", client=UNSYNCED)
    switch = update_switch(life)
    epoch = next(e for e in epochs(life.entries) if switch in e)
    slot_in_epoch = [n for n in epoch if life.placed[n].partition == "rootB" and n < switch]
    # The env switch shares an epoch with the slot's writes: the disk's cache can keep
    # the switch and lose the slot's first write (its file system's superblock).
    assert slot_in_epoch, "the env switch shares no epoch with the slot's writes"
    state = CrashState("dropped", epoch[-1], dropped=(slot_in_epoch[0],))
    result = trial(method="ab", payload="v2", client=UNSYNCED, state=state.token())
    assert flagged(result), result.summary()
    # The safe client flushes its slot before the switch: no such state exists for it.
    safe = crash.ensure_life("ab")
    safe_switch = update_switch(safe)
    safe_epoch = next(e for e in epochs(safe.entries) if safe_switch in e)
    assert not [n for n in safe_epoch if safe.placed[n].partition == "rootB"]
    assert not [p for p in safe.placed if p.partition == "rootB" and p.number > safe_switch]


# Field failures of the boot state itself: fixture devices that keep the boot
# order another way (tests/fixtures/single-env, tests/fixtures/boot-text).
SINGLE_ENV = "single-env"
BOOT_TEXT = "boot-text"


def torn_at_first_sector(number: int) -> str:
    return CrashState("torn", number + 1, torn=number, torn_at=512, tail="zero").token()


def test_a_life_recorded_now_places_the_single_env_switch_in_its_bootloader_phase(update_server, tmp_path) -> None:
    """Recorded afresh, not taken from the lives kept for other clones: its one
    env write comes within milliseconds of the phase's end and the reboot, and
    must still be placed in the phase whose write it is."""
    record_life("ab", "v2", tmp_path, update_server, client=SINGLE_ENV)
    life = crash.load_life("ab", "v2", tmp_path, client=SINGLE_ENV)
    assert {p.boot for p in life.placed} == {1, 2}
    assert len(writes(life, "env", "bootloader")) == 1, [p for p in life.placed if p.partition == "env"]


def test_a_torn_single_env_bricks_where_the_redundant_env_survives(trial, ab_life: crash.Life) -> None:
    life = crash.ensure_life("ab", client=SINGLE_ENV)
    (switch,) = writes(life, "env", "bootloader")
    result = trial(method="ab", payload="v2", client=SINGLE_ENV, state=torn_at_first_sector(switch))
    assert result.final == "bricked" and flagged(result), result.summary()
    # The A/B device's switch torn the same way: the older copy still names a slot.
    result = trial(method="ab", payload="v2", state=torn_at_first_sector(writes(ab_life, "env", "bootloader")[0]))
    assert result.final in ("v1", "v2") and not flagged(result), result.summary()


def test_a_boot_config_rewritten_in_place_is_zero_filled_by_a_lost_disk_cache(trial) -> None:
    life = crash.ensure_life("ab", client=BOOT_TEXT)
    (new_text,) = [n for n in writes(life, "boot", "bootloader")
                   if read_data(life.log, life.entries[n]).startswith(b"BOOT_ORDER=B A")]
    epoch = next(e for e in epochs(life.entries) if new_text in e)
    # The kernel's writeback puts the directory entry that points at the new
    # cluster in the same epoch: the cache can keep it and lose the data. Which
    # phase marker that writeback comes after depends on the guest's timing.
    assert [n for n in writes(life, "boot") if n > new_text and n in epoch]
    result = trial(method="ab", payload="v2", client=BOOT_TEXT,
                   state=CrashState("dropped", epoch[-1], dropped=(new_text,)).token())
    assert result.final == "bricked" and flagged(result), result.summary()


# OSTree's sysroot is mounted read-write on every boot: each mount and sync
# rewrites its superblock. U-Boot reads the kernel from a boot slot, so a torn
# superblock is the initramfs's to repair, never a brick.
def test_a_torn_sysroot_superblock_at_the_new_versions_boot_is_repaired_not_bricked(trial) -> None:
    life = crash.ensure_life("ostree")
    sysroot = next(p for p in partitions("ostree") if p.name == "ostree")
    superblock = sysroot.offset + 1024

    def tear(n: int) -> int:
        """Where write n must tear for the superblock to read as its zero tail (0: it cannot)."""
        e = life.entries[n]
        return (superblock - e.offset) // 512 * 512 if e.offset < superblock < e.offset + e.length else 0
    rewrites = [p.number for p in life.placed
                if p.partition == "ostree" and p.boot == 2 and life.entries[p.number].is_write and tear(p.number)]
    assert rewrites, "the new version's boot wrote no sysroot superblock"
    state = CrashState("torn", rewrites[0] + 1, torn=rewrites[0], torn_at=tear(rewrites[0]), tail="zero")
    result = trial(method="ostree", payload="v2", state=state.token())
    assert result.final in ("v1", "v2") and {"atomic", "completes"} <= set(result.verdicts), result.summary()
    assert any("repaired root" in n for n in result.notes), result.summary()
