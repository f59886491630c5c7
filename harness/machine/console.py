"""Serial console: lines, markers and failure recognition.

The guest's serial port reaches the host as a byte stream (QEMU's stdout).  A
reader thread splits it into timestamped lines; whole lines that start with
``BROWNOUT `` are markers (``BROWNOUT <event> key=value ...``), everything else
is log.  Waits are bounded, and they fail early when the console shows that the
awaited thing can no longer come: a fatal pattern (kernel panic, U-Boot error,
U-Boot falling through to its prompt) raises BootFailure, the end of the stream
raises MachineExited.
"""

from __future__ import annotations

import logging
import os
import re
import select
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Literal, Mapping, NoReturn, Sequence, TypeVar, overload

from ..errors import BootFailure, ConsoleTimeout, HarnessError, MachineExited

log = logging.getLogger(__name__)

MARKER_PREFIX = "BROWNOUT "
TAIL_LINES = 20
# U-Boot prints this right before it jumps to the kernel; U-Boot's own failure
# patterns only apply to lines before it.
KERNEL_START = re.compile(r"^Starting kernel \.\.\.")

_EVENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")
_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_POLL_INTERVAL = 0.2

T = TypeVar("T")


@dataclass(frozen=True)
class Line:
    """One console line; ``t`` is the host's time.monotonic() when it was complete,
    ``stamp`` the console's stamp counter read at that moment (None without one)."""

    t: float
    text: str
    stamp: int | None = None


class Fields(dict[str, str]):
    """A read-only dict: a marker's fields.  Still a dict for json and asdict."""

    def _read_only(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("marker fields are read-only")

    __setitem__ = __delitem__ = __ior__ = _read_only  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = _read_only  # type: ignore[assignment]

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __reduce__(self) -> tuple[type, tuple[dict[str, str]]]:
        return (Fields, (dict(self),))


@dataclass(frozen=True)
class Marker:
    """A parsed ``BROWNOUT <event> key=value ...`` line."""

    event: str
    fields: Mapping[str, str] = field(default_factory=Fields)
    t: float = 0.0
    raw: str = ""

    def __post_init__(self) -> None:
        # A read-only private copy: the marker stays immutable and hashable.
        if not isinstance(self.fields, Fields):
            object.__setattr__(self, "fields", Fields(self.fields))

    @overload
    def get(self, key: str) -> str | None: ...

    @overload
    def get(self, key: str, default: str) -> str: ...

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.fields.get(key, default)


def parse_marker(text: str, t: float) -> Marker | None:
    """Return the marker on ``text``, or None if it is not a (well-formed) marker.

    A marker is a whole line starting with ``BROWNOUT ``, then an event word,
    then zero or more ``key=value`` tokens (values may be empty, never contain
    spaces).  A trailing ``\\r`` is ignored.  Malformed lines are not markers."""
    line = text.rstrip("\r\n")
    if not line.startswith(MARKER_PREFIX):
        return None
    tokens = line[len(MARKER_PREFIX):].split()
    if not tokens or not _EVENT_RE.fullmatch(tokens[0]):
        return None
    fields: dict[str, str] = {}
    for token in tokens[1:]:
        key, sep, value = token.partition("=")
        if not sep or not _KEY_RE.fullmatch(key) or key in fields:
            return None
        fields[key] = value
    return Marker(event=tokens[0], fields=fields, t=t, raw=line)


@dataclass(frozen=True)
class FailurePattern:
    """A console pattern that means the boot has failed.

    ``uboot_only`` patterns apply only before the kernel starts (so a Linux
    program printing ``ERROR: `` is not taken for U-Boot); ``partial`` ones are
    also matched against an unfinished last line, as U-Boot's prompt has no
    newline."""

    regex: re.Pattern[str]
    reason: str
    uboot_only: bool = False
    partial: bool = False


def _pattern(regex: str, reason: str, **kw: bool) -> FailurePattern:
    return FailurePattern(re.compile(regex), reason, **kw)


DEFAULT_FAILURES: tuple[FailurePattern, ...] = (
    _pattern(r"Kernel panic - not syncing", "Linux kernel panic"),
    _pattern(r"^BROWNOUT uboot-error\b", "the U-Boot boot script gave up"),
    _pattern(r"^BROWNOUT initramfs-error\b", "the initramfs could not mount the root"),
    _pattern(r"SCRIPT FAILED", "U-Boot boot script failed", uboot_only=True),
    _pattern(r"Wrong Image Format", "U-Boot: wrong image format", uboot_only=True),
    _pattern(r"Bad Linux ARM64 Image magic", "U-Boot: bad kernel image", uboot_only=True),
    _pattern(r"Unknown command '", "U-Boot: unknown command", uboot_only=True),
    _pattern(r"^ERROR: ", "U-Boot error", uboot_only=True),
    _pattern(r"^=> ", "U-Boot fell through to its prompt (autoboot failed)",
             uboot_only=True, partial=True),
)


class Console:
    """Reads a serial console stream on a daemon thread and answers waits on it."""

    def __init__(self, stream: IO[bytes] | int, *, writer: IO[bytes] | int | None = None,
                 log_path: Path | None = None, t0: float | None = None,
                 failures: Sequence[FailurePattern] = DEFAULT_FAILURES,
                 exit_detail: Callable[[], str] | None = None, name: str = "console",
                 stamp: Callable[[], int] | None = None) -> None:
        """``stream``: readable binary stream or fd (QEMU's stdout); ``writer``:
        where send() writes (QEMU's stdin); ``log_path``: a log file with each
        line prefixed by its time relative to ``t0`` (default: now);
        ``exit_detail``: called for a MachineExited message (e.g. QEMU's status);
        ``stamp``: a counter of the machine's own (a disk's logged writes) read
        on the reader thread as each line completes, so that everything it
        counted before the guest printed the line is ordered before the line."""
        self.name = name
        self._stamp = stamp
        self.t0 = time.monotonic() if t0 is None else t0
        self.failures = tuple(failures)
        self._stream = stream
        self._fd = stream if isinstance(stream, int) else stream.fileno()
        self._writer = writer
        self._exit_detail = exit_detail
        self._cond = threading.Condition()
        self._lines: list[Line] = []
        self._line_markers: list[Marker | None] = []
        self._pending = b""
        self._kernel_line: int | None = None
        self._eof = False
        self.t_eof: float | None = None  # when the stream ended (not set by close())
        self._stop = threading.Event()
        self._log: IO[str] | None = None
        if log_path is not None:
            self._log = open(log_path, "a", encoding="utf-8", buffering=1)
        self._thread = threading.Thread(target=self._run, name=f"{name}-reader", daemon=True)
        self._thread.start()

    # -- reader thread --------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    ready, _, _ = select.select([self._fd], [], [], _POLL_INTERVAL)
                    if not ready:
                        continue
                    data = os.read(self._fd, 65536)
                except OSError as e:
                    log.debug("%s: read ended: %s", self.name, e)
                    break
                if not data:
                    break
                self._feed(data, time.monotonic())
        finally:
            t = time.monotonic()
            with self._cond:
                if self._pending:
                    self._append(self._pending, t)
                    self._pending = b""
                if not self._stop.is_set():
                    self.t_eof = t
                self._eof = True
                self._cond.notify_all()

    def _feed(self, data: bytes, t: float) -> None:
        with self._cond:
            *complete, self._pending = (self._pending + data).split(b"\n")
            for raw in complete:
                self._append(raw, t)
            self._cond.notify_all()

    def _append(self, raw: bytes, t: float) -> None:
        text = raw.rstrip(b"\r").decode("utf-8", errors="replace")
        if self._kernel_line is None and KERNEL_START.search(text):
            self._kernel_line = len(self._lines)
        self._lines.append(Line(t, text, self._stamp() if self._stamp is not None else None))
        self._line_markers.append(parse_marker(text, t))
        if self._log is not None:
            try:
                self._log.write(f"[{t - self.t0:9.3f}] {text}\n")
            except (OSError, ValueError) as e:
                log.warning("%s: cannot write console log: %s", self.name, e)
                self._log = None

    # -- inspection -----------------------------------------------------

    @property
    def lines(self) -> list[Line]:
        """A snapshot of all complete lines so far."""
        with self._cond:
            return list(self._lines)

    @property
    def eof(self) -> bool:
        """True once the stream has ended (the machine is gone) or close() was called."""
        with self._cond:
            return self._eof

    def mark(self) -> int:
        """Index of the next line; pass it as ``since_index`` to wait only for
        what the console prints from now on."""
        with self._cond:
            return len(self._lines)

    def markers(self, event: str | None = None, since_index: int = 0,
                until_index: int | None = None) -> list[Marker]:
        """All markers so far, or those of one event, in console order; those
        of lines `since_index` up to `until_index` (excluded) when given."""
        with self._cond:
            return [m for m in self._line_markers[since_index:until_index]
                    if m is not None and (event is None or m.event == event)]

    def tail(self, n: int = TAIL_LINES) -> str:
        """The last ``n`` lines (including an unfinished one) as text."""
        with self._cond:
            return self._tail_locked(n)

    def _tail_locked(self, n: int = TAIL_LINES) -> str:
        texts = [line.text for line in self._lines[-n:]]
        if self._pending:
            texts = texts[1:] if len(texts) >= n else texts
            texts.append(self._pending.decode("utf-8", errors="replace"))
        return "\n".join(texts)

    # -- waiting --------------------------------------------------------

    @overload
    def wait_for_marker(self, event: str, timeout: float, since_index: int | None = ...,
                        predicate: Callable[[Marker], bool] | None = ...,
                        check_failures: bool = ..., exit_ok: Literal[False] = ...) -> Marker:
        ...

    @overload
    def wait_for_marker(self, event: str, timeout: float, since_index: int | None = ...,
                        predicate: Callable[[Marker], bool] | None = ...,
                        check_failures: bool = ..., exit_ok: bool = ...) -> Marker | None:
        ...

    def wait_for_marker(self, event: str, timeout: float, since_index: int | None = None,
                        predicate: Callable[[Marker], bool] | None = None,
                        check_failures: bool = True, exit_ok: bool = False) -> Marker | None:
        """Wait at most ``timeout`` s for a ``BROWNOUT <event>`` marker.

        Looks at lines from ``since_index`` (default: the start of the console,
        so a marker printed before the call counts) and returns the first one
        for which ``predicate`` holds.  Raises BootFailure as soon as a fatal
        pattern shows (unless ``check_failures`` is False), MachineExited if the
        stream ends first (or returns None if ``exit_ok``), ConsoleTimeout."""
        awaited = f"marker 'BROWNOUT {event}'"
        if predicate is not None:
            awaited += " matching " + getattr(predicate, "__name__", "predicate")
        if since_index:
            awaited += f" from console line {since_index}"

        def match(i: int, line: Line) -> Marker | None:
            marker = self._line_markers[i]
            if marker is not None and marker.event == event and (
                    predicate is None or predicate(marker)):
                return marker
            return None

        return self._wait(match, awaited, timeout, since_index, check_failures, exit_ok)

    def wait_for_line(self, regex: str | re.Pattern[str], timeout: float,
                      since_index: int | None = None, check_failures: bool = True) -> Line:
        """Wait at most ``timeout`` s for a complete line that ``regex`` searches
        successfully; same start, failure and exit rules as wait_for_marker."""
        pattern = re.compile(regex) if isinstance(regex, str) else regex
        awaited = f"a console line matching {pattern.pattern!r}"

        def match(i: int, line: Line) -> Line | None:
            return line if pattern.search(line.text) else None

        found = self._wait(match, awaited, timeout, since_index, check_failures, False)
        assert found is not None
        return found

    def wait_eof(self, timeout: float) -> None:
        """Wait at most ``timeout`` s for the stream to end (the machine to exit)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._eof:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ConsoleTimeout("the console to close (machine exit)", timeout,
                                         self._tail_locked())
                self._cond.wait(remaining)

    def _wait(self, match: Callable[[int, Line], T | None], awaited: str, timeout: float,
              since_index: int | None, check_failures: bool, exit_ok: bool) -> T | None:
        deadline = time.monotonic() + timeout
        i = since_index or 0
        with self._cond:
            while True:
                while i < len(self._lines):
                    found = match(i, self._lines[i])
                    if found is not None:
                        return found
                    if check_failures:
                        reason = self._failure(i, self._lines[i].text, partial=False)
                        if reason:
                            raise BootFailure(reason, self._tail_locked())
                    i += 1
                if check_failures and self._pending:
                    text = self._pending.decode("utf-8", errors="replace")
                    reason = self._failure(len(self._lines), text, partial=True)
                    if reason:
                        raise BootFailure(reason, self._tail_locked())
                if self._eof:
                    tail = self._tail_locked()
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ConsoleTimeout(awaited, timeout, self._tail_locked())
                self._cond.wait(remaining)
        if exit_ok:
            return None
        # Outside the lock: the detail may wait briefly for QEMU's exit status.
        detail = self._exit_detail() if self._exit_detail is not None else ""
        raise MachineExited(tail, awaited=awaited, detail=detail)

    def _failure(self, index: int, text: str, partial: bool) -> str | None:
        in_uboot = self._kernel_line is None or index < self._kernel_line
        for pattern in self.failures:
            if partial and not pattern.partial:
                continue
            if pattern.uboot_only and not in_uboot:
                continue
            if pattern.regex.search(text):
                return f"{pattern.reason}: {text.strip()!r}"
        return None

    # -- input and shutdown ---------------------------------------------

    def send(self, text: str) -> None:
        """Write ``text`` to the console input (the guest's serial RX)."""
        if self._writer is None:
            raise HarnessError(f"{self.name}: no input stream to send to")
        data = text.encode()
        try:
            if isinstance(self._writer, int):
                os.write(self._writer, data)
            else:
                self._writer.write(data)
                self._writer.flush()
        except (BrokenPipeError, ValueError, OSError) as e:
            raise HarnessError(f"{self.name}: cannot send, console input closed: {e}") from e

    def close(self, timeout: float = 2.0) -> None:
        """Stop the reader thread and close the log file (the stream stays open)."""
        self._stop.set()
        self._thread.join(timeout)
        with self._cond:
            self._eof = True
            self._cond.notify_all()
            if self._log is not None:
                self._log.close()
                self._log = None

    def __enter__(self) -> Console:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
