"""One emulated device: the QEMU process, its configuration and its run directory.

A Machine runs ``qemu-system-aarch64 -M virt`` with U-Boot as firmware.  The
serial port is QEMU's stdio (read by a Console), QMP listens on a unix socket
in the run directory.  QEMU runs in its own process group and is always killed
and reaped: by kill(), by the context manager, and by a finalizer that also
runs at interpreter exit; if the harness ends without any of those (SIGKILL),
the kernel kills QEMU (its parent-death signal).
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .console import Console
from ..errors import HarnessError, HarnessTimeout
from .qmp import QMPClient

log = logging.getLogger(__name__)

DEFAULT_QEMU = "qemu-system-aarch64"
RELAY = Path(__file__).resolve().with_name("relay.py")
DEFAULT_BIOS = Path("/usr/lib/u-boot/qemu_arm64/u-boot.bin")
ENV_FLASH_SIZE = 64 * 1024 * 1024  # the virt machine's pflash banks are 64 MiB
REAP_TIMEOUT = 10.0
# AF_UNIX paths are limited to 108 bytes including the NUL.
_MAX_SOCKET_PATH = 100
_ID_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
# On QEMU's multiplexed console, Ctrl-A b is a serial break; the guest's
# kernel takes the character after a break as a magic SysRq key.
SERIAL_BREAK = "\x01b"
# SysRq's help, the answer to a key it has no action for ("h"): the last line
# of a task listing asked for before it.
SYSRQ_HELP = re.compile(r"sysrq: HELP : ")
TASK_LIST_TIMEOUT = 30.0


PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None)


def _child_settings(parent: int) -> None:
    """QEMU's preexec_fn, between fork and exec.

    A SIGKILL once the thread that started it ends, so a harness ended
    outright (SIGKILL, the OOM killer, an xdist worker its controller kills)
    leaves no QEMU running, where its finalizers never run. Every machine is
    stopped before the thread that started it ends.

    Transparent huge pages stay as the host grants them: QEMU asks for them
    on guest RAM, and restoring a snapshot writes a few hundred MiB of it at
    once. On a host whose page faults are dear, faulting that in 4 KiB at a
    time made every restore several times slower, and trials with it."""
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)          # the parent is already gone: no signal will come


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def interrupt_on_term() -> None:
    """Make a TERM (kill, a CI job's timeout) stop this process as Ctrl-C
    does, so what runs unwinds and every machine is reaped. Left to its
    default, a TERM ends the process at once, and its QEMUs, each leading a
    session of its own, run on. Call it from the main thread."""
    signal.signal(signal.SIGTERM, _interrupted)


@functools.lru_cache(maxsize=1)
def qemu_version() -> str | None:
    """The first line `DEFAULT_QEMU --version` prints, or None when it cannot run."""
    try:
        done = subprocess.run([DEFAULT_QEMU, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = done.stdout.strip().splitlines()
    return lines[0].strip() if done.returncode == 0 and lines else None


def option_value(path: Path) -> str:
    """A path as a QEMU option value (commas are doubled)."""
    return str(path).replace(",", ",,")


@dataclass(frozen=True)
class Disk:
    """A virtio block device.  Disks appear in order: vda (U-Boot's virtio 0), vdb, ...

    An empty ``name`` becomes the Linux name (``vda``, ``vdb``...) and is the
    QEMU drive id, the one QMP blockstats report."""

    path: Path
    format: str = "raw"
    readonly: bool = False
    name: str = ""
    write_log: Path | None = None     # log every write and flush here (dm-log-writes format)

    def args(self) -> list[str]:
        """The guest sees a disk with a write cache, whose flushes complete
        (cache=unsafe) without syncing the image to the host's storage: a
        power cut is QEMU's end, not the host's, so what QEMU wrote is in
        the image whether or not the host synced it, and a guest's fsync
        need not wait on the host's disk (up to a third of a second for an
        A/B slot). A logged disk keeps every flush: its log records them."""
        if self.write_log is not None:
            return self._logged_args()
        drive = (f"if=none,id={self.name},file={option_value(self.path)},format={self.format},"
                 f"cache=unsafe")
        if self.readonly:
            drive += ",readonly=on"
        return ["-drive", drive, "-device", f"virtio-blk-device,drive={self.name}"]

    def _logged_args(self) -> list[str]:
        """QEMU's blklogwrites above the disk: the log holds guest sectors. Every
        power-on appends to the same log (an empty file starts one), and the entry
        count in its superblock is kept current, so a cut loses no entry. Discard
        and write-zeroes are off so every change reaches the log as data."""
        assert self.write_log is not None
        drive = (f"if=none,id={self.name},driver=blklogwrites,cache=writeback,"
                 f"file.driver={self.format},file.file.driver=file,file.file.filename={option_value(self.path)},"
                 f"log.driver=file,log.filename={option_value(self.write_log)},"
                 f"log-append=on,log-super-update-interval=1")
        return ["-drive", drive, "-device",
                f"virtio-blk-device,drive={self.name},discard=off,write-zeroes=off"]


@dataclass(frozen=True)
class UserNet:
    """User-mode networking restricted to one guest-forward: the guest reaches
    ``guest_ip:guest_port`` and that connects to ``host_ip:host_port``; nothing else."""

    host_port: int
    guest_ip: str = "10.0.2.100"
    guest_port: int = 80
    host_ip: str = "127.0.0.1"

    def args(self) -> list[str]:
        # A `-tcp:` target is one chardev connection made when QEMU starts:
        # once the server closes it, the forward is dead for good. `cmd:`
        # spawns a relay per guest connection, as a real network would give.
        fwd = (f"tcp:{self.guest_ip}:{self.guest_port}"
               f"-cmd:{sys.executable} {RELAY} {self.host_ip} {self.host_port}")
        return ["-netdev", f"user,id=net0,restrict=on,guestfwd={fwd}",
                "-device", "virtio-net-device,netdev=net0"]


@dataclass
class MachineConfig:
    """What to run: firmware, env flash, disks, network.  The same config can be
    started many times (each power-on of a PowerSwitch)."""

    qemu: str = DEFAULT_QEMU
    machine: str = "virt"
    cpu: str = "cortex-a57"
    memory_mib: int = 512
    bios: Path = DEFAULT_BIOS
    env_flash: Path | None = None
    disks: list[Disk] = field(default_factory=list)
    net: UserNet | None = None
    extra_args: list[str] = field(default_factory=list)
    console_stamp: Callable[[], int] | None = None    # see Console's stamp

    def __post_init__(self) -> None:
        self.bios = Path(self.bios)
        if self.env_flash is not None:
            self.env_flash = Path(self.env_flash)
        self.disks = [dataclasses.replace(d, path=Path(d.path), name=d.name or f"vd{chr(97 + i)}")
                      for i, d in enumerate(self.disks)]

    def check(self) -> None:
        """Raise HarnessError (one line: what is missing, what to do) unless
        everything this machine needs exists."""
        if os.sep in self.qemu:
            if not os.access(self.qemu, os.X_OK):
                raise HarnessError(f"QEMU binary {self.qemu} not found or not executable")
        elif shutil.which(self.qemu) is None:
            raise HarnessError(f"{self.qemu} not found on PATH: install it with "
                               f"'apt-get install qemu-system-arm'")
        if not self.bios.is_file():
            hint = ("install it with 'apt-get install u-boot-qemu'"
                    if self.bios == DEFAULT_BIOS else "run ./brownout build")
            raise HarnessError(f"U-Boot firmware {self.bios} not found: {hint}")
        if self.env_flash is not None:
            if not self.env_flash.is_file():
                raise HarnessError(f"U-Boot env flash {self.env_flash} not found: "
                                   f"run ./brownout build")
            size = self.env_flash.stat().st_size
            if size != ENV_FLASH_SIZE:
                raise HarnessError(f"U-Boot env flash {self.env_flash} is {size} bytes, "
                                   f"QEMU virt needs exactly 64 MiB: pad it with "
                                   f"'truncate -s 64M'")
        names = set()
        for disk in self.disks:
            if not _ID_RE.fullmatch(disk.name):
                raise HarnessError(f"disk name {disk.name!r} is not a valid QEMU id "
                                   f"(letters, digits, '-', '.', '_'; starts with a letter)")
            if disk.name in names:
                raise HarnessError(f"disk name {disk.name!r} is used twice")
            names.add(disk.name)
            if not disk.path.is_file() and not disk.path.is_block_device():
                raise HarnessError(f"disk {disk.name} image {disk.path} not found: "
                                   f"run ./brownout build")

    def args(self, qmp_socket: Path) -> list[str]:
        """The full QEMU command line."""
        argv = [self.qemu, "-M", self.machine, "-cpu", self.cpu, "-m", str(self.memory_mib),
                "-bios", str(self.bios)]
        if self.env_flash is not None:
            argv += ["-drive",
                     f"if=pflash,format=raw,unit=1,file={option_value(self.env_flash)},readonly=on"]
        for disk in self.disks:
            argv += disk.args()
        argv += self.net.args() if self.net is not None else ["-nic", "none"]
        # The board's hardware random number generator (images/kernel.config says why).
        argv += ["-device", "virtio-rng-device"]
        # The console multiplexed, with nothing else on it, for its escape: a
        # serial break on demand (list_tasks).
        argv += ["-no-reboot", "-display", "none", "-chardev", "stdio,id=console,mux=on",
                 "-serial", "chardev:console", "-monitor", "none",
                 "-qmp", f"unix:{option_value(qmp_socket)},server=on,wait=off"]
        return argv + list(self.extra_args)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL QEMU's process group and reap QEMU.  Safe if already dead.

    QEMU's stdout stays open: the console reader still drains it to EOF."""
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=REAP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.error("QEMU pid %d did not die within %.0f s of SIGKILL", proc.pid,
                      REAP_TIMEOUT)
    if proc.stdin is not None:
        try:
            proc.stdin.close()
        except OSError:
            pass


def _describe_exit(proc: subprocess.Popen[bytes], stderr_path: Path) -> str:
    """QEMU's exit status and the last line of its stderr, for error messages."""
    try:
        code = proc.wait(timeout=1.0)
    except subprocess.TimeoutExpired:
        return f"QEMU pid {proc.pid} closed its console but is still running"
    detail = f"QEMU exited with status {code}"
    try:
        stderr = stderr_path.read_text(errors="replace").strip()
    except FileNotFoundError:
        stderr = ""
    if stderr:
        detail += f", stderr: {stderr.splitlines()[-1]}"
    return detail


class Machine:
    """A QEMU process with its console, QMP connection and run directory."""

    def __init__(self, config: MachineConfig, run_dir: Path | None = None, *,
                 name: str = "machine") -> None:
        """``run_dir`` holds console.log, qemu.stderr and qmp.sock; without it a
        temporary directory is used and removed by close()."""
        self.config = config
        self.name = name
        self.run_dir = Path(tempfile.mkdtemp(prefix="brownout-")) if run_dir is None \
            else Path(run_dir)
        self._remove_run_dir = weakref.finalize(self, shutil.rmtree, self.run_dir, True) \
            if run_dir is None else None
        self._sock_dir: Path | None = None
        self.t_power_on: float | None = None
        self._console: Console | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._qmp: QMPClient | None = None
        self._finalizer: weakref.finalize | None = None

    # -- lifecycle ------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def started(self) -> bool:
        return self._console is not None

    @property
    def console(self) -> Console:
        """The machine's serial console; only once it has been started."""
        if self._console is None:
            raise HarnessError(f"{self.name}: not started, it has no console yet")
        return self._console

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None

    @property
    def qmp_socket(self) -> Path:
        path = self.run_dir / "qmp.sock"
        if len(str(path)) <= _MAX_SOCKET_PATH:
            return path
        if self._sock_dir is None:
            self._sock_dir = Path(tempfile.mkdtemp(prefix="brownout-qmp-"))
            weakref.finalize(self, shutil.rmtree, self._sock_dir, True)
        return self._sock_dir / "qmp.sock"

    def start(self) -> Machine:
        """Check the configuration, spawn QEMU and attach the console."""
        if self._proc is not None:
            raise HarnessError(f"{self.name}: already started (pid {self._proc.pid})")
        self.config.check()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        sock = self.qmp_socket
        sock.unlink(missing_ok=True)
        argv = self.config.args(sock)
        log.debug("%s: starting %s", self.name, " ".join(argv))
        with open(self.run_dir / "qemu.stderr", "wb") as stderr:
            self.t_power_on = time.monotonic()
            try:
                self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                              stdout=subprocess.PIPE, stderr=stderr,
                                              start_new_session=True, close_fds=True,
                                              preexec_fn=functools.partial(_child_settings, os.getpid()))
            except OSError as e:
                raise HarnessError(f"cannot start {argv[0]}: {e}") from e
        self._finalizer = weakref.finalize(self, _kill_group, self._proc)
        assert self._proc.stdout is not None
        try:
            # The console's reader thread must not keep the Machine alive (the
            # finalizer would never run), so its exit callback does not refer to self.
            self._console = Console(self._proc.stdout, writer=self._proc.stdin,
                                    log_path=self.run_dir / "console.log", t0=self.t_power_on,
                                    exit_detail=functools.partial(
                                        _describe_exit, self._proc, self.run_dir / "qemu.stderr"),
                                    name=self.name, stamp=self.config.console_stamp)
        except BaseException:
            self.kill()
            raise
        return self

    def stderr(self) -> str:
        """What QEMU wrote to its stderr so far."""
        try:
            return (self.run_dir / "qemu.stderr").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def qmp(self, timeout: float = 10.0) -> QMPClient:
        """The QMP connection, connected on first use."""
        if self._proc is None:
            raise HarnessError(f"{self.name}: not started, no QMP")
        if self._qmp is None or not self._qmp.connected:
            client = QMPClient(self.qmp_socket, still_alive=lambda: self.alive)
            client.connect(timeout)
            self._qmp = client
        return self._qmp

    def list_tasks(self, timeout: float = TASK_LIST_TIMEOUT) -> bool:
        """Have the guest's kernel list its tasks on the console, for a guest
        that stopped answering: the blocked ones (SysRq "w"), then every one
        with its stack ("t"). True once the listing is whole on the console
        (and in console.log); False when the guest did not give it in time.
        The console's log level goes to 9 first ("9"): a kernel booted `quiet`
        keeps the listing, logged at KERN_INFO, off the console. It stays
        there: list a machine's tasks only before its power is cut."""
        if not self.alive:
            return False
        since = len(self.console.lines)
        try:
            self.console.send("".join(SERIAL_BREAK + key for key in "9wth"))
            self.console.wait_for_line(SYSRQ_HELP, timeout, since_index=since, check_failures=False)
        except HarnessError as e:       # a timeout, or the machine gone
            log.info("%s: no task listing from the guest: %s", self.name, str(e).splitlines()[0])
            return False
        return True

    def wait_exit(self, timeout: float) -> int:
        """Wait at most ``timeout`` s for QEMU to exit on its own; return its status."""
        if self._proc is None:
            raise HarnessError(f"{self.name}: not started")
        try:
            code = self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            tail = self._console.tail() if self._console is not None else ""
            raise HarnessTimeout(f"timed out after {timeout:.1f} s waiting for QEMU "
                                 f"(pid {self._proc.pid}) to exit; last console lines:\n"
                                 f"{tail or '(no console output)'}") from None
        if self._console is not None:
            self._console.wait_eof(timeout=5.0)  # let the reader collect the last lines
        return code

    def kill(self) -> None:
        """SIGKILL QEMU's process group and reap it.  Idempotent."""
        if self._proc is None:
            return
        if self._proc.returncode is None:
            log.debug("%s: killing QEMU pid %d", self.name, self._proc.pid)
        if self._qmp is not None:
            self._qmp.close()
        if self._finalizer is not None:
            self._finalizer()  # runs _kill_group once, then detaches
        else:
            _kill_group(self._proc)

    def close(self) -> None:
        """kill(), stop the console reader and remove a temporary run directory
        (the console's lines stay readable in memory)."""
        self.kill()
        if self._console is not None:
            try:
                self._console.wait_eof(timeout=2.0)  # QEMU is dead: drain its last output
            except HarnessTimeout:
                log.warning("%s: console did not reach EOF after QEMU was killed", self.name)
            self._console.close()
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()
        if self._sock_dir is not None:
            shutil.rmtree(self._sock_dir, ignore_errors=True)
        if self._remove_run_dir is not None:
            self._remove_run_dir()

    def __enter__(self) -> Machine:
        """``with Machine(config).start() as m:``, or start() inside the block;
        either way QEMU is killed and reaped when the block ends."""
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "not started" if self._proc is None else (
            "running" if self.alive else f"exited {self.returncode}")
        return f"<Machine {self.name} pid={self.pid} {state}>"
