"""End to end: what a power cut at a chosen syscall leaves on a real guest's disk.

A tiny stand-in client writes block A to /data/fi-test and fsyncs it, then
block B and fsyncs it (dd conv=fsync). The agent cuts power at one of those
four syscalls; the data partition is then read offline, after the journal
replay that a mount would do.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.device import partitions
from harness.disk import extract
from harness.images import require
from harness.power import PowerSwitch

pytestmark = [pytest.mark.e2e, pytest.mark.qemu, pytest.mark.timeout(300)]

WRITER = """#!/bin/sh
head -c 4096 /dev/zero | tr '\\000' A | dd of=/data/fi-test bs=4096 count=1 conv=fsync 2>/dev/null
head -c 4096 /dev/zero | tr '\\000' B | dd of=/data/fi-test bs=4096 seek=1 count=1 conv=fsync,notrunc 2>/dev/null
"""


def cut_and_read(device_factory, tmp_path: Path, spec: str) -> bytes:
    device = device_factory("ab")
    writer = tmp_path / "writer.sh"
    writer.write_text(WRITER)
    (tmp_path / "cut.txt").write_text(spec)
    apps = require("apps")
    device.config.extra_args += [
        "-action", "shutdown=pause",
        "-fw_cfg", "name=opt/brownout/update,string=unused",
        "-fw_cfg", f"name=opt/brownout/client,file={writer}",
        "-fw_cfg", f"name=opt/brownout/agent,file={apps / 'brownout-fi'}",
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
    subprocess.run(["e2fsck", "-E", "journal_only", "-p", str(image)], capture_output=True)
    out = subprocess.run(["debugfs", "-R", "cat /fi-test", str(image)], capture_output=True)
    return out.stdout


def test_a_cut_after_the_fsync_of_a_keeps_a_and_never_b(device_factory, tmp_path: Path) -> None:
    content = cut_and_read(device_factory, tmp_path, "path=/data/fi-test,n=2,edge=after")
    assert content == b"A" * 4096


def test_a_cut_before_the_write_of_b_never_shows_b(device_factory, tmp_path: Path) -> None:
    content = cut_and_read(device_factory, tmp_path, "path=/data/fi-test,n=3,edge=before")
    assert content == b"A" * 4096


def test_a_cut_before_the_fsync_of_a_may_lose_a_but_never_shows_b(device_factory, tmp_path: Path) -> None:
    # A sits in the page cache only; the cut drops it unless writeback was quicker.
    content = cut_and_read(device_factory, tmp_path, "path=/data/fi-test,n=2,edge=before")
    assert content in (b"", b"A" * 4096)
    assert b"B" not in content
