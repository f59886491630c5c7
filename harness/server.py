"""The update server: static files over HTTP on 127.0.0.1, with network faults.

Guests reach it only through QEMU's `guestfwd`; it never listens beyond the
loopback interface. Faults are armed per path pattern and apply to the next
`count` matching GET requests: close the connection after N bytes, stall,
truncate (a clean but short response), flip one byte, or throttle to a rate.
Every byte sent is counted, per path, so a trial knows what it downloaded.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import ipaddress
import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal

from . import HarnessError

log = logging.getLogger(__name__)

FaultKind = Literal["close", "stall", "truncate", "flip", "throttle"]
CHUNK = 64 * 1024
MAX_STALL_S = 120.0
RANGE_RE = re.compile(r"^bytes=(\d+)-(\d*)$")


@dataclass
class Fault:
    """`close`: drop the connection after `after_bytes` body bytes.
    `stall`: send `after_bytes`, then nothing for `stall_s`, then drop.
    `truncate`: announce the full length, send `after_bytes`, end cleanly.
    `flip`: invert the byte at body offset `after_bytes`.
    `throttle`: send at most `rate_bps` bytes per second."""
    kind: FaultKind
    pattern: str = "*"
    after_bytes: int = 0
    stall_s: float = 10.0
    rate_bps: int = 0
    count: int = 1               # requests it applies to; 0 = every request

    def __post_init__(self) -> None:
        if self.kind not in ("close", "stall", "truncate", "flip", "throttle"):
            raise HarnessError(f"unknown fault kind '{self.kind}'")
        if self.kind == "throttle" and self.rate_bps <= 0:
            raise HarnessError("a throttle fault needs rate_bps > 0")
        if not 0 <= self.stall_s <= MAX_STALL_S:
            raise HarnessError(f"stall_s must be within 0..{MAX_STALL_S}")


@dataclass(frozen=True)
class Served:
    path: str
    status: int
    offset: int
    bytes: int
    fault: str = ""


@dataclass
class _State:
    faults: list[Fault] = field(default_factory=list)
    served: list[Served] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args: object) -> None:
        log.debug("server: " + fmt, *args)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _resolve(self) -> Path | None:
        rel = self.path.split("?", 1)[0].lstrip("/")
        prefix, _, rest = rel.partition("/")
        if "" in self.server.roots:
            prefix, rest = "", rel
        root = self.server.roots.get(prefix)
        if root is None:
            return None
        target = (root / rest).resolve()
        if root != target and root not in target.parents:
            return None
        return target if target.is_file() else None

    def _serve(self, body: bool) -> None:
        target = self._resolve()
        if target is None:
            self._plain(404, "not found")
            return
        size = target.stat().st_size
        start, end, status = 0, size - 1, 200
        requested = self.headers.get("Range")
        if requested:
            m = RANGE_RE.match(requested.strip())
            if not m or int(m.group(1)) >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                self._record(416, 0, 0)
                return
            start = int(m.group(1))
            end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            status = 206
        length = end - start + 1
        fault = self.server.take_fault(self.path) if body else None
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        if fault and fault.kind in ("close", "stall", "truncate"):
            self.send_header("Connection", "close")
        self.end_headers()
        sent = self._send_body(target, start, length, fault) if body else 0
        self._record(status, start, sent, fault.kind if fault else "")
        if fault and fault.kind in ("close", "stall", "truncate"):
            self.close_connection = True

    def _send_body(self, target: Path, start: int, length: int, fault: Fault | None) -> int:
        limit = length
        if fault and fault.kind in ("close", "stall", "truncate"):
            limit = min(length, fault.after_bytes)
        sent = 0
        began = time.monotonic()
        try:
            with open(target, "rb") as f:
                f.seek(start)
                while sent < limit:
                    chunk = bytearray(f.read(min(CHUNK, limit - sent)))
                    if not chunk:
                        break
                    if fault and fault.kind == "flip" and sent <= fault.after_bytes < sent + len(chunk):
                        chunk[fault.after_bytes - sent] ^= 0xFF
                    # Counted before the write: a client can have the bytes
                    # before write() returns here.
                    self.server.count(len(chunk))
                    try:
                        self.wfile.write(chunk)
                    except OSError:
                        self.server.count(-len(chunk))
                        raise
                    sent += len(chunk)
                    if fault and fault.kind == "throttle":
                        ahead = sent / fault.rate_bps - (time.monotonic() - began)
                        if ahead > 0:
                            time.sleep(ahead)
            self.wfile.flush()
            if fault and fault.kind == "stall":
                time.sleep(fault.stall_s)
        except (BrokenPipeError, ConnectionResetError):
            log.debug("server: client went away after %d bytes of %s", sent, self.path)
        return sent

    def _plain(self, status: int, text: str) -> None:
        data = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self._record(status, 0, 0)

    def _record(self, status: int, offset: int, sent: int, fault: str = "") -> None:
        self.server.record(Served(self.path, status, offset, sent, fault))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], roots: dict[str, Path], state: _State) -> None:
        self.roots = roots
        self.state = state
        self.bytes_total = 0
        super().__init__(address, _Handler)

    def take_fault(self, path: str) -> Fault | None:
        with self.state.lock:
            for fault in self.state.faults:
                if fnmatch.fnmatch(path, fault.pattern):
                    if fault.count > 0:
                        fault.count -= 1
                        if fault.count == 0:
                            self.state.faults.remove(fault)
                    return fault
        return None

    def count(self, n: int) -> None:
        with self.state.lock:
            self.bytes_total += n

    def record(self, served: Served) -> None:
        with self.state.lock:
            self.state.served.append(served)


class UpdateServer:
    """Serves directories at http://127.0.0.1:<port>/ until closed: `roots` maps a
    first path segment to a directory (each method's payloads come from its own
    build step); a single directory is served as the whole tree."""

    def __init__(self, roots: Path | Mapping[str, Path], host: str = "127.0.0.1", port: int = 0) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise HarnessError(f"the update server listens on loopback only, not {host}")
        if not isinstance(roots, Mapping):
            roots = {"": Path(roots)}
        resolved = {prefix: Path(d).resolve() for prefix, d in roots.items()}
        for d in resolved.values():
            if not d.is_dir():
                raise HarnessError(f"update server root {d} is not a directory: run './brownout build'")
        root = ", ".join(f"/{p}/ = {d}" for p, d in resolved.items())
        self._state = _State()
        self._server = _Server((host, port), resolved, self._state)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="brownout-update-server", daemon=True)
        self._thread.start()
        log.info("update server on http://%s:%d/ serving %s", host, self.port, root)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def arm(self, fault: Fault) -> None:
        """Arm a copy: the server counts its uses down, the caller's stays as given."""
        with self._state.lock:
            self._state.faults.append(dataclasses.replace(fault))

    def disarm(self) -> None:
        with self._state.lock:
            self._state.faults.clear()

    @property
    def bytes_served(self) -> int:
        with self._state.lock:
            return self._server.bytes_total

    @property
    def served(self) -> list[Served]:
        with self._state.lock:
            return list(self._state.served)

    def reset_counters(self) -> None:
        with self._state.lock:
            self._server.bytes_total = 0
            self._state.served.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "UpdateServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
