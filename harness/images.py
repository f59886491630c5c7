"""Reproducible image build: a few shell steps under images/, cached by inputs.

Each step's output directory carries the key it was built from: the hash of
its script, the repository files it reads, its parameters and the keys of the
steps it depends on. A step whose key is unchanged is skipped, so a warm
rebuild with no change does nothing. A step builds into a temporary directory
that is renamed into place only on success, so an interrupted build never
leaves an output that looks complete.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import HarnessError

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("BROWNOUT_BUILD", REPO / "build"))
IMAGES = BUILD / "images"
CACHE = Path(os.environ.get("BROWNOUT_CACHE", Path.home() / ".cache" / "brownout"))
KEY_FILE = ".key"

VERSIONS = ("v1", "v2", "v2-bad")

BOOT_MODULES = "virtio_mmio virtio_blk ext4"
LATE_MODULES = "virtio_net vfat nls_cp437 nls_ascii qemu_fw_cfg"

# What every method needs later is in v1 already: dpkg/apt (in-place), ostree,
# libubootenv-tool (A/B, asymmetric), e2fsprogs, and the client libraries.
ROOTFS_PACKAGES = "apt,mount,iproute2,ostree,libubootenv-tool,libcurl4,libostree-1-1,libssl3,e2fsprogs,kmod"
SYSROOT_PACKAGES = "libc6-dev,libcurl4-openssl-dev,libostree-dev,libubootenv-dev,libssl-dev"

# The boot script fragments that images/disk.sh boot_script puts into the
# scripts of the methods that keep boot state in the env region.
ENV_FRAGMENTS = ("images/boot/env-load.cmd", "images/boot/env-save.cmd")


@dataclass(frozen=True)
class Step:
    name: str
    script: str                      # under images/
    inputs: tuple[str, ...] = ()     # repo-relative files or directories
    deps: tuple[str, ...] = ()       # other steps, exposed as <NAME>_DIR
    params: dict[str, str] = field(default_factory=dict)
    outputs_of: tuple[str, ...] = ()  # build-relative files hashed into the key

    @property
    def out(self) -> Path:
        return IMAGES / self.name


STEPS: tuple[Step, ...] = (
    Step("kernel", "kernel.sh", params={"BOOT_MODULES": BOOT_MODULES, "LATE_MODULES": LATE_MODULES}),
    Step("initramfs", "initramfs.sh", inputs=("images/initramfs",), deps=("kernel",)),
    Step("sysroot", "sysroot.sh", params={"SYSROOT_PACKAGES": SYSROOT_PACKAGES}),
    Step("apps", "apps.sh", inputs=("src", "faultinject", "tests/fixtures/ab_unsafe.c", "tests/fixtures/build.mk",
                                    "Makefile"), deps=("sysroot",)),
    Step("keys", "keys.sh"),
    Step("apt-key", "apt-key.sh"),
    Step("rootfs", "rootfs.sh", inputs=("images/rootfs", "harness/checks/digest.py"),
         deps=("kernel", "apps", "keys", "apt-key"),
         params={"ROOTFS_PACKAGES": ROOTFS_PACKAGES}),
    Step("payloads", "payloads.sh", deps=("rootfs", "keys")),
    Step("firmware", "firmware.sh", inputs=("images/boot/firmware.env",)),
    Step("disk-ab", "disk-ab.sh", inputs=("images/boot/ab.cmd", *ENV_FRAGMENTS, "images/disk.sh"),
         deps=("kernel", "initramfs", "rootfs")),
    Step("recovery", "recovery.sh", inputs=("images/recovery", "images/rootfs/fw_env.config"),
         deps=("kernel", "apps", "keys", "rootfs")),
    Step("disk-asymmetric", "disk-asymmetric.sh",
         inputs=("images/boot/asymmetric.cmd", *ENV_FRAGMENTS, "images/disk.sh"),
         deps=("kernel", "initramfs", "rootfs", "recovery")),
    Step("repo-inplace", "repo-inplace.sh", deps=("rootfs", "apt-key")),
    Step("disk-inplace", "disk-inplace.sh", inputs=("images/boot/inplace.cmd", "images/disk.sh"),
         deps=("kernel", "initramfs", "rootfs")),
    Step("ostree", "ostree.sh", inputs=("images/userns.py", "harness/checks/digest.py"),
         deps=("kernel", "initramfs", "rootfs")),
    Step("disk-ostree", "disk-ostree.sh", inputs=("images/boot/ostree.cmd", *ENV_FRAGMENTS, "images/disk.sh"),
         deps=("ostree",)),
)
STEP_BY_NAME = {s.name: s for s in STEPS}


def _hash_path(h: "hashlib._Hash", path: Path) -> None:
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and "__pycache__" not in child.parts:
                h.update(str(child.relative_to(path)).encode())
                h.update(child.read_bytes())
    elif path.exists():
        h.update(path.read_bytes())
    else:
        raise HarnessError(f"build input {path} is missing: is this a complete clone?")


def step_key(step: Step, keys: dict[str, str]) -> str:
    h = hashlib.sha256()
    for path in (REPO / "images" / step.script, REPO / "images" / "lib.sh",
                 *(REPO / p for p in step.inputs)):
        h.update(str(path.relative_to(REPO)).encode())
        _hash_path(h, path)
    h.update(json.dumps(step.params, sort_keys=True).encode())
    for dep in step.deps:
        h.update(f"{dep}={keys[dep]}".encode())
    return h.hexdigest()


def built_key(step: Step) -> str | None:
    try:
        return (step.out / KEY_FILE).read_text().strip()
    except FileNotFoundError:
        return None


def source_state(repo: Path = REPO) -> tuple[str, bool | None]:
    """The short commit of `repo` ("unknown" outside git) and whether its tree has
    uncommitted changes (None: unknown)."""
    def git(*args: str) -> subprocess.CompletedProcess[str] | None:
        try:
            return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
    head = git("rev-parse", "--short", "HEAD")
    if head is None or head.returncode != 0 or not head.stdout.strip():
        return "unknown", None
    status = git("status", "--porcelain", "--untracked-files=no")
    return head.stdout.strip(), (bool(status.stdout.strip()) if status and status.returncode == 0 else None)


@functools.lru_cache(maxsize=1)
def source_commit() -> str:
    """The commit a journal entry names: "<short>", "<short>+dirty", or "" outside git."""
    commit, dirty = source_state()
    return "" if commit == "unknown" else commit + ("+dirty" if dirty else "")


def _run_step(step: Step, key: str) -> None:
    tmp = step.out.with_name(step.out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    env = dict(os.environ, OUT=str(tmp), BUILD=str(IMAGES), CACHE=str(CACHE),
               REPO=str(REPO), LC_ALL="C", **step.params)
    for dep in step.deps:
        env[dep.upper().replace("-", "_") + "_DIR"] = str(STEP_BY_NAME[dep].out)
    log.info("step %s: building", step.name)
    started = time.monotonic()
    result = subprocess.run(["bash", str(REPO / "images" / step.script)], env=env)
    if result.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise HarnessError(f"image build step '{step.name}' failed (exit {result.returncode}); "
                           "see the messages above")
    (tmp / KEY_FILE).write_text(key + "\n")
    shutil.rmtree(step.out, ignore_errors=True)
    tmp.rename(step.out)
    log.info("step %s: built in %.1f s", step.name, time.monotonic() - started)


def build(only: list[str] | None = None, force: bool = False) -> dict[str, str]:
    """Build every step (or the named ones and what they depend on)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    IMAGES.mkdir(parents=True, exist_ok=True)
    wanted = _closure(only) if only else {s.name for s in STEPS}
    keys: dict[str, str] = {}
    for step in STEPS:
        if step.name not in wanted:
            continue
        keys[step.name] = key = step_key(step, keys)
        if not force and built_key(step) == key:
            log.info("step %s: up to date", step.name)
            continue
        _run_step(step, key)
    return keys


def _closure(names: list[str]) -> set[str]:
    todo, seen = list(names), set()
    while todo:
        name = todo.pop()
        if name not in STEP_BY_NAME:
            raise HarnessError(f"unknown build step '{name}'; steps: {', '.join(STEP_BY_NAME)}")
        if name not in seen:
            seen.add(name)
            todo.extend(STEP_BY_NAME[name].deps)
    return seen


def require(name: str) -> Path:
    """The output directory of a built step, or a clear error saying how to build it."""
    step = STEP_BY_NAME[name]
    if built_key(step) is None:
        raise HarnessError(f"image '{name}' is not built: run './brownout build' (or 'make images')")
    return step.out
