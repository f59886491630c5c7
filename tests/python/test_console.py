"""Console: marker parsing, line splitting, waits, failure recognition."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from harness import BootFailure, ConsoleTimeout, HarnessError, MachineExited
from harness.machine.console import Console, Line, Marker, parse_marker

pytestmark = pytest.mark.timeout(60)

# A sanity bound for "recognised at once": far below the 30 s wait timeout,
# far above any scheduling delay.
PROMPTLY = 5.0


# -- parse_marker ----------------------------------------------------------

def test_parse_marker_with_fields() -> None:
    m = parse_marker("BROWNOUT heartbeat seq=17 version=v1", 1.5)
    assert m == Marker("heartbeat", {"seq": "17", "version": "v1"}, 1.5,
                       "BROWNOUT heartbeat seq=17 version=v1")
    assert m.get("seq") == "17"
    assert m.get("absent") is None


def test_parse_marker_tolerates_trailing_cr() -> None:
    m = parse_marker("BROWNOUT phase name=deploy\r", 0.0)
    assert m is not None
    assert m.fields == {"name": "deploy"}
    assert m.raw == "BROWNOUT phase name=deploy"


def test_parse_marker_without_fields_and_with_empty_value() -> None:
    assert parse_marker("BROWNOUT boot", 0.0) == Marker("boot", {}, 0.0, "BROWNOUT boot")
    m = parse_marker("BROWNOUT update-start from= to=v2", 0.0)
    assert m is not None and m.fields == {"from": "", "to": "v2"}


def test_parse_marker_value_may_contain_equals_and_punctuation() -> None:
    m = parse_marker("BROWNOUT cut path=/dev/vda2 args=a=b,c:d", 0.0)
    assert m is not None and m.fields == {"path": "/dev/vda2", "args": "a=b,c:d"}


@pytest.mark.parametrize("text", [
    "BROWNOUTX boot",                    # prefix must be followed by a space
    "BROWNOUT",                          # no event
    "BROWNOUT ",                         # no event
    "BROWNOUT boot seq",                 # token without '='
    "BROWNOUT boot =v1",                 # empty key
    "BROWNOUT boot a=1 a=2",             # duplicate key
    "BROWNOUT seq=1",                    # event word missing
    " BROWNOUT boot",                    # not at line start
    "[  1.23] BROWNOUT boot",            # noise before the marker
    "brownout boot",                     # case matters
    "",
])
def test_parse_marker_rejects(text: str) -> None:
    assert parse_marker(text, 0.0) is None


def test_marker_is_immutable_and_hashable() -> None:
    m = parse_marker("BROWNOUT boot slot=a", 0.0)
    assert m is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.event = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        m.fields["slot"] = "b"  # type: ignore[index]
    assert hash(m) == hash(parse_marker("BROWNOUT boot slot=a", 0.0))
    # Journals serialise markers as dataclasses.
    assert json.loads(json.dumps(dataclasses.asdict(m))) == {
        "event": "boot", "fields": {"slot": "a"}, "t": 0.0, "raw": "BROWNOUT boot slot=a"}


# -- Console on a pipe -------------------------------------------------------

class Pipe:
    """The writing end of a pipe feeding a Console."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, data: str | bytes, delay: float = 0.0) -> None:
        if delay:
            time.sleep(delay)
        os.write(self.fd, data.encode() if isinstance(data, str) else data)

    def later(self, data: str | bytes, delay: float) -> threading.Thread:
        thread = threading.Thread(target=self.write, args=(data, delay), daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        fd, self.fd = self.fd, -1  # before closing: another thread may close too
        if fd >= 0:
            os.close(fd)


@pytest.fixture
def pipe_console(tmp_path: Path) -> Iterator[tuple[Pipe, Console]]:
    r, w = os.pipe()
    pipe = Pipe(w)
    console = Console(r, log_path=tmp_path / "console.log", name="test-console")
    yield pipe, console
    pipe.close()
    console.close()
    os.close(r)


def test_lines_are_split_and_timestamped(pipe_console: tuple[Pipe, Console]) -> None:
    pipe, console = pipe_console
    t_before = time.monotonic()
    pipe.write("U-Boot 2023.01\r\nDRAM:  512 MiB\r\n")
    pipe.write("partial ", delay=0.05)
    pipe.write("line\r\n", delay=0.05)
    pipe.write(b"bad \xff\xfe bytes\n", delay=0.05)
    console.wait_for_line("bad", timeout=10)
    lines = console.lines
    assert [line.text for line in lines] == [
        "U-Boot 2023.01", "DRAM:  512 MiB", "partial line", "bad \ufffd\ufffd bytes"]
    times = [line.t for line in lines]
    assert times == sorted(times)
    assert t_before <= times[0] < times[2] < times[3] <= time.monotonic()


def test_each_line_carries_the_stamp_read_as_it_completes(tmp_path: Path) -> None:
    r, w = os.pipe()
    pipe, writes = Pipe(w), [0]
    with Console(r, stamp=lambda: writes[0]) as console:
        pipe.write("U-Boot 2023.01\n")
        console.wait_for_line("U-Boot", timeout=10)
        writes[0] = 3                   # the disk took writes before the next line was printed
        pipe.write("BROWNOUT phase name=bootloader state=end\nBROWNOUT reboot\n")
        console.wait_for_line("reboot", timeout=10)
        assert [line.stamp for line in console.lines] == [0, 3, 3]
    pipe.close()
    os.close(r)
    assert Line(1.0, "plain").stamp is None


def test_final_partial_line_is_kept_at_eof(pipe_console: tuple[Pipe, Console]) -> None:
    pipe, console = pipe_console
    pipe.write("one\ntwo without newline")
    pipe.close()
    console.wait_eof(timeout=10)
    assert [line.text for line in console.lines] == ["one", "two without newline"]


def test_log_file_has_relative_timestamps(tmp_path: Path,
                                          pipe_console: tuple[Pipe, Console]) -> None:
    pipe, console = pipe_console
    pipe.write("hello\nBROWNOUT boot n=1\n")
    console.wait_for_marker("boot", timeout=10)
    log_lines = (tmp_path / "console.log").read_text().splitlines()
    assert len(log_lines) == 2
    assert log_lines[0].startswith("[") and log_lines[0].endswith("] hello")
    assert float(log_lines[1][1:].split("]")[0]) >= 0.0


def test_wait_for_marker_returns_the_matching_one(pipe_console: tuple[Pipe, Console]) -> None:
    pipe, console = pipe_console
    pipe.write("BROWNOUT heartbeat seq=1\nnoise\nBROWNOUT phase name=pull\n")
    pipe.later("BROWNOUT heartbeat seq=2\nBROWNOUT heartbeat seq=3\n", delay=0.1)
    first = console.wait_for_marker("heartbeat", timeout=10)
    assert first.fields["seq"] == "1"  # printed before the wait: still counts
    third = console.wait_for_marker("heartbeat", timeout=10,
                                    predicate=lambda m: m.get("seq") == "3")
    assert third.fields["seq"] == "3"
    assert third.t >= first.t
    assert [m.get("seq") for m in console.markers("heartbeat")] == ["1", "2", "3"]
    assert [m.event for m in console.markers()] == ["heartbeat", "phase", "heartbeat",
                                                    "heartbeat"]


def test_since_index_skips_earlier_markers(pipe_console: tuple[Pipe, Console]) -> None:
    pipe, console = pipe_console
    pipe.write("BROWNOUT boot n=1\n")
    console.wait_for_marker("boot", timeout=10)
    mark = console.mark()
    pipe.later("BROWNOUT boot n=2\n", delay=0.1)
    assert console.wait_for_marker("boot", timeout=10, since_index=mark).fields["n"] == "2"


def test_timeout_says_what_was_awaited_and_shows_tail(
        pipe_console: tuple[Pipe, Console]) -> None:
    pipe, console = pipe_console
    pipe.write("".join(f"line {i}\n" for i in range(30)))
    console.wait_for_line("line 29", timeout=10)
    with pytest.raises(ConsoleTimeout) as info:
        console.wait_for_marker("heartbeat", timeout=0.3)
    message = str(info.value)
    assert "marker 'BROWNOUT heartbeat'" in message
    assert "0.3 s" in message
    assert "line 29" in message and "line 10" in message and "line 9\n" not in message
    assert info.value.tail.splitlines() == [f"line {i}" for i in range(10, 30)]
    assert isinstance(info.value, HarnessError)


FATAL_OUTPUT = [
    ("[    1.234567] Kernel panic - not syncing: VFS: Unable to mount root fs\n",
     "kernel panic"),
    ("Hit any key to stop autoboot:  0\nNo ethernet found.\n=> ", "prompt"),
    ("## Executing script at 40200000\nSCRIPT FAILED: continuing...\n", "script failed"),
    ("BROWNOUT initramfs-error reason=root-not-found root=/dev/vda3\n", "could not mount the root"),
    ("Wrong Image Format for bootm command\n", "wrong image format"),
    ("Bad Linux ARM64 Image magic!\n", "bad kernel image"),
    ("Unknown command 'bootcount' - try 'help'\n", "unknown command"),
    ("ERROR: Did not find a cmdline Flattened Device Tree\n", "u-boot error"),
    ("BROWNOUT uboot-error reason=no-bootable-slot\n", "boot script gave up"),
]


def test_a_bad_env_copy_is_not_a_boot_failure(pipe_console: tuple[Pipe, Console]) -> None:
    # The boot script tries each env copy; a torn copy's CRC error is expected.
    pipe, console = pipe_console
    pipe.write("U-Boot 2023.01\n## Error: bad CRC, import failed\n")
    pipe.later("BROWNOUT heartbeat version=1 seq=0\n", delay=0.1)
    assert console.wait_for_marker("heartbeat", timeout=10).get("seq") == "0"


@pytest.mark.parametrize("output, reason", FATAL_OUTPUT,
                         ids=[reason.replace(" ", "-") for _, reason in FATAL_OUTPUT])
def test_fatal_output_raises_boot_failure_at_once(pipe_console: tuple[Pipe, Console],
                                                  output: str, reason: str) -> None:
    pipe, console = pipe_console
    pipe.write("U-Boot 2023.01\n")
    pipe.later(output, delay=0.1)
    start = time.monotonic()
    with pytest.raises(BootFailure) as info:
        console.wait_for_marker("heartbeat", timeout=30)
    assert time.monotonic() - start < PROMPTLY
    assert reason in info.value.reason.lower()
    assert "U-Boot 2023.01" in info.value.tail
    assert "U-Boot 2023.01" in str(info.value)


def test_uboot_patterns_do_not_apply_after_kernel_start(
        pipe_console: tuple[Pipe, Console]) -> None:
    pipe, console = pipe_console
    pipe.write("Starting kernel ...\n\nERROR: something in userspace\n=> not a prompt\n"
               "BROWNOUT heartbeat seq=1\n")
    assert console.wait_for_marker("heartbeat", timeout=10).fields["seq"] == "1"


def test_awaited_line_wins_over_failure_pattern(pipe_console: tuple[Pipe, Console]) -> None:
    pipe, console = pipe_console
    pipe.write("BROWNOUT uboot-error reason=test\n")
    marker = console.wait_for_marker("uboot-error", timeout=10)
    assert marker.fields["reason"] == "test"


def test_check_failures_off(pipe_console: tuple[Pipe, Console]) -> None:
    pipe, console = pipe_console
    pipe.write("SCRIPT FAILED: continuing...\nBROWNOUT boot n=1\n")
    assert console.wait_for_marker("boot", timeout=10, check_failures=False).event == "boot"
    with pytest.raises(BootFailure):
        console.wait_for_marker("boot", timeout=10)


def test_eof_raises_machine_exited(pipe_console: tuple[Pipe, Console]) -> None:
    pipe, console = pipe_console
    pipe.write("last words\n")
    threading.Timer(0.1, pipe.close).start()
    start = time.monotonic()
    with pytest.raises(MachineExited) as info:
        console.wait_for_marker("heartbeat", timeout=30)
    assert time.monotonic() - start < PROMPTLY
    assert "last words" in str(info.value)
    assert "marker 'BROWNOUT heartbeat'" in str(info.value)


def test_eof_with_exit_ok_returns_none(pipe_console: tuple[Pipe, Console]) -> None:
    pipe, console = pipe_console
    pipe.write("BROWNOUT boot n=1\n")
    pipe.close()
    assert console.wait_for_marker("heartbeat", timeout=30, exit_ok=True) is None
    # A marker printed before the end is still found.
    assert console.wait_for_marker("boot", timeout=30, exit_ok=True) is not None


def test_wait_for_line(pipe_console: tuple[Pipe, Console]) -> None:
    pipe, console = pipe_console
    pipe.later("Linux version 6.1.0-28-arm64\n", delay=0.1)
    line = console.wait_for_line(r"Linux version (\S+)", timeout=10)
    assert isinstance(line, Line)
    assert line.text.endswith("6.1.0-28-arm64")
    with pytest.raises(ConsoleTimeout, match="a console line matching 'login:'"):
        console.wait_for_line("login:", timeout=0.2)


def test_tail_includes_unfinished_line(pipe_console: tuple[Pipe, Console]) -> None:
    pipe, console = pipe_console
    pipe.write("a\nb\nc\n=> ")
    console.wait_for_line("c", timeout=10)
    deadline = time.monotonic() + 10
    while not console.tail().endswith("=> ") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert console.tail(3) == "b\nc\n=> "


def test_send_writes_to_the_input(pipe_console: tuple[Pipe, Console]) -> None:
    _, console = pipe_console
    with pytest.raises(HarnessError, match="no input"):
        console.send("x")
    serial_r, serial_w = os.pipe()
    input_r, input_w = os.pipe()
    try:
        with Console(serial_r, writer=input_w) as talker:
            talker.send("reset\n")
            assert os.read(input_r, 100) == b"reset\n"
    finally:
        for fd in (serial_r, serial_w, input_r, input_w):
            os.close(fd)
