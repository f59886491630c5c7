"""The device's power switch: power-on starts QEMU, a cut kills it at once.

A cut is SIGKILL of QEMU's process group: the guest gets no warning, so what it
only had in its page cache is lost, as on a real device.  Data already
submitted to the virtio disk survives (QEMU's own write-back cache is the
host's page cache).  Power-on starts a new QEMU on the same configuration and
disks.  Every transition is recorded with the host's monotonic time.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import HarnessError
from .qemu import Machine, MachineConfig

log = logging.getLogger(__name__)

PowerEventKind = Literal["on", "cut", "exit"]
# How long a QEMU whose console has ended may take to exit.
EXITING_TIMEOUT = 10.0


@dataclass(frozen=True)
class PowerEvent:
    """``on``: QEMU spawned; ``cut``: the harness cut power; ``exit``: QEMU
    exited by itself (guest reset or power-off under -no-reboot, or a crash);
    its ``t`` is when the console stream ended.  ``boot`` counts power-ons from 1."""

    kind: PowerEventKind
    t: float
    boot: int
    pid: int
    returncode: int | None = None


class PowerSwitch:
    """Owns a MachineConfig and at most one running Machine at a time.

    ``machine`` stays set after power goes off, so the last boot's console can
    still be read."""

    def __init__(self, config: MachineConfig, run_root: Path | None = None) -> None:
        """``run_root``, if given, gets one run directory per power-on
        (``boot-001``, ``boot-002``...) so every boot's console log is kept."""
        self.config = config
        self.run_root = Path(run_root) if run_root is not None else None
        self.events: list[PowerEvent] = []
        self.machine: Machine | None = None  # the current or last machine
        self.boots = 0
        self._retired_boot = 0

    @property
    def is_on(self) -> bool:
        return self.machine is not None and self.machine.alive

    def on(self) -> Machine:
        """Start a new QEMU on the configuration.  Refuses if power is already on;
        a machine that exited by itself is recorded (``exit``) and closed first."""
        machine = self.machine
        if machine is not None and machine.alive:
            if not machine.started or not machine.console.eof:
                raise HarnessError(f"power is already on (QEMU pid {machine.pid})")
            machine.wait_exit(EXITING_TIMEOUT)  # its console ended: QEMU is exiting
        self._retire()
        self.boots += 1
        run_dir = self.run_root / f"boot-{self.boots:03d}" if self.run_root else None
        machine = Machine(self.config, run_dir, name=f"boot-{self.boots}")
        try:
            machine.start()
        except BaseException:
            machine.close()
            raise
        assert machine.t_power_on is not None and machine.pid is not None
        self.machine = machine
        self._record("on", machine.t_power_on, machine.pid)
        log.info("power on: boot %d, QEMU pid %d", self.boots, machine.pid)
        return machine

    def cut(self) -> None:
        """Cut power now: SIGKILL QEMU's process group and reap it.  If the
        machine already exited by itself, that exit is recorded instead."""
        machine = self.machine
        if machine is None or machine.pid is None:
            return
        if machine.alive:
            t = time.monotonic()
            machine.kill()
            self._record("cut", t, machine.pid, machine.returncode)
            log.info("power cut: boot %d, QEMU pid %d", self.boots, machine.pid)
        self._retire()

    def off_by_guest(self, timeout: float) -> int:
        """Wait at most ``timeout`` s for the guest to turn itself off (reset or
        power-off make QEMU exit under -no-reboot); return QEMU's exit status."""
        if self.machine is None or self._retired_boot == self.boots:
            raise HarnessError("power is off: no machine to wait for")
        code = self.machine.wait_exit(timeout)
        self._retire()
        return code

    def _retire(self) -> None:
        """Record the exit of a machine that stopped by itself and close it."""
        machine = self.machine
        if machine is None or self._retired_boot == self.boots:
            return
        if machine.alive:
            raise HarnessError(f"internal: retiring a running machine (pid {machine.pid})")
        if not any(e.boot == self.boots and e.kind == "cut" for e in self.events):
            assert machine.pid is not None and machine.started
            machine.console.wait_eof(timeout=2.0)
            t = machine.console.t_eof or time.monotonic()
            self._record("exit", t, machine.pid, machine.returncode)
            log.info("power off by guest: boot %d, QEMU exit status %s", self.boots,
                     machine.returncode)
        machine.close()
        self._retired_boot = self.boots

    def _record(self, kind: PowerEventKind, t: float, pid: int,
                returncode: int | None = None) -> None:
        self.events.append(PowerEvent(kind, t, self.boots, pid, returncode))

    def close(self) -> None:
        """Leave power off: cut a running machine, close a stopped one."""
        self.cut()

    def __enter__(self) -> PowerSwitch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
