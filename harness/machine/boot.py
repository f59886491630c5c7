"""Boot timeline: power-on to the application's first heartbeat, by stage.

Stage boundaries are console events, timestamped on the host:
  firmware     power-on -> U-Boot's "Starting kernel ..."
  kernel       -> the initramfs's first marker
  init         -> the root's init marker (modules, root mount, switch_root)
  application  -> the first heartbeat
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

from .qemu import Machine

STAGES = ("firmware", "kernel", "init", "application")
KERNEL_START = r"^Starting kernel \.\.\."


@dataclass(frozen=True)
class BootTimeline:
    firmware_s: float
    kernel_s: float
    init_s: float
    application_s: float
    slot: str
    version: str

    @property
    def total_s(self) -> float:
        return self.firmware_s + self.kernel_s + self.init_s + self.application_s

    def stage(self, name: str) -> float:
        return getattr(self, f"{name}_s")


def wait_boot(machine: Machine, timeout: float = 30.0) -> BootTimeline:
    """Wait for a full boot to the first heartbeat and return its timeline.

    Raises BootFailure at once on a panic or a boot script error, and
    ConsoleTimeout if the boot does not finish within `timeout` seconds."""
    console = machine.console
    t0 = machine.t_power_on
    assert t0 is not None, "a started machine has its power-on time"
    kernel = console.wait_for_line(KERNEL_START, timeout=timeout)
    initramfs = console.wait_for_marker("initramfs", timeout=timeout)
    init = console.wait_for_marker("init", timeout=timeout)
    beat = console.wait_for_marker("heartbeat", timeout=timeout)
    return BootTimeline(
        firmware_s=kernel.t - t0,
        kernel_s=initramfs.t - kernel.t,
        init_s=init.t - initramfs.t,
        application_s=beat.t - init.t,
        slot=init.get("slot", "?"),
        version=beat.get("version", "?"),
    )


@dataclass(frozen=True)
class Spread:
    name: str
    min: float
    median: float
    max: float


def spread(timelines: list[BootTimeline]) -> list[Spread]:
    rows = []
    for name in (*STAGES, "total"):
        values = [t.total_s if name == "total" else t.stage(name) for t in timelines]
        rows.append(Spread(name, min(values), statistics.median(values), max(values)))
    return rows


def format_timeline(t: BootTimeline) -> str:
    lines = [f"boot timeline (slot {t.slot}, version {t.version}):"]
    start = 0.0
    for name in STAGES:
        d = t.stage(name)
        lines.append(f"  {name:<12} {start:6.3f} s -> {start + d:6.3f} s  ({d:.3f} s)")
        start += d
    lines.append(f"  {'total':<12} power-on to first heartbeat {t.total_s:.3f} s")
    return "\n".join(lines)
