"""The update server: ranges, faults, byte counts, loopback only."""
from __future__ import annotations

import http.client
import os
import time
from pathlib import Path

import pytest

from harness import HarnessError
from harness.server import Fault, UpdateServer

pytestmark = pytest.mark.timeout(60)

PAYLOAD = os.urandom(300_000)


@pytest.fixture
def server(tmp_path: Path):
    (tmp_path / "ab").mkdir()
    (tmp_path / "ab/payload").write_bytes(PAYLOAD)
    (tmp_path / "ab/manifest").write_text("version=2\n")
    with UpdateServer(tmp_path) as s:
        yield s


def served_faults(server: UpdateServer, count: int) -> list[str]:
    """The server logs a request just after its last byte: wait for it, bounded."""
    deadline = time.monotonic() + 5
    while len(server.served) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return [s.fault for s in server.served]


def get(server: UpdateServer, path: str, headers: dict[str, str] | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    resp = conn.getresponse()
    try:
        body = resp.read()
    except http.client.IncompleteRead as e:
        body = e.partial
    conn.close()
    return resp, body


def test_serves_files_and_counts_bytes(server: UpdateServer) -> None:
    resp, body = get(server, "/ab/payload")
    assert resp.status == 200 and body == PAYLOAD
    assert server.bytes_served == len(PAYLOAD)
    served_faults(server, 1)
    server.reset_counters()
    assert server.bytes_served == 0 and server.served == []


def test_missing_file_and_escape_are_404(server: UpdateServer) -> None:
    assert get(server, "/ab/nothing")[0].status == 404
    assert get(server, "/../../etc/passwd")[0].status == 404


def test_range_resumes_where_asked(server: UpdateServer) -> None:
    resp, body = get(server, "/ab/payload", {"Range": "bytes=1000-"})
    assert resp.status == 206
    assert resp.getheader("Content-Range") == f"bytes 1000-{len(PAYLOAD) - 1}/{len(PAYLOAD)}"
    assert body == PAYLOAD[1000:]


def test_range_past_the_end_is_416(server: UpdateServer) -> None:
    assert get(server, "/ab/payload", {"Range": f"bytes={len(PAYLOAD)}-"})[0].status == 416


def test_close_after_n_bytes_then_next_request_is_clean(server: UpdateServer) -> None:
    server.arm(Fault("close", pattern="/ab/payload", after_bytes=100_000))
    _, body = get(server, "/ab/payload")
    assert body == PAYLOAD[:100_000]
    _, body = get(server, "/ab/payload")
    assert body == PAYLOAD
    assert served_faults(server, 2) == ["close", ""]


def test_flip_changes_exactly_one_byte(server: UpdateServer) -> None:
    server.arm(Fault("flip", after_bytes=12345))
    _, body = get(server, "/ab/payload")
    diff = [i for i, (a, b) in enumerate(zip(body, PAYLOAD)) if a != b]
    assert diff == [12345] and len(body) == len(PAYLOAD)


def test_truncate_sends_a_short_body(server: UpdateServer) -> None:
    server.arm(Fault("truncate", after_bytes=5000))
    resp, body = get(server, "/ab/payload")
    assert resp.getheader("Content-Length") == str(len(PAYLOAD)) and body == PAYLOAD[:5000]


def test_fault_pattern_only_hits_matching_paths(server: UpdateServer) -> None:
    server.arm(Fault("close", pattern="/ab/payload", after_bytes=0))
    _, body = get(server, "/ab/manifest")
    assert body == b"version=2\n"
    _, body = get(server, "/ab/payload")
    assert body == b""


def test_stall_holds_then_drops(server: UpdateServer) -> None:
    stall_s = 1.0
    server.arm(Fault("stall", after_bytes=1000, stall_s=stall_s))
    began = time.monotonic()
    # Returns at the drop; a connection held for good would end in get()'s 10 s timeout.
    _, body = get(server, "/ab/payload")
    held = time.monotonic() - began
    assert body == PAYLOAD[:1000]
    # The server gets the request after `began` and sleeps stall_s after its
    # last byte before it closes: no drop can come sooner.
    assert held >= stall_s
    assert served_faults(server, 1) == ["stall"]
    assert server.served[0].bytes == 1000


def test_throttle_still_delivers_everything(server: UpdateServer) -> None:
    server.arm(Fault("throttle", rate_bps=2_000_000))
    _, body = get(server, "/ab/payload")
    assert body == PAYLOAD


def test_listens_on_loopback_only(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="loopback only"):
        UpdateServer(tmp_path, host="0.0.0.0")


def test_bad_fault_is_refused() -> None:
    with pytest.raises(HarnessError):
        Fault("explode")  # type: ignore[arg-type]
    with pytest.raises(HarnessError):
        Fault("throttle")
