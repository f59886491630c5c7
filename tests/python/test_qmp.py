"""QMP client: against a fake server speaking the protocol, and a real QEMU."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from harness import HarnessError, QMPError, QMPTimeout
from harness.machine.qmp import QMPClient

pytestmark = pytest.mark.timeout(60)

GREETING = {"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}},
                    "capabilities": ["oob"]}}
STOP_EVENT = {"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 2}}


def _line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj).encode() + b"\r\n"


class FakeQMP:
    """A QMP server on a unix socket, one client, scripted replies.

    Each command name maps to a function (request id) -> list of byte chunks,
    sent one send() each with a short pause between, so the client sees
    partial and combined reads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.received: list[dict[str, Any]] = []
        self.handlers: dict[str, Callable[[Any], list[bytes]]] = {
            "qmp_capabilities": lambda i: [_line({"return": {}, "id": i})],
            "query-status": lambda i: [_line({"return": {"status": "running",
                                                         "running": True}, "id": i})],
            "fail": lambda i: [_line({"error": {"class": "DeviceNotFound",
                                                "desc": "no such device"}, "id": i})],
            "with-event": lambda i: [_line(STOP_EVENT), _line({"return": {}, "id": i})],
            "event-and-reply-together": lambda i: [
                _line(STOP_EVENT) + _line({"return": [1, 2], "id": i})],
            "split": self._split,
            "event-later": lambda i: [_line({"return": {}, "id": i}), b"",
                                      _line({"event": "RESUME"})],
            "silent": lambda i: [],
            "hang-up": lambda i: [b"CLOSE"],
            "quit": lambda i: [b"CLOSE"],
        }
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._thread: threading.Thread | None = None

    @staticmethod
    def _split(msg_id: Any) -> list[bytes]:
        data = _line({"return": {"value": "x" * 100}, "id": msg_id})
        return [data[:30], data[30:]]

    def start(self, delay: float = 0.0, before_greeting: bytes = b"") -> FakeQMP:
        def serve() -> None:
            if delay:
                time.sleep(delay)
            self._server.bind(str(self.path))
            self._server.listen(1)
            conn, _ = self._server.accept()
            with conn:
                conn.sendall(before_greeting + _line(GREETING))
                buf = b""
                while True:
                    data = conn.recv(4096)
                    if not data:
                        return
                    buf += data
                    while b"\n" in buf:
                        raw, buf = buf.split(b"\n", 1)
                        request = json.loads(raw)
                        self.received.append(request)
                        for chunk in self.handlers[request["execute"]](request.get("id")):
                            if chunk == b"CLOSE":
                                return
                            if chunk:
                                conn.sendall(chunk)
                            time.sleep(0.05)

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.close()


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    # A short path: AF_UNIX paths are limited to 108 bytes, tmp_path can be longer.
    path = Path(tempfile.mkdtemp(prefix="qmp-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def server(sock_dir: Path) -> Iterator[FakeQMP]:
    fake = FakeQMP(sock_dir / "qmp.sock").start()
    yield fake
    fake.stop()


@pytest.fixture
def client(server: FakeQMP) -> Iterator[QMPClient]:
    with QMPClient(server.path, connect_timeout=5) as qmp:
        yield qmp


def test_greeting_and_capabilities(server: FakeQMP, client: QMPClient) -> None:
    assert client.greeting == GREETING
    assert server.received[0]["execute"] == "qmp_capabilities"


def test_execute_returns_the_return_value(client: QMPClient) -> None:
    assert client.execute("query-status") == {"status": "running", "running": True}


def test_error_reply_raises_with_class_and_desc(client: QMPClient) -> None:
    with pytest.raises(QMPError) as info:
        client.execute("fail", {"id": "nic0"})
    assert info.value.error_class == "DeviceNotFound"
    assert info.value.desc == "no such device"
    assert "fail" in str(info.value) and "DeviceNotFound" in str(info.value)
    assert isinstance(info.value, HarnessError)
    # The connection is still usable.
    assert client.execute("query-status")["status"] == "running"


def test_arguments_are_sent(server: FakeQMP, client: QMPClient) -> None:
    with pytest.raises(QMPError):
        client.execute("fail", {"id": "nic0"})
    assert server.received[-1]["arguments"] == {"id": "nic0"}


def test_event_before_reply_is_collected(client: QMPClient) -> None:
    assert client.execute("with-event") == {}
    assert [e["event"] for e in client.events] == ["STOP"]
    assert client.wait_event("STOP", timeout=1)["timestamp"]["seconds"] == 1


def test_event_and_reply_in_one_read(client: QMPClient) -> None:
    assert client.execute("event-and-reply-together") == [1, 2]
    assert [e["event"] for e in client.events] == ["STOP"]


def test_reply_split_across_reads(client: QMPClient) -> None:
    assert client.execute("split") == {"value": "x" * 100}


def test_wait_event_reads_until_the_event_arrives(client: QMPClient) -> None:
    client.execute("event-later")
    assert client.wait_event("RESUME", timeout=5)["event"] == "RESUME"
    with pytest.raises(QMPTimeout, match="event RESUME within 0.2 s"):
        client.wait_event("RESUME", timeout=0.2)  # each event is returned once


def test_reply_timeout(client: QMPClient) -> None:
    with pytest.raises(QMPTimeout, match="reply to 'silent' within 0.2 s"):
        client.execute("silent", timeout=0.2)


def test_server_hang_up_raises(client: QMPClient) -> None:
    with pytest.raises(QMPError, match="connection closed"):
        client.execute("hang-up")
    assert not client.connected
    with pytest.raises(QMPError, match="not connected"):
        client.execute("query-status")


def test_quit_tolerates_the_closed_connection(client: QMPClient) -> None:
    assert client.execute("quit") == {}


def test_connect_retries_until_the_socket_appears(sock_dir: Path) -> None:
    fake = FakeQMP(sock_dir / "qmp.sock").start(delay=0.3)
    try:
        with QMPClient(fake.path, connect_timeout=10) as qmp:
            assert qmp.execute("query-status")["running"] is True
    finally:
        fake.stop()


def test_an_event_before_the_greeting_is_kept(sock_dir: Path) -> None:
    resume = {"event": "RESUME", "timestamp": {"seconds": 1, "microseconds": 3}}
    fake = FakeQMP(sock_dir / "qmp.sock").start(before_greeting=_line(resume))
    try:
        with QMPClient(fake.path, connect_timeout=5) as qmp:
            assert qmp.greeting == GREETING
            assert qmp.wait_event("RESUME", timeout=1) == resume
            assert qmp.execute("query-status")["running"] is True
    finally:
        fake.stop()


def test_a_reply_before_the_greeting_is_refused(sock_dir: Path) -> None:
    fake = FakeQMP(sock_dir / "qmp.sock").start(before_greeting=_line({"return": {}}))
    try:
        qmp = QMPClient(fake.path)
        with pytest.raises(QMPError, match="unexpected greeting"):
            qmp.connect(timeout=5)
        assert not qmp.connected
    finally:
        fake.stop()


def test_connect_timeout_names_the_socket(sock_dir: Path) -> None:
    path = sock_dir / "absent.sock"
    start = time.monotonic()
    with pytest.raises(QMPTimeout, match=f"{path} did not accept a connection within 0.3 s"):
        QMPClient(path).connect(timeout=0.3)
    assert time.monotonic() - start < 5


def test_connect_fails_fast_when_qemu_is_gone(sock_dir: Path) -> None:
    qmp = QMPClient(sock_dir / "absent.sock", still_alive=lambda: False)
    with pytest.raises(QMPError, match="exited before accepting"):
        qmp.connect(timeout=30)


@pytest.mark.qemu
@pytest.mark.timeout(60)
def test_real_qemu_query_status_and_quit(sock_dir: Path) -> None:
    path = sock_dir / "qmp.sock"
    proc = subprocess.Popen(
        ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a57", "-display", "none",
         "-S", "-nic", "none", "-monitor", "none", "-serial", "none",
         "-qmp", f"unix:{path},server=on,wait=off"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True)
    try:
        with QMPClient(path, still_alive=lambda: proc.poll() is None) as qmp:
            assert qmp.greeting is not None and qmp.greeting["QMP"]["version"]["qemu"]["major"]
            assert qmp.execute("query-status")["status"] in ("prelaunch", "paused")
            with pytest.raises(QMPError) as info:
                qmp.execute("no-such-command")
            assert info.value.error_class == "CommandNotFound"
            qmp.execute("quit")
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()
