"""A device as built by the image builder: firmware, env flash and its disk.

Each method has a disk layout made by one step of the image build; a device
runs on a private copy-on-write overlay of that pristine disk, so trials never
change the built image and a new device costs no copying. Adding a method is
a module in harness/methods/ plus its image build step.
"""
from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .. import HarnessError, NoSpace, methods
from ..images import require
from ..machine.qemu import Disk, MachineConfig, UserNet


# The wall time every power-on starts its clock at (UTC, 2006-06-17T16:01:21),
# as on a device without a battery-backed clock; unset, the host's. Campaigns
# set it to their start: what a boot writes (a mount time, a log line) is then
# the same in every trial, so cuts that leave the same disk are seen to.
GUEST_CLOCK_ENV = "BROWNOUT_GUEST_CLOCK"
CLOCK_FORMAT = "%Y-%m-%dT%H:%M:%S"


def guest_clock() -> str | None:
    """The fixed start of the guests' clock, or None; HarnessError when malformed."""
    clock = os.environ.get(GUEST_CLOCK_ENV) or None
    if clock is not None:
        try:
            datetime.datetime.strptime(clock, CLOCK_FORMAT)
        except ValueError:
            raise HarnessError(f"{GUEST_CLOCK_ENV}={clock} is no UTC time like 2026-06-17T16:01:21: "
                               f"set it so, or unset it for the host's clock") from None
    return clock


@dataclass(frozen=True)
class Partition:
    index: int
    name: str
    offset: int
    size: int


def pristine_disk(method: str, client: str = "safe") -> Path:
    """The method's disk as built, or the disk of a test fixture that has one of its own."""
    m = methods.get(method)
    path = require(m.client_disks.get(client, m.disk_step)) / m.disk_image
    if not path.is_file():
        raise HarnessError(f"disk image {path} is missing: run './brownout build'")
    return path


def partitions(method: str) -> list[Partition]:
    layout_file = require(methods.get(method).disk_step) / "layout.json"
    data = json.loads(layout_file.read_text())
    return [Partition(**p) for p in data["partitions"]]


# What one device may write next to its overlay: a whole A/B or asymmetric
# image (315 MB) into the overlay, a snapshot's RAM state (up to 512 MB) and
# disk, console logs; with room to spare, as two devices run at once.
DEVICE_ROOM = 2 << 30


def make_overlay(base: Path, directory: Path) -> Path:
    """A qcow2 overlay on the raw pristine disk (or on a snapshot's frozen qcow2):
    writes land in the overlay only."""
    directory.mkdir(parents=True, exist_ok=True)
    # A full file system fails a device half-way, as a disk error inside the
    # guest or a QEMU that stops: say so before it starts.
    free = shutil.disk_usage(directory).free
    if free < DEVICE_ROOM:
        raise NoSpace(f"only {free / (1 << 30):.1f} GiB free for a device in {directory}, "
                      f"{DEVICE_ROOM >> 30} GiB needed: free some space there (old pytest runs "
                      f"under {tempfile.gettempdir()}/pytest-of-*, build/journals/*.logs)")
    overlay = directory / (base.stem + ".qcow2")
    if overlay.resolve() == base.resolve():
        overlay = directory / (base.stem + "-trial.qcow2")
    result = subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", disk_format(base),
                             "-b", str(base), str(overlay)], capture_output=True, text=True)
    if result.returncode != 0:
        raise HarnessError(f"qemu-img create overlay on {base} failed: {result.stderr.strip()}")
    return overlay


def disk_format(disk: Path) -> str:
    return "qcow2" if disk.suffix == ".qcow2" else "raw"


def set_backing(overlay: Path, backing: Path) -> None:
    """Point a copied overlay at `backing`, the same bytes as the disk it was
    made on, by another path (another clone's build); its data is untouched."""
    subprocess.run(["qemu-img", "rebase", "-u", "-f", "qcow2", "-F", disk_format(backing), "-b", str(backing),
                    str(overlay)], check=True, capture_output=True, text=True, timeout=60)


@dataclass
class Device:
    """A device of one method: a MachineConfig on a private overlay in run_dir."""
    method: str
    run_dir: Path
    disk: Path
    config: MachineConfig

    @classmethod
    def create(cls, method: str, run_dir: Path | None = None, net: UserNet | None = None,
               base: Path | None = None, client: str = "safe") -> "Device":
        """`base`: the disk to overlay, by default the pristine one of the method (and client)."""
        run_dir = Path(run_dir) if run_dir else Path(tempfile.mkdtemp(prefix=f"brownout-{method}-"))
        firmware = require("firmware")
        disk = make_overlay(base or pristine_disk(method, client), run_dir)
        config = MachineConfig(bios=firmware / "u-boot.bin",
                               disks=[Disk(disk, format="qcow2", name="disk")], net=net)
        clock = guest_clock()
        if clock:
            config.extra_args += ["-rtc", f"base={clock}"]
        config.check()
        return cls(method, run_dir, disk, config)
