"""Exceptions raised by the harness.

Every error the harness raises derives from HarnessError, so a caller (a
scenario, the CLI) can catch one type and print one line.  Errors about a
running machine carry the last console lines (``tail``) so that the message
alone tells what the device was doing.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base class of all harness errors."""


class NoSpace(HarnessError):
    """A file system has too little room left for what the harness is about to write."""


class HarnessTimeout(HarnessError, TimeoutError):
    """A bounded wait expired.  The message says what was awaited and for how long."""


class QMPError(HarnessError):
    """A QMP command failed, or the QMP connection did."""

    def __init__(self, message: str, *, error_class: str | None = None,
                 desc: str | None = None, command: str | None = None) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.desc = desc
        self.command = command


class QMPTimeout(QMPError, HarnessTimeout):
    """No QMP greeting, reply or event arrived within the deadline."""


class ConsoleTimeout(HarnessTimeout):
    """A console wait expired.  ``awaited`` says what for; ``tail`` holds the last lines."""

    def __init__(self, awaited: str, timeout: float, tail: str) -> None:
        super().__init__(
            f"timed out after {timeout:.1f} s waiting for {awaited}; "
            f"last console lines:\n{tail or '(no console output)'}")
        self.awaited = awaited
        self.timeout = timeout
        self.tail = tail


class BootFailure(HarnessError):
    """The console showed a fatal pattern (panic, U-Boot error, boot fell through)."""

    def __init__(self, reason: str, tail: str) -> None:
        super().__init__(f"boot failure: {reason}; last console lines:\n{tail}")
        self.reason = reason
        self.tail = tail


class MachineExited(HarnessError):
    """The machine (its console stream) ended while something was still awaited."""

    def __init__(self, tail: str, *, awaited: str | None = None, detail: str = "") -> None:
        what = f" while waiting for {awaited}" if awaited else ""
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"machine exited{what}{extra}; last console lines:\n"
            f"{tail or '(no console output)'}")
        self.tail = tail
        self.awaited = awaited
        self.detail = detail
