"""End to end: the built A/B device boots through U-Boot, survives a power cut."""
from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path

import pytest

from harness import BootFailure, methods
from harness.machine.boot import wait_boot
from harness.checks.device import Device, partitions, pristine_disk
from harness.machine.qemu import Disk, Machine, MachineConfig
from harness.trial import run

pytestmark = [pytest.mark.e2e, pytest.mark.qemu, pytest.mark.timeout(300)]

BOOT_TIMEOUT = 60.0


def heartbeats(machine: Machine, count: int) -> list[int]:
    """Wait for `count` further heartbeats and return their sequence numbers."""
    seqs = []
    start = machine.console.mark()
    for _ in range(count):
        beat = machine.console.wait_for_marker(
            "heartbeat", timeout=10.0, since_index=start,
            predicate=lambda m: int(m.get("seq", "-1")) not in seqs)
        seqs.append(int(beat.get("seq")))
    return seqs


def test_ab_boots_v1_and_comes_back_after_a_power_cut(device_factory, power_factory, assert_reaped) -> None:
    device = device_factory("ab")
    power = power_factory(device)

    first = power.on()
    timeline = wait_boot(first, timeout=BOOT_TIMEOUT)
    assert (timeline.version, timeline.slot) == ("1", "A")
    saved = first.console.markers("uboot-save")[0]
    assert saved.get("a_left") == "2"

    # Cut at the first heartbeat: the boot hook's confirmation, which gives
    # the slot its tries back, waits for the heartbeat to advance first.
    power.cut()
    assert_reaped(first.pid)
    assert not first.console.markers("confirm")

    second = power.on()
    timeline = wait_boot(second, timeout=BOOT_TIMEOUT)
    assert (timeline.version, timeline.slot) == ("1", "A")
    seqs = heartbeats(second, 5)
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    # U-Boot's own env save of the first boot reached the disk before the cut:
    # the second boot reads it back and spends another try.
    env = second.console.markers("uboot-env")[0]
    assert env.get("state") == "ok" and env.get("a_left") == "2"
    assert second.console.markers("uboot-save")[0].get("a_left") == "1"
    power.cut()
    assert_reaped(second.pid)


def test_a_running_guest_lists_its_tasks_on_the_console_when_asked(device_factory, power_factory) -> None:
    machine = power_factory(device_factory("ab")).on()
    wait_boot(machine, timeout=BOOT_TIMEOUT)
    since = len(machine.console.lines)
    assert machine.list_tasks()
    listing = "\n".join(line.text for line in machine.console.lines[since:])
    assert "sysrq: Show Blocked State" in listing and "sysrq: Show State" in listing, listing[-2000:]
    # "t" lists every task, the application's with its state.
    assert re.search(r"task:brownout-app\s+state:", listing), listing[-2000:]
    assert "disabled" not in listing, listing[-2000:]
    # The guest runs on: the keys were SysRq's, not the application's input.
    machine.console.wait_for_marker("heartbeat", timeout=10.0, since_index=len(machine.console.lines))


def test_a_boot_that_stops_answering_leaves_its_tasks_listed(trial, monkeypatch: pytest.MonkeyPatch) -> None:
    # Four seconds: the guest's kernel is up (a boot to the application takes
    # one here), its update is not done (it takes ten); and the device gets that one boot.
    monkeypatch.setattr(run, "STEP_TIMEOUT", 4.0)
    monkeypatch.setitem(methods.METHODS, "ab", dataclasses.replace(methods.get("ab"), boot_limit=1, extra_boots=0))
    result = trial(method="ab", payload="v2")
    assert len(result.boots) == 1 and result.boots[0]["failure"] == "ConsoleTimeout", result.summary()
    listed = [note for note in result.notes if "tasks when it stopped answering" in note]
    assert len(listed) == 1 and listed[0].startswith("boot 1: "), result.summary()
    console = Path(listed[0].rsplit(" are in ", 1)[1]).read_text()
    # Whatever the guest was running by then, the kernel's own threads are listed.
    assert re.search(r"task:kthreadd\s+state:", console), console[-2000:]
    # Cut at once: no wait for a reboot of its own.
    assert not any("no guest reboot seen" in note for note in result.notes), result.summary()


def boot_fails_at_once(device: Device, disk: Path, tmp_path: Path, reason: str, assert_reaped) -> None:
    """Boot `disk` with the device's firmware: BootFailure matching `reason`, QEMU reaped."""
    config = MachineConfig(bios=device.config.bios, env_flash=device.config.env_flash,
                           disks=[Disk(disk)])
    with Machine(config, tmp_path / "m") as machine:
        machine.start()
        with pytest.raises(BootFailure, match=reason):
            wait_boot(machine, timeout=BOOT_TIMEOUT)
        pid = machine.pid
    assert_reaped(pid)


def test_a_disk_without_boot_script_fails_at_once(device_factory, tmp_path: Path, assert_reaped) -> None:
    blank = tmp_path / "blank.img"
    subprocess.run(["truncate", "-s", "16M", str(blank)], check=True)
    boot_fails_at_once(device_factory("ab"), blank, tmp_path, "no-boot-script", assert_reaped)


def test_a_corrupt_kernel_is_reported_at_once(device_factory, tmp_path: Path, assert_reaped) -> None:
    device: Device = device_factory("ab")
    disk = tmp_path / "corrupt.img"
    subprocess.run(["cp", "--sparse=always", str(pristine_disk("ab")), str(disk)], check=True)
    boot = partitions("ab")[0]
    garbage = tmp_path / "Image"
    garbage.write_bytes(b"\0" * 4096 + b"not a kernel" * 1000)
    subprocess.run(["mcopy", "-o", "-i", f"{disk}@@{boot.offset}", str(garbage), "::/Image"], check=True)
    boot_fails_at_once(device, disk, tmp_path, "bad kernel image|boot-failed", assert_reaped)


def overwrite(disk: Path, offset: int, data: bytes) -> None:
    with disk.open("r+b") as f:
        f.seek(offset)
        f.write(data)


# OSTree's sysroot is mounted read-write on every boot, so its superblock is
# rewritten on every boot; U-Boot reads the kernel from a boot slot, not from it.
@pytest.mark.parametrize("method", ["ab", "ostree"])
def test_a_root_whose_superblock_is_zeroed_is_repaired_by_the_initramfs(
        device_factory, tmp_path: Path, assert_reaped, method: str) -> None:
    device: Device = device_factory(method)
    disk = tmp_path / "torn-superblock.img"
    subprocess.run(["cp", "--sparse=always", str(pristine_disk(method)), str(disk)], check=True)
    root = partitions(method)[2]
    # ext4's primary superblock: 1 KiB at byte 1024 of the partition.
    overwrite(disk, root.offset + 1024, b"\0" * 1024)
    config = MachineConfig(bios=device.config.bios, env_flash=device.config.env_flash, disks=[Disk(disk)])
    with Machine(config, tmp_path / "m") as machine:
        machine.start()
        timeline = wait_boot(machine, timeout=BOOT_TIMEOUT)
        assert timeline.version == "1"
        if method == "ab":
            assert timeline.slot == "A"
        repair = machine.console.markers("initramfs-repair")
        assert [(m.get("what"), m.get("dev")) for m in repair] == [("root", "/dev/vda3")], repair
        assert repair[0].get("superblock") is not None, repair
        pid = machine.pid
    assert_reaped(pid)


def test_a_root_beyond_repair_fails_at_once(device_factory, tmp_path: Path, assert_reaped) -> None:
    device: Device = device_factory("ab")
    disk = tmp_path / "no-root.img"
    subprocess.run(["cp", "--sparse=always", str(pristine_disk("ab")), str(disk)], check=True)
    root_a = partitions("ab")[2]
    # Every superblock copy e2fsck could repair from is gone with the whole
    # slot zeroed (a punched hole reads as zeros and keeps the copy sparse).
    subprocess.run(["fallocate", "--punch-hole", "--offset", str(root_a.offset), "--length", str(root_a.size),
                    str(disk)], check=True)
    boot_fails_at_once(device, disk, tmp_path, "could not mount the root", assert_reaped)
