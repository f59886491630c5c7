"""Reproducible image build: a few shell steps under images/, cached by inputs.

Each step's output directory carries the key it was built from: the hash of
its script, the repository files it reads, its parameters and the keys of the
steps it depends on. A step whose key is unchanged is skipped, so a warm
rebuild with no change does nothing. A step builds into a temporary directory
that is renamed into place only on success, so an interrupted build never
leaves an output that looks complete.

Every built output is also kept in the cache (which outlives build/ and is
shared by every clone on the machine), under its step and key. Another clone
whose step has that key takes the kept output instead of building it, but
only when the outputs it was built from are the very ones this clone has:
each output carries a build id, and the ids of the outputs it was built from.
The build is not byte-for-byte reproducible (file system time stamps, the
update signing keys), so an output built beside other inputs, even inputs of
the same key, would not match them: a kept disk whose root is another build's
v1 is not this clone's v1.
"""
from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Collection
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from . import HarnessError
from .files import replace_file

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("BROWNOUT_BUILD", REPO / "build"))
IMAGES = BUILD / "images"
CACHE = Path(os.environ.get("BROWNOUT_CACHE", Path.home() / ".cache" / "brownout"))
KEY_FILE = ".key"
BUILD_ID_FILE = ".build-id"     # names this build of an output; travels with its kept copy
BUILT_FROM_FILE = ".built-from"  # the build ids of the outputs it was built from, by step
KEPT = CACHE / "steps"
# Kept outputs of each step, newest first: two clones of different commits on
# one machine take turns without rebuilding, and the cache stays bounded.
KEPT_PER_STEP = 2
# Steps built at once, each as soon as the steps it depends on are: the root
# trees' downloads beside U-Boot's compile, OSTree's commits beside RAUC's bundles.
BUILD_JOBS = max(1, min(2, os.cpu_count() or 1))

VERSIONS = ("v1", "v2", "v2-bad", "v3")

BOOT_MODULES = "virtio_mmio virtio_blk ext4"
LATE_MODULES = "virtio_net vfat nls_cp437 nls_ascii qemu_fw_cfg"

# What every root tree carries whatever its method; each method adds its own
# Debian packages in images/methods/<name>/packages (and sysroot-packages for
# its client's build, modules for kernel modules it loads when it needs them),
# read here into the steps' keys. Files a method puts into every root tree are
# in images/methods/<name>/rootfs/, its boot hook in boot.d/.
# usr-is-merged: what init-system-helpers depends on in a root merged by symlinks (images/rootfs-base.sh).
# libreadline8: bc's library; v2 and v3 get bc (and dc) with dpkg -i, which installs no dependency.
COMMON_ROOTFS_PACKAGES = ("mount", "iproute2", "libcurl4", "libssl3", "e2fsprogs", "kmod", "usr-is-merged",
                          "libreadline8")
COMMON_SYSROOT_PACKAGES = ("libc6-dev", "libcurl4-openssl-dev", "libubootenv-dev", "libssl-dev")
METHOD_IMAGES = "images/methods"
# A boot script line that images/disk.sh boot_script replaces by images/boot/FRAGMENT.
INCLUDE = re.compile(r"^\s*#include\s+(\S+)\s*$", re.M)


# The two sets of root trees (images/rootfs.sh): every method's packages in
# each tree, and the lean trees, with only what the methods that run them
# (Method.roots) install; the lean base is made by rootfs-base from the
# other, the packages only the rest need purged.
ROOTS = "rootfs"
LEAN_ROOTS = "rootfs-lean"


@dataclass(frozen=True)
class Step:
    name: str
    script: str                      # under images/
    inputs: tuple[str, ...] = ()     # repo-relative files or directories
    deps: tuple[str, ...] = ()       # other steps, exposed as <NAME>_DIR
    params: dict[str, str] = field(default_factory=dict)

    @property
    def out(self) -> Path:
        return IMAGES / self.name


def package_list(common: tuple[str, ...], filename: str, methods: Collection[str] | None = None) -> str:
    """`common` and then every method's (or each of `methods`')
    images/methods/*/`filename` (one name a line, # comments), each once,
    comma-separated as mmdebstrap takes them."""
    names = list(common)
    for listing in sorted((REPO / METHOD_IMAGES).glob(f"*/{filename}")):
        if methods is not None and listing.parent.name not in methods:
            continue
        for line in listing.read_text().splitlines():
            package = line.split("#", 1)[0].strip()
            if package and package not in names:
                names.append(package)
    return ",".join(names)


def method_step(method: str, name: str, script: str, deps: tuple[str, ...] = (),
                inputs: tuple[str, ...] = (), repo_inputs: tuple[str, ...] = ()) -> Step:
    """A step of a method's own: its script and `inputs` under images/methods/<method>/,
    and `repo_inputs` (repo-relative) it reads from elsewhere."""
    return Step(name, f"methods/{method}/{script}", deps=deps,
                inputs=(*(f"{METHOD_IMAGES}/{method}/{i}" for i in inputs), *repo_inputs))


def disk_step(method: str, deps: tuple[str, ...], boots_as: str | None = None) -> Step:
    """A method's disk step, disk-<method>: images/methods/<method>/disk.sh, keyed
    by its boot script (method `boots_as`'s, when it boots the same way), the
    fragments that script includes and the disk helpers."""
    script = f"{METHOD_IMAGES}/{boots_as or method}/boot.cmd"
    path = REPO / script
    fragments = INCLUDE.findall(path.read_text()) if path.is_file() else []
    return Step(f"disk-{method}", f"methods/{method}/disk.sh", deps=deps,
                inputs=(script, *(f"images/boot/{f}" for f in fragments), "images/disk.sh"))


# The steps every method builds on. Each method declares its own (disk,
# payloads, anything else it needs) as Method.image_steps.
COMMON_STEPS: tuple[Step, ...] = (
    # First: the longest step, and it needs no other, so the rest build beside it.
    Step("rootfs-base", "rootfs-base.sh", inputs=("harness/packages.py",),
         params={"ROOTFS_PACKAGES": package_list(COMMON_ROOTFS_PACKAGES, "packages")}),
    Step("kernel", "kernel.sh", inputs=("images/kernel.config", "src/hugepages"),
         params={"BOOT_MODULES": BOOT_MODULES, "LATE_MODULES": LATE_MODULES,
                 "METHOD_MODULES": package_list((), "modules").replace(",", " ")}),
    Step("initramfs", "initramfs.sh", inputs=("images/initramfs",), deps=("kernel", "apps")),
    Step("sysroot", "sysroot.sh",
         params={"SYSROOT_PACKAGES": package_list(COMMON_SYSROOT_PACKAGES, "sysroot-packages")}),
    Step("apps", "apps.sh", inputs=("src", "faultinject", "tests/fixtures/ab_unsafe.c", "tests/fixtures/ab_unsynced.c",
                                    "tests/fixtures/ab_boottext.c", "tests/fixtures/single-env/brownout-ab-single-env",
                                    "tests/fixtures/build.mk", "Makefile"), deps=("sysroot",)),
    Step("keys", "keys.sh"),
    Step("apt-key", "apt-key.sh"),
    *(Step(name, "rootfs.sh",
           inputs=("images/rootfs", "harness/checks/digest.py",
                   *sorted(str(p.relative_to(REPO)) for pattern in ("*/boot.d", "*/rootfs")
                           for p in (REPO / METHOD_IMAGES).glob(pattern))),
           deps=("rootfs-base", "kernel", "apps", "keys", "apt-key"), params={"BASE": base})
      for name, base in ((ROOTS, "base.tar"), (LEAN_ROOTS, "lean.tar"))),
    Step("firmware", "firmware.sh", inputs=("images/boot/firmware.env", "images/boot/u-boot.config", "src/hugepages")),
)


@functools.lru_cache(maxsize=1)
def steps() -> tuple[Step, ...]:
    """Every image step: the common ones, then each registered method's, in an
    order where a step comes after the steps it depends on."""
    from .methods import METHODS   # the methods declare their steps with this module's helpers
    named = {s.name: s for s in COMMON_STEPS}
    lean = [m.name for m in METHODS.values() if m.roots == LEAN_ROOTS]
    base = named["rootfs-base"]
    named[base.name] = replace(base, params={**base.params, "LEAN_PACKAGES": package_list(
        COMMON_ROOTFS_PACKAGES, "packages", lean).replace(",", " ")})
    for method in METHODS.values():
        named.update((s.name, s) for s in method.image_steps)
    ordered: dict[str, Step] = {}

    def visit(name: str) -> None:
        if name not in ordered:
            for dep in named[name].deps:
                visit(dep)
            ordered[name] = named[name]
    for name in named:
        visit(name)
    return tuple(ordered.values())


def by_name(name: str) -> Step:
    for s in steps():
        if s.name == name:
            return s
    raise HarnessError(f"unknown build step '{name}'; steps: {', '.join(s.name for s in steps())}")


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
    return _key_at(step.out)


def _key_at(output: Path) -> str | None:
    try:
        return (output / KEY_FILE).read_text().strip()
    except FileNotFoundError:
        return None


def build_id(output: Path) -> str | None:
    """The id of the build that made `output` (a step's output directory or a kept copy)."""
    try:
        return (output / BUILD_ID_FILE).read_text().strip() or None
    except FileNotFoundError:
        return None


def built_from(output: Path) -> dict[str, str] | None:
    try:
        made = json.loads((output / BUILT_FROM_FILE).read_text())
        return made if isinstance(made, dict) else None
    except (OSError, ValueError):
        return None


def _dep_builds(step: Step) -> dict[str, str | None]:
    return {dep: build_id(by_name(dep).out) for dep in step.deps}


def _current(step: Step, key: str) -> bool:
    """Whether the output built here is `key`'s and was built from the outputs its deps have now."""
    return (built_key(step) == key and build_id(step.out) is not None
            and built_from(step.out) == _dep_builds(step))


def _copy_tree(source: Path, target: Path) -> None:
    """A copy that keeps hard links, sparse files and symbolic links as they are."""
    shutil.rmtree(target, ignore_errors=True)
    result = subprocess.run(["cp", "-a", "--reflink=auto", str(source), str(target)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        raise HarnessError(f"copying {source} to {target} failed: {result.stderr.strip()}")


def _take_kept(step: Step, key: str) -> bool:
    """Put the kept output of `step` at `key` in place, where one was built from
    the very outputs this clone has for its deps; False where none was."""
    kept = KEPT / step.name / key
    if build_id(kept) is None or built_from(kept) != _dep_builds(step) or _key_at(kept) != key:
        return False
    tmp = step.out.with_name(step.out.name + ".tmp")
    try:
        _copy_tree(kept, tmp)
    except HarnessError as e:    # pruned by another build while copied: build it here
        log.warning("step %s: %s; building it instead", step.name, e)
        return False
    shutil.rmtree(step.out, ignore_errors=True)
    tmp.rename(step.out)
    os.utime(kept)    # the newest use decides which kept outputs stay
    return True


def _keep(step: Step, key: str) -> None:
    """Keep a copy of the output just built, for other clones; a failure to keep it only costs them a build."""
    folder = KEPT / step.name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{key}.{os.getpid()}.tmp"
        _copy_tree(step.out, tmp)
        old = folder / f".{key}.{os.getpid()}.old"
        if (folder / key).exists():
            (folder / key).rename(old)
        tmp.rename(folder / key)
        shutil.rmtree(old, ignore_errors=True)
        kept = sorted((p for p in folder.iterdir() if not p.name.startswith(".")),
                      key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in kept[KEPT_PER_STEP:]:
            shutil.rmtree(stale, ignore_errors=True)
    except (OSError, HarnessError) as e:
        log.warning("step %s: built, but not kept for other clones (%s)", step.name, e)


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


def _run_step(step: Step, key: str) -> float:
    """Build `step` into its output; returns the seconds it took."""
    tmp = step.out.with_name(step.out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    env = dict(os.environ, OUT=str(tmp), BUILD=str(IMAGES), CACHE=str(CACHE),
               REPO=str(REPO), LC_ALL="C", **step.params)
    for dep in step.deps:
        env[dep.upper().replace("-", "_") + "_DIR"] = str(by_name(dep).out)
    started = time.monotonic()
    result = subprocess.run(["bash", str(REPO / "images" / step.script)], env=env)
    if result.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise HarnessError(f"image build step '{step.name}' failed (exit {result.returncode}); "
                           "see the messages above")
    (tmp / KEY_FILE).write_text(key + "\n")
    (tmp / BUILD_ID_FILE).write_text(os.urandom(8).hex() + "\n")
    (tmp / BUILT_FROM_FILE).write_text(json.dumps(_dep_builds(step), sort_keys=True) + "\n")
    shutil.rmtree(step.out, ignore_errors=True)
    tmp.rename(step.out)
    seconds = time.monotonic() - started
    log.info("step %s: built in %.1f s", step.name, seconds)
    return seconds


# How long each step took when it was last built, kept with the download cache
# (it outlives build/): the progress line's estimate of the time left.
DURATIONS = CACHE / "step-seconds.json"
# In IMAGES: what the last build with work to do did (last_build).
LAST_BUILD_FILE = ".last-build.json"


def read_seconds(path: Path) -> dict[str, float]:
    """Seconds by name, as `write_seconds` keeps them; {} for none or a damaged file."""
    try:
        known = json.loads(path.read_text())
        return {k: float(v) for k, v in known.items()} if isinstance(known, dict) else {}
    except (OSError, ValueError, TypeError):
        return {}


def write_seconds(path: Path, seconds: dict[str, float]) -> None:
    """Replace the file whole, so a reader never sees half of it."""
    replace_file(path, json.dumps(seconds, indent=1, sort_keys=True))


# What each step takes in a first build on a 2-core machine without KVM (the
# kind CI runs on), rounded: the estimate for a step this machine never
# built. Its own times replace them once it has.
FIRST_BUILD_S = {"kernel": 620.0, "rootfs-base": 290.0, "firmware": 110.0, "ostree": 57.0, "sysroot": 35.0,
                 "rootfs": 26.0, "apps": 19.0, "initramfs": 13.0, "bundles-rauc": 12.0, "payloads-ab": 10.0,
                 "recovery": 7.0}
FIRST_BUILD_OTHER_S = 3.0        # a disk, the keys, a repository


# While no step ends, a line this often says what runs and the time left.
PROGRESS_INTERVAL_S = 30.0


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 60}:{s % 60:02d}"


def expected_seconds(name: str, durations: dict[str, float]) -> float:
    """How long step `name` takes: as long as when last built here, or a first build's time."""
    return durations[name] if name in durations else FIRST_BUILD_S.get(name, FIRST_BUILD_OTHER_S)


def critical_paths(names: list[str], durations: dict[str, float]) -> dict[str, float]:
    """Per step of `names`: its expected seconds and those of the longest chain
    of steps of `names` that wait for it. The build starts the ready step whose
    chain is longest: the steps that end the build (the kernel, then the root
    trees, then OSTree's commit and its disk) start as early as they can."""
    waiting = {name: [other for other in names if name in by_name(other).deps] for name in names}
    paths: dict[str, float] = {}

    def path(name: str) -> float:
        if name not in paths:
            paths[name] = expected_seconds(name, durations) + max((path(w) for w in waiting[name]), default=0.0)
        return paths[name]
    return {name: path(name) for name in names}


def by_priority(names: list[str], durations: dict[str, float], first: Collection[str] = ()) -> list[str]:
    """`names` (in dependency order) in the order the build starts them: the
    ones in `first` (already running), then the longest chain first. A step's
    chain is never shorter than that of a step waiting for it, and a tie keeps
    the dependency order, so the result is a dependency order too."""
    paths = critical_paths(names, durations)
    return sorted(names, key=lambda name: (name not in first, -paths[name]))


def time_left(todo: list[str], durations: dict[str, float], jobs: int = 1,
              running_for: dict[str, float] | None = None) -> str:
    """The estimate of a build's time left: the steps still to build (in
    dependency order), `jobs` at a time, longest chain first, each as long as
    it took when last built here, or as long as a first build takes
    (FIRST_BUILD_S) if never; a step in `running_for` has run that many
    seconds of it already."""
    running_for = running_for or {}
    guessed = [name for name in todo if name not in durations]
    overdue: list[str] = []
    finish: dict[str, float] = {}
    free = [0.0] * jobs
    for name in by_priority(todo, durations, first=running_for):
        ready = max((finish[d] for d in by_name(name).deps if d in finish), default=0.0)
        free.sort()
        took = expected_seconds(name, durations)
        if running_for.get(name, 0.0) > took:
            overdue.append(name)
        took = max(0.0, took - running_for.get(name, 0.0))
        free[0] = finish[name] = max(free[0], ready) + took
    text = f"about {_clock(max(finish.values(), default=0.0))} left"
    if overdue:
        text += f" ({', '.join(overdue)} already longer than estimated)"
    if not guessed:
        return text
    if len(guessed) == len(todo):
        return text + " (a first build's times: no step left was built here before)"
    return text + f" ({len(guessed)} of {len(todo)} steps at a first build's times: never built here)"


def build(only: list[str] | None = None, force: bool = False) -> dict[str, str]:
    """Build every step (or the named ones and what they depend on)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    IMAGES.mkdir(parents=True, exist_ok=True)
    wanted = _closure(only) if only else {s.name for s in steps()}
    keys: dict[str, str] = {}
    # Two builds at once (a campaign started beside another) would share each step's .tmp.
    with open(IMAGES / ".build.lock", "w") as lock:
        if not _try_lock(lock):
            log.info("another build runs on %s: waiting for it", IMAGES)
            fcntl.flock(lock, fcntl.LOCK_EX)
        todo: list[tuple[Step, str]] = []
        for each in steps():
            if each.name not in wanted:
                continue
            keys[each.name] = step_key(each, keys)
            todo.append((each, keys[each.name]))
        # A step whose dep gets a new output is built again (or taken) too: it was built from the old one.
        renewed: set[str] = set()
        for each, key in todo:
            if force or renewed.intersection(each.deps) or not _current(each, key):
                renewed.add(each.name)
            else:
                log.info("step %s: up to date", each.name)
        began = time.time()
        made = _build_steps([(each, key) for each, key in todo if each.name in renewed], force)
        if made:
            replace_file(IMAGES / LAST_BUILD_FILE, json.dumps({"began": began, "ended": time.time(), "steps": made}))
    return keys


def last_build() -> dict | None:
    """What the last build that had work to do did: when it began and ended
    (seconds since the epoch), and each step it built (seconds) or took (None)."""
    try:
        record = json.loads((IMAGES / LAST_BUILD_FILE).read_text())
        return record if isinstance(record, dict) and "steps" in record else None
    except (OSError, ValueError):
        return None


def _build_steps(todo: list[tuple[Step, str]], force: bool, jobs: int | None = None) -> dict[str, float | None]:
    """Build (or take) the steps of `todo`, `jobs` (BUILD_JOBS) at a time: each
    starts once the steps it depends on are done, the one on the longest chain
    first (by_priority). After a failure no step starts; the ones running
    finish, then the first error is raised. Returns each step's build seconds
    (None: taken from the cache)."""
    at_once = jobs or BUILD_JOBS
    durations = read_seconds(DURATIONS)
    names = {each.name for each, _ in todo}
    order = {name: n for n, name in enumerate(by_priority([each.name for each, _ in todo], durations))}
    pending = list(todo)
    done: set[str] = set()
    errors: list[HarnessError] = []
    running: dict[Future[float | None], Step] = {}
    started: dict[str, float] = {}
    made: dict[str, float | None] = {}

    def left(starting: str | None = None) -> str:
        now = time.monotonic()
        names = [s.name for s in running.values()] + ([starting] if starting else []) + [s.name for s, _ in pending]
        return time_left(names, durations, at_once, {s.name: now - started[s.name] for s in running.values()})

    with ThreadPoolExecutor(max_workers=at_once) as pool:
        while pending or running:
            ready = [] if errors else \
                sorted(((each, key) for each, key in pending if all(d in done or d not in names for d in each.deps)),
                       key=lambda ready_step: order[ready_step[0].name])
            for each, key in ready[:at_once - len(running)]:
                pending.remove((each, key))
                log.info("step %d/%d %s: %s", len(todo) - len(pending), len(todo), each.name, left(each.name))
                started[each.name] = time.monotonic()
                running[pool.submit(_make, each, key, force)] = each
            if not running:
                break
            finished, _ = wait(running, timeout=PROGRESS_INTERVAL_S, return_when=FIRST_COMPLETED)
            if not finished:
                # A long step (the kernel's, mmdebstrap's) says nothing for minutes: say what still runs.
                now = time.monotonic()
                log.info("%d/%d steps done; building %s: %s", len(done), len(todo),
                         ", ".join(f"{s.name} for {_clock(now - started[s.name])}" for s in running.values()),
                         left())
                continue
            for future in finished:
                each = running.pop(future)
                try:
                    seconds = future.result()
                except HarnessError as e:
                    errors.append(e)
                    continue
                done.add(each.name)
                made[each.name] = seconds
                if seconds is not None:
                    durations[each.name] = round(seconds, 1)
                    write_seconds(DURATIONS, durations)
    if errors:
        raise errors[0]
    return made


def _make(step: Step, key: str, force: bool) -> float | None:
    """Take `step`'s kept output, or build it and keep it: the seconds the build took, None if taken."""
    if not force and _take_kept(step, key):
        log.info("step %s: taken from %s, where an earlier build kept it", step.name, KEPT / step.name / key)
        return None
    seconds = _run_step(step, key)
    _keep(step, key)
    return seconds


def _try_lock(lock: IO[str]) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _closure(names: list[str]) -> set[str]:
    todo, seen = list(names), set()
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(by_name(name).deps)
    return seen


def require(name: str) -> Path:
    """The output directory of a built step, or a clear error saying how to build it."""
    built = by_name(name)
    if built_key(built) is None:
        raise HarnessError(f"image '{name}' is not built: run './brownout build' (or 'make images')")
    return built.out
