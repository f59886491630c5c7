"""End to end: what a power cut at a chosen syscall leaves on a real guest's disk.

A tiny stand-in client writes block A to /data/fi-test and fsyncs it, then
block B and fsyncs it (dd conv=fsync). The agent cuts power at one of those
four syscalls; the data partition is then read offline, after the journal
replay that a mount would do.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from harness.checks.device import partitions
from harness.checks.disk import extract
from harness.images import require
from harness.machine.power import PowerSwitch
from harness.trial.run import rig_file

pytestmark = [pytest.mark.e2e, pytest.mark.qemu, pytest.mark.timeout(300)]

# debugfs names itself on stderr on every run ("debugfs 1.47.0 (5-Feb-2023)").
DEBUGFS_BANNER = re.compile(r"debugfs \d[\d.]* \(")

WRITER = """#!/bin/sh
head -c 4096 /dev/zero | tr '\\000' A | dd of=/data/fi-test bs=4096 count=1 conv=fsync 2>/dev/null
head -c 4096 /dev/zero | tr '\\000' B | dd of=/data/fi-test bs=4096 seek=1 count=1 conv=fsync,notrunc 2>/dev/null
"""


def read_file(image: Path, path: str) -> bytes | None:
    """The bytes of `path` in the ext4 `image`, or None when the file system has
    no such file. debugfs exits 0 even when it cannot open the image and only
    says so on stderr: any line there but its banner fails the test."""
    out = subprocess.run(["debugfs", "-R", f"cat {path}", str(image)], capture_output=True)
    errors = [line.strip() for line in out.stderr.decode(errors="replace").splitlines()
              if not DEBUGFS_BANNER.match(line)]
    missing = errors == [f"{path}: File not found by ext2_lookup"]
    assert out.returncode == 0 and (missing or not errors), \
        f"debugfs cat {path} in {image} exited {out.returncode}: {errors}"
    return None if missing else out.stdout


def cut_and_read(device_factory, tmp_path: Path, spec: str) -> bytes | None:
    device = device_factory("ab")
    writer = tmp_path / "writer.sh"
    writer.write_text(WRITER)
    (tmp_path / "cut.txt").write_text(spec)
    apps = require("apps")
    device.config.extra_args += [
        "-action", "shutdown=pause",
        "-fw_cfg", "name=opt/brownout/update,string=unused",
        "-fw_cfg", f"name=opt/brownout/client,file={rig_file(writer)}",
        "-fw_cfg", f"name=opt/brownout/agent,file={rig_file(apps / 'brownout-fi')}",
        "-fw_cfg", f"name=opt/brownout/cut,file={tmp_path / 'cut.txt'}",
    ]
    with PowerSwitch(device.config, tmp_path / "boots") as power:
        machine = power.on()
        qmp = machine.qmp()  # before the cut: QMP events are not replayed to late clients
        cut = machine.console.wait_for_marker("cut", timeout=120)
        assert cut.get("path") == "/data/fi-test"
        qmp.wait_event("SHUTDOWN", timeout=30)
        power.cut()
    data = next(p for p in partitions("ab") if p.name == "data")
    image = extract(device.disk, data, tmp_path / "data.img")
    fsck = subprocess.run(["e2fsck", "-E", "journal_only", "-p", str(image)], capture_output=True, text=True)
    # 0: nothing to replay, 1: the journal was replayed; more is damage, or e2fsck could not run.
    assert fsck.returncode in (0, 1), \
        f"e2fsck -E journal_only exited {fsck.returncode}: {(fsck.stdout + fsck.stderr).strip()[-500:]}"
    return read_file(image, "/fi-test")


def test_a_cut_after_the_fsync_of_a_keeps_a_and_never_b(device_factory, tmp_path: Path) -> None:
    content = cut_and_read(device_factory, tmp_path, "path=/data/fi-test,n=2,edge=after")
    assert content == b"A" * 4096


def test_a_cut_before_the_write_of_b_never_shows_b(device_factory, tmp_path: Path) -> None:
    content = cut_and_read(device_factory, tmp_path, "path=/data/fi-test,n=3,edge=before")
    assert content == b"A" * 4096


def test_a_cut_before_the_fsync_of_a_may_lose_a_but_never_shows_b(device_factory, tmp_path: Path) -> None:
    # A sits in the page cache only; the cut drops it unless writeback was quicker,
    # and the file itself unless the journal committed its creation (None).
    content = cut_and_read(device_factory, tmp_path, "path=/data/fi-test,n=2,edge=before")
    assert content in (None, b"", b"A" * 4096)
