"""brownout host-side harness: QEMU machines, QMP, serial console, power switch."""

from .errors import (BootFailure, ConsoleTimeout, HarnessError, HarnessTimeout,
                     MachineExited, NoSpace, QMPError, QMPTimeout)

__all__ = [
    "BootFailure",
    "ConsoleTimeout",
    "HarnessError",
    "HarnessTimeout",
    "MachineExited",
    "NoSpace",
    "QMPError",
    "QMPTimeout",
]
