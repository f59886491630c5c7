"""Shared fixtures and markers for the harness's own tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from harness.machine.qemu import DEFAULT_BIOS, DEFAULT_QEMU, ENV_FLASH_SIZE  # noqa: E402

ENV_SIZE = 0x40000  # U-Boot's CONFIG_ENV_SIZE in Debian's qemu_arm64 build


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "qemu: starts a real QEMU (a few seconds each)")
    config.addinivalue_line("markers", "e2e: end-to-end: boots built images")
    config.addinivalue_line("markers", "slow: takes more than about 30 s")


def missing_qemu() -> list[str]:
    """What tests marked `qemu` need and this machine lacks: QEMU, U-Boot."""
    return [what for what, ok in ((DEFAULT_QEMU, shutil.which(DEFAULT_QEMU)),
                                  (str(DEFAULT_BIOS), DEFAULT_BIOS.is_file())) if not ok]


def _required() -> bool:
    return os.environ.get("BROWNOUT_REQUIRE_IMAGES") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without QEMU or U-Boot, tests marked `qemu` skip; under `make test`
    (BROWNOUT_REQUIRE_IMAGES=1) they are left to fail in pytest_runtest_setup."""
    missing = missing_qemu()
    if not missing or _required():
        return
    skip = pytest.mark.skip(reason=f"needs {', '.join(missing)} "
                                   f"(apt-get install qemu-system-arm u-boot-qemu)")
    for item in items:
        if item.get_closest_marker("qemu"):
            item.add_marker(skip)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Under `make test` a test marked `qemu` fails, before its fixtures start
    anything, when QEMU or U-Boot is missing: CI must not pass by skipping."""
    if item.get_closest_marker("qemu") and _required():
        missing = missing_qemu()
        if missing:
            pytest.fail(f"{', '.join(missing)} missing and BROWNOUT_REQUIRE_IMAGES=1 "
                        f"(bash images/deps.sh installs it)", pytrace=False)


def group_members(pgid: int) -> list[int]:
    """PIDs of live (non-zombie) processes in process group ``pgid``, from /proc."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command: state ppid pgrp ...
        state, _ppid, pgrp = stat.rpartition(")")[2].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            members.append(int(entry))
    return members


@pytest.fixture
def live_group() -> Callable[[int], list[int]]:
    """group_members, for a test that waits for a process group to end."""
    return group_members


@pytest.fixture
def assert_reaped() -> Callable[[int], None]:
    """Check that QEMU ``pid`` is gone: not running, not a zombie, no group left."""

    def check(pid: int) -> None:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        assert group_members(pid) == []

    return check


@pytest.fixture
def make_env_flash(tmp_path: Path) -> Callable[[str], Path]:
    """Build a 64 MiB pflash image holding a U-Boot env made from ``text``."""

    def make(text: str) -> Path:
        if shutil.which("mkenvimage") is None:
            pytest.skip("needs mkenvimage (apt-get install u-boot-tools)")
        env_txt = tmp_path / "env.txt"
        env_txt.write_text(text)
        env_bin = tmp_path / "env.bin"
        subprocess.run(["mkenvimage", "-s", hex(ENV_SIZE), "-o", str(env_bin), str(env_txt)],
                       check=True)
        flash = tmp_path / "env-flash.img"
        with open(flash, "wb") as f:
            f.write(env_bin.read_bytes())
            f.truncate(ENV_FLASH_SIZE)
        return flash

    return make
