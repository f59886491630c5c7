"""A small QMP (QEMU Machine Protocol) client over a unix socket.

QMP is line-delimited JSON: the server greets with ``{"QMP": ...}``, the client
sends ``qmp_capabilities``, then each ``{"execute": ..., "id": n}`` gets one
``{"return": ...}`` or ``{"error": {"class": ..., "desc": ...}}`` carrying the
same id.  Asynchronous ``{"event": ...}`` objects may arrive at any time, also
between a command and its reply; they are collected in ``events``.

The client is synchronous: replies and events are read on the caller's thread,
inside ``execute`` and ``wait_event``.  A lock makes it safe to share.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable

from ..errors import QMPError, QMPTimeout

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
_RETRY_INTERVAL = 0.05


class QMPClient:
    """QMP client.  Use as a context manager, or call connect() and close()."""

    def __init__(self, path: Path | str, *, connect_timeout: float = DEFAULT_TIMEOUT,
                 still_alive: Callable[[], bool] | None = None) -> None:
        """``still_alive``, if given, is polled while connecting so that a QEMU
        that died before opening its socket fails at once, not at the deadline."""
        self.path = Path(path)
        self.connect_timeout = connect_timeout
        self.greeting: dict[str, Any] | None = None
        self.events: list[dict[str, Any]] = []
        self._still_alive = still_alive
        self._sock: socket.socket | None = None
        self._buf = b""
        self._next_id = 1
        self._returned_events: set[int] = set()
        self._lock = threading.RLock()

    # -- connection -----------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def connect(self, timeout: float | None = None) -> dict[str, Any]:
        """Connect, read the greeting and negotiate capabilities; return the greeting.

        Retries until the socket exists and accepts, for at most ``timeout`` s."""
        timeout = self.connect_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self._lock:
            if self._sock is not None:
                assert self.greeting is not None
                return self.greeting
            sock = self._connect_socket(deadline, timeout)
            self._sock = sock
            try:
                greeting = self._read_greeting(deadline, timeout)
                self.greeting = greeting
                self.execute("qmp_capabilities",
                             timeout=max(deadline - time.monotonic(), 0.1))
            except BaseException:
                self.close()
                raise
            log.debug("QMP connected to %s", self.path)
            return greeting

    def _read_greeting(self, deadline: float, timeout: float) -> dict[str, Any]:
        # QEMU can write an event emitted while it accepts the connection before
        # its greeting (seen: RESUME from a machine starting without -S).
        while True:
            msg = self._read_message(deadline, "QMP greeting", timeout)
            if "QMP" in msg:
                return msg
            if "event" not in msg:
                raise QMPError(f"QMP {self.path}: unexpected greeting {msg!r}")
            self._add_event(msg)

    def _connect_socket(self, deadline: float, timeout: float) -> socket.socket:
        last_error: OSError | None = None
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(max(deadline - time.monotonic(), 0.01))
                sock.connect(str(self.path))
                return sock
            except (FileNotFoundError, ConnectionRefusedError, socket.timeout) as e:
                sock.close()
                last_error = e
            except OSError:
                sock.close()
                raise
            if self._still_alive is not None and not self._still_alive():
                raise QMPError(f"QMP socket {self.path}: QEMU exited before accepting "
                               f"a connection")
            if time.monotonic() >= deadline:
                raise QMPTimeout(f"QMP socket {self.path} did not accept a connection "
                                 f"within {timeout:.1f} s ({last_error})")
            time.sleep(_RETRY_INTERVAL)

    def close(self) -> None:
        """Close the connection (idempotent).  Collected events stay readable."""
        with self._lock:
            if self._sock is not None:
                try:
                    self._sock.close()
                finally:
                    self._sock = None
                    self._buf = b""

    def __enter__(self) -> QMPClient:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- commands and events --------------------------------------------

    def execute(self, command: str, arguments: dict[str, Any] | None = None,
                timeout: float = DEFAULT_TIMEOUT) -> Any:
        """Run a command and return its ``return`` value (a dict for most commands,
        a list for query-blockstats and the like).

        Raises QMPError with the QMP error class and description if the command
        fails, QMPTimeout if no reply arrives within ``timeout`` s.  ``quit`` also
        succeeds when QEMU closes the socket before replying."""
        deadline = time.monotonic() + timeout
        with self._lock:
            if self._sock is None:
                raise QMPError(f"QMP {self.path}: not connected (execute {command!r})",
                               command=command)
            msg_id = self._next_id
            self._next_id += 1
            request: dict[str, Any] = {"execute": command, "id": msg_id}
            if arguments:
                request["arguments"] = arguments
            try:
                self._sock.sendall(json.dumps(request).encode() + b"\n")
            except OSError as e:
                raise QMPError(f"QMP {self.path}: sending {command!r} failed: {e}",
                               command=command) from e
            while True:
                try:
                    msg = self._read_message(deadline, f"reply to {command!r}", timeout)
                except QMPError as e:
                    if command == "quit" and not isinstance(e, QMPTimeout):
                        return {}
                    raise
                if "event" in msg:
                    self._add_event(msg)
                    continue
                if msg.get("id") != msg_id:
                    log.warning("QMP %s: ignoring unexpected message %r", self.path, msg)
                    continue
                if "error" in msg:
                    err = msg["error"]
                    cls, desc = err.get("class", "?"), err.get("desc", "")
                    raise QMPError(f"QMP command {command!r} failed: {cls}: {desc}",
                                   error_class=cls, desc=desc, command=command)
                return msg.get("return")

    def wait_event(self, name: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """Return the first event called ``name`` not returned by an earlier call,
        reading from the socket for at most ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for i, event in enumerate(self.events):
                    if event.get("event") == name and i not in self._returned_events:
                        self._returned_events.add(i)
                        return event
                if self._sock is None:
                    raise QMPError(f"QMP {self.path}: not connected (waiting for event "
                                   f"{name})")
                self._add_event(self._read_message(deadline, f"event {name}",
                                                   timeout=timeout))

    def _add_event(self, msg: dict[str, Any]) -> None:
        if "event" not in msg:
            log.warning("QMP %s: ignoring unexpected message %r", self.path, msg)
            return
        log.debug("QMP event %s", msg.get("event"))
        self.events.append(msg)

    # -- framing --------------------------------------------------------

    def _read_message(self, deadline: float, awaited: str,
                      timeout: float) -> dict[str, Any]:
        """Read one JSON object (one line), buffering partial and extra data."""
        assert self._sock is not None
        while True:
            line, sep, rest = self._buf.partition(b"\n")
            if sep:
                self._buf = rest
                if not line.strip():
                    continue
                try:
                    msg = json.loads(line)
                except ValueError as e:
                    raise QMPError(f"QMP {self.path}: bad JSON {line[:200]!r}: {e}") from e
                if not isinstance(msg, dict):
                    raise QMPError(f"QMP {self.path}: expected an object, got {msg!r}")
                return msg
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise QMPTimeout(f"QMP {self.path}: no {awaited} within {timeout:.1f} s")
            self._sock.settimeout(remaining)
            try:
                data = self._sock.recv(65536)
            except socket.timeout:
                continue
            except OSError as e:
                self.close()
                raise QMPError(f"QMP {self.path}: connection lost waiting for "
                               f"{awaited}: {e}") from e
            if not data:
                self.close()
                raise QMPError(f"QMP {self.path}: connection closed by QEMU while waiting "
                               f"for {awaited}")
            self._buf += data
