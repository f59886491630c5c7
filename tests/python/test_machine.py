"""Machine and PowerSwitch: real QEMU with Debian's U-Boot, no built images needed."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import pytest

from harness import BootFailure, ConsoleTimeout, HarnessError, HarnessTimeout, MachineExited
from harness.machine.power import PowerSwitch
from harness.machine.qemu import DEFAULT_BIOS, ENV_FLASH_SIZE, Disk, Machine, MachineConfig, UserNet, RELAY

# U-Boot with this env prints the marker about 0.5 s after power-on.
ENV_MARKER_THEN_WAIT = "bootdelay=0\nbootcmd=echo BROWNOUT test-boot n=1; sleep 30\n"
ENV_MARKER_THEN_RESET = "bootdelay=0\nbootcmd=echo BROWNOUT test-boot n=1; reset\n"


REPO = Path(__file__).resolve().parents[2]


def _console(machine: Machine):  # the console of a started machine
    assert machine.started
    return machine.console


# -- configuration (no process) ----------------------------------------------

def test_command_line(tmp_path: Path) -> None:
    a, b = tmp_path / "a.img", tmp_path / "b,c.qcow2"
    config = MachineConfig(disks=[Disk(a), Disk(b, format="qcow2", readonly=True),
                                  Disk(a, name="probe")], net=UserNet(8080))
    argv = config.args(Path("/run/qmp.sock"))
    joined = " ".join(argv)
    assert argv[:9] == ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a57",
                        "-m", "512", "-bios", str(DEFAULT_BIOS)]
    # A guest's flush need not reach the host's storage: a power cut ends QEMU, not the host.
    assert f"if=none,id=vda,file={a},format=raw,cache=unsafe " \
           f"-device virtio-blk-device,drive=vda" in joined
    assert f"id=vdb,file={tmp_path}/b,,c.qcow2,format=qcow2,cache=unsafe,readonly=on" \
           in joined
    assert joined.index("drive=vda") < joined.index("drive=vdb") < joined.index("drive=probe")
    assert ("user,id=net0,restrict=on,guestfwd=tcp:10.0.2.100:80-cmd:"
            f"{sys.executable} {RELAY} 127.0.0.1 8080 "
            "-device virtio-net-device,netdev=net0") in joined
    assert "-nic" not in argv and "pflash" not in joined
    for option in ("-no-reboot", "-display none", "-chardev stdio,id=console,mux=on",
                   "-serial chardev:console", "-monitor none",
                   "-qmp unix:/run/qmp.sock,server=on,wait=off"):
        assert option in joined


def test_a_logged_disk_passes_every_flush_on_to_its_log(tmp_path: Path) -> None:
    drive = Disk(tmp_path / "a.qcow2", format="qcow2", name="disk", write_log=tmp_path / "w.log").args()[1]
    assert "driver=blklogwrites,cache=writeback," in drive and "unsafe" not in drive


def test_command_line_without_net_with_env_flash(tmp_path: Path) -> None:
    flash = tmp_path / "flash.img"
    argv = MachineConfig(env_flash=flash, extra_args=["-s"]).args(Path("q.sock"))
    assert argv[argv.index("-nic") + 1] == "none"
    assert f"if=pflash,format=raw,unit=1,file={flash},readonly=on" in argv
    assert argv[-1] == "-s"


@pytest.mark.parametrize("change, message", [
    ({"qemu": "qemu-system-nonexistent"},
     "qemu-system-nonexistent not found on PATH: install it with 'apt-get install"),
    ({"bios": Path("/nonexistent/u-boot.bin")},
     "U-Boot firmware /nonexistent/u-boot.bin not found: run ./brownout build"),
    ({"env_flash": Path("/nonexistent/flash1.img")},
     "U-Boot env flash /nonexistent/flash1.img not found: run ./brownout build"),
    ({"disks": [Disk(Path("/nonexistent/ab.img"))]},
     "disk vda image /nonexistent/ab.img not found: run ./brownout build"),
], ids=["qemu", "bios", "env-flash", "disk"])
def test_missing_file_is_one_clear_line_before_any_process(
        tmp_path: Path, change: dict, message: str) -> None:
    machine = Machine(MachineConfig(**change), tmp_path / "run")
    with pytest.raises(HarnessError) as info:
        machine.start()
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)
    assert machine.pid is None and not machine.started
    assert not (tmp_path / "run" / "qemu.stderr").exists()


def test_env_flash_of_wrong_size_is_refused(tmp_path: Path) -> None:
    flash = tmp_path / "flash.img"
    flash.write_bytes(b"\0" * 4096)
    with pytest.raises(HarnessError, match="is 4096 bytes, QEMU virt needs exactly 64 MiB"):
        MachineConfig(env_flash=flash).check()


def test_duplicate_disk_names_are_refused(tmp_path: Path) -> None:
    disk = tmp_path / "d.img"
    disk.touch()
    with pytest.raises(HarnessError, match="'x' is used twice"):
        MachineConfig(disks=[Disk(disk, name="x"), Disk(disk, name="x")]).check()


# -- real QEMU -----------------------------------------------------------------

@pytest.mark.qemu
@pytest.mark.timeout(60)
def test_uboot_fall_through_is_a_boot_failure_at_once(
        tmp_path: Path, assert_reaped: Callable[[int], None]) -> None:
    # No env flash (bootdelay 2 s) and no disks: U-Boot tries its boot
    # targets, fails all and stops at its "=> " prompt.
    with Machine(MachineConfig(), tmp_path / "run").start() as machine:
        pid = machine.pid
        assert pid is not None and machine.alive
        start = time.monotonic()
        with pytest.raises(BootFailure) as info:
            _console(machine).wait_for_marker("heartbeat", timeout=40)
        assert time.monotonic() - start < 20  # far below the timeout
        assert "prompt" in info.value.reason
        assert "Hit any key to stop autoboot" in info.value.tail
        assert (tmp_path / "run" / "console.log").read_text().count("U-Boot 2023") >= 1
    assert not machine.alive and machine.returncode is not None
    assert_reaped(pid)


@pytest.mark.qemu
@pytest.mark.timeout(60)
def test_silent_firmware_times_out_with_a_clear_message(
        tmp_path: Path, assert_reaped: Callable[[int], None]) -> None:
    zero_bios = tmp_path / "zero.bin"
    zero_bios.write_bytes(bytes(64 * 1024))  # all zeros: the CPU spins, prints nothing
    with Machine(MachineConfig(bios=zero_bios)).start() as machine:
        pid = machine.pid
        assert pid is not None
        with pytest.raises(ConsoleTimeout) as info:
            _console(machine).wait_for_marker("heartbeat", timeout=3)
        message = str(info.value)
        assert "timed out after 3.0 s waiting for marker 'BROWNOUT heartbeat'" in message
        assert "(no console output)" in message
        assert machine.alive  # a timeout does not stop the machine; leaving the block does
        run_dir = machine.run_dir
    assert_reaped(pid)
    assert not run_dir.exists()  # its own temporary run dir is removed


@pytest.mark.qemu
@pytest.mark.timeout(60)
def test_context_manager_reaps_on_exception(
        tmp_path: Path, assert_reaped: Callable[[int], None]) -> None:
    with pytest.raises(RuntimeError, match="scenario failed"):
        with Machine(MachineConfig(), tmp_path / "run").start() as machine:
            pid = machine.pid
            assert pid is not None and machine.alive
            raise RuntimeError("scenario failed")
    assert_reaped(pid)
    machine.kill()  # idempotent, safe when already dead
    assert machine.returncode == -9


@pytest.mark.qemu
@pytest.mark.timeout(60)
def test_qmp_on_a_running_machine(assert_reaped: Callable[[int], None]) -> None:
    # A long run dir: the QMP socket moves to a short path (AF_UNIX limit).
    with tempfile.TemporaryDirectory(prefix="brownout-test-") as tmp:
        run_dir = Path(tmp) / ("long-" * 20)
        with Machine(MachineConfig(), run_dir).start() as machine:
            assert len(str(machine.qmp_socket)) <= 100
            status = machine.qmp().execute("query-status")
            assert status["status"] == "running"
            assert machine.qmp() is machine.qmp()
            pid = machine.pid
        assert pid is not None
        assert_reaped(pid)
        assert (run_dir / "console.log").exists()  # a given run dir is kept


@pytest.mark.qemu
@pytest.mark.timeout(60)
def test_qemu_may_have_transparent_huge_pages(tmp_path: Path) -> None:
    """Nothing takes them from QEMU: a booting machine's RAM faults in 2 MiB at a time."""
    with Machine(MachineConfig(), tmp_path / "run").start() as machine:
        status = Path(f"/proc/{machine.pid}/status").read_text()
    enabled = [line.split(":")[1].strip() for line in status.splitlines() if line.startswith("THP_enabled:")]
    if not enabled or not Path("/sys/kernel/mm/transparent_hugepage").is_dir():
        pytest.skip("this kernel has no transparent huge pages to give")
    assert enabled == ["1"]


@pytest.mark.qemu
@pytest.mark.timeout(60)
def test_qemu_failing_to_start_raises_machine_exited_with_its_stderr(tmp_path: Path) -> None:
    config = MachineConfig(extra_args=["-no-such-option"])
    with Machine(config, tmp_path / "run").start() as machine:
        with pytest.raises(MachineExited) as info:
            _console(machine).wait_for_marker("heartbeat", timeout=30)
    assert "QEMU exited with status 1" in str(info.value)
    assert "-no-such-option" in str(info.value)


@pytest.mark.qemu
@pytest.mark.timeout(60)
def test_power_on_cut_on_again(tmp_path: Path, make_env_flash: Callable[[str], Path],
                               assert_reaped: Callable[[int], None]) -> None:
    config = MachineConfig(env_flash=make_env_flash(ENV_MARKER_THEN_WAIT))
    with PowerSwitch(config, tmp_path / "boots") as power:
        first = power.on()
        marker = _console(first).wait_for_marker("test-boot", timeout=20)
        assert marker.fields["n"] == "1"
        assert first.t_power_on is not None and marker.t > first.t_power_on
        with pytest.raises(HarnessError, match="already on"):
            power.on()

        power.cut()
        assert not power.is_on
        assert first.returncode == -9
        assert first.pid is not None
        assert_reaped(first.pid)

        second = power.on()
        assert second is not first and second.pid != first.pid
        assert _console(second).wait_for_marker("test-boot", timeout=20).t > marker.t
        assert power.is_on
    assert not power.is_on
    assert second.pid is not None
    assert_reaped(second.pid)
    assert [(e.kind, e.boot) for e in power.events] == [
        ("on", 1), ("cut", 1), ("on", 2), ("cut", 2)]
    times = [e.t for e in power.events]
    assert times == sorted(times)
    assert (tmp_path / "boots" / "boot-001" / "console.log").read_text().count(
        "BROWNOUT test-boot n=1") == 1
    assert (tmp_path / "boots" / "boot-002" / "console.log").exists()


@pytest.mark.qemu
@pytest.mark.timeout(60)
def test_guest_reset_is_power_off_by_guest(tmp_path: Path,
                                           make_env_flash: Callable[[str], Path]) -> None:
    config = MachineConfig(env_flash=make_env_flash(ENV_MARKER_THEN_RESET))
    with PowerSwitch(config) as power:
        machine = power.on()
        assert power.off_by_guest(timeout=20) == 0
        assert not power.is_on
        # Lines printed just before the exit are all there.
        assert [m.event for m in _console(machine).markers()] == ["test-boot"]
        assert _console(machine).wait_for_marker("test-boot", timeout=1, exit_ok=True)
        assert _console(machine).wait_for_marker("heartbeat", timeout=1, exit_ok=True) is None
        with pytest.raises(HarnessError, match="power is off"):
            power.off_by_guest(timeout=1)
        # on() after an exit nobody waited for records that exit first.
        second = power.on()
        _console(second).wait_eof(timeout=20)
        third = power.on()
        assert third.pid != second.pid
    assert [(e.kind, e.boot, e.returncode) for e in power.events[:5]] == [
        ("on", 1, None), ("exit", 1, 0), ("on", 2, None), ("exit", 2, 0), ("on", 3, None)]
    # Boot 3 was either cut when the block ended or had already reset itself.
    assert (power.events[5].kind, power.events[5].boot) in (("cut", 3), ("exit", 3))


@pytest.mark.qemu
@pytest.mark.timeout(60)
def test_wait_exit_timeout_says_what_was_awaited(tmp_path: Path,
                                                 make_env_flash: Callable[[str], Path]) -> None:
    config = MachineConfig(env_flash=make_env_flash(ENV_MARKER_THEN_WAIT))
    with Machine(config).start() as machine:
        _console(machine).wait_for_marker("test-boot", timeout=20)
        with pytest.raises(HarnessTimeout) as info:
            machine.wait_exit(timeout=0.5)
    assert "waiting for QEMU" in str(info.value) and "to exit" in str(info.value)
    assert "BROWNOUT test-boot n=1" in str(info.value)


def test_env_flash_fixture_makes_a_64_mib_image(make_env_flash: Callable[[str], Path]) -> None:
    flash = make_env_flash(ENV_MARKER_THEN_WAIT)
    assert flash.stat().st_size == ENV_FLASH_SIZE
    assert b"bootcmd=echo BROWNOUT test-boot" in flash.read_bytes()[:4096]
    assert os.access(flash, os.R_OK)


SAFETY_NET_CHILD = """
import gc, os, sys
sys.path.insert(0, sys.argv[1])
from harness.machine.qemu import Machine, MachineConfig
dropped = Machine(MachineConfig()).start()
pid = dropped.pid
del dropped
gc.collect()
try:
    os.kill(pid, 0)
    print("dropped-alive", pid)
except ProcessLookupError:
    print("dropped-reaped", pid)
kept = Machine(MachineConfig()).start()
print("kept", kept.pid, flush=True)
"""


@pytest.mark.qemu
@pytest.mark.timeout(60)
def test_no_qemu_outlives_its_machine_or_the_interpreter(
        assert_reaped: Callable[[int], None]) -> None:
    result = subprocess.run([sys.executable, "-c", SAFETY_NET_CHILD, str(REPO)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    words = dict(line.split() for line in result.stdout.splitlines())
    assert "dropped-reaped" in words, result.stdout
    assert_reaped(int(words["dropped-reaped"]))
    assert_reaped(int(words["kept"]))


TERMINATED_RUN = """
import os, time
from pathlib import Path
from harness.machine.qemu import Machine, MachineConfig


def test_waits(tmp_path):
    with Machine(MachineConfig(), tmp_path / "run").start() as machine:
        Path(os.environ["QEMU_PID_FILE"]).write_text(str(machine.pid))
        time.sleep(60)
"""


@pytest.mark.qemu
@pytest.mark.timeout(90)
def test_a_test_run_killed_with_term_reaps_its_machines(
        tmp_path: Path, assert_reaped: Callable[[int], None]) -> None:
    (tmp_path / "test_waits.py").write_text(TERMINATED_RUN)
    pid_file = tmp_path / "qemu.pid"
    run = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-c", os.devnull, "-p", "no:cacheprovider",
                            "-p", "harness.fixtures", f"--rootdir={tmp_path}", "--basetemp", str(tmp_path / "base"),
                            str(tmp_path / "test_waits.py")],
                           cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO), "QEMU_PID_FILE": str(pid_file)},
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text():
            assert run.poll() is None and time.monotonic() < deadline, "the inner run started no machine"
            time.sleep(0.1)
        qemu = int(pid_file.read_text())
        run.terminate()
        output, _ = run.communicate(timeout=30)
    finally:
        run.kill()
    assert run.returncode != 0, output
    assert_reaped(qemu)


KILLED_HARNESS = """
import os, signal, sys
sys.path.insert(0, sys.argv[1])
from harness.machine.qemu import Machine, MachineConfig
machine = Machine(MachineConfig()).start()
print(machine.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.qemu
@pytest.mark.timeout(60)
def test_no_qemu_outlives_a_harness_killed_outright(live_group: Callable[[int], list[int]]) -> None:
    # SIGKILL runs no finalizer: QEMU goes because its parent did. Its group is
    # its own; a zombie left for init to reap is not running.
    result = subprocess.run([sys.executable, "-c", KILLED_HARNESS, str(REPO)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == -9, result.stderr
    qemu = int(result.stdout.split()[0])
    deadline = time.monotonic() + 10
    while live_group(qemu) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not live_group(qemu), f"QEMU {qemu} outlived the harness that started it"
