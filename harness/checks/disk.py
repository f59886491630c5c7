"""Offline checks of a device's disk with its power off or its machine stopped:
no mount, no loop device.

A partition is copied out of the device's qcow2 chain (read in place,
qcow2.py), then checked with e2fsprogs (`e2fsck -fn`), and its root tree's
digest is read straight out of the copy (ext4tree.py). The check of a root
is a function of the partition's bytes alone, and most trials end on one of
a few byte-identical roots (a slot that was only ever mounted read-only), so
its result is kept under the partition's fingerprint (fingerprint.py: the
built base named by its identity, the bytes the qcow2 layers above it hold
hashed) and this code's, and reused: a root seen before is neither copied
out nor read again.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .. import HarnessError
from .device import Partition
from ..machine.qemu import option_value
from .fingerprint import disk_fingerprint
from .qcow2 import Unsupported, copy_out, open_chain
from .digest import TreeDigest, classify, load_known, load_manifests, nearest
from .ext4tree import read_tree, tool
from ..files import replace_file
from ..images import CACHE
from ..scratch import scratch_dir

CHECKS = CACHE / "checks"
_CODE = hashlib.sha256(b"".join(
    (Path(__file__).parent / name).read_bytes() for name in ("disk.py", "digest.py", "ext4tree.py"))).hexdigest()

MIB = 1 << 20
# How many differing paths a check keeps for a root that is no known version.
DIFF_LIMIT = 40


def extract(disk: Path, part: Partition, out: Path, fmt: str = "qcow2") -> Path:
    """Copy `part` of `disk` out, raw and sparse: the chain's zero clusters and
    its raw base's holes (the free space the image build leaves, disk.sh's
    `dd conv=sparse`) are not written; a root partition is mostly free space,
    and writing and freeing it would cost more than the rest of the copy.
    Read in place through the qcow2 chain (qcow2.py), or by `qemu-img
    convert` for a chain that reader refuses. A device held before its re-run
    is judged with its QEMU stopped, its block layer flushed: the files hold
    what the guest wrote."""
    if part.offset % MIB or part.size % MIB:
        raise HarnessError(f"partition {part.name} is not MiB-aligned")
    try:
        copy_out(open_chain(disk), part.offset, part.size, out)
    except Unsupported:
        _convert(disk, part, out, fmt)
    except OSError as e:
        raise HarnessError(f"cannot read partition {part.name} of {disk}: {e}") from e
    if out.stat().st_size != part.size:
        raise HarnessError(f"partition {part.name} of {disk}: read {out.stat().st_size} bytes, "
                           f"expected {part.size}")
    return out


def _convert(disk: Path, part: Partition, out: Path, fmt: str) -> None:
    # The partition as a raw image of its own: a window onto the disk's format driver.
    window = (f"driver=raw,offset={part.offset},size={part.size},file.driver={fmt},"
              f"file.file.driver=file,file.file.filename={option_value(disk)}")
    result = subprocess.run(["qemu-img", "convert", "-U", "-O", "raw", "--image-opts", window, str(out)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise HarnessError(f"cannot read partition {part.name} of {disk}: {result.stderr.strip()}")


@dataclass(frozen=True)
class FsCheck:
    partition: str
    clean: bool
    output: str


def fsck(image: Path, name: str) -> FsCheck:
    """e2fsck -fn: read-only, forced. Exit 0 is clean; anything else is not.

    `image` is a private copy: a journal left by a power cut is replayed on
    it first, as the kernel would at mount, so that an unreplayed journal is
    not mistaken for damage while real damage still is."""
    subprocess.run(["e2fsck", "-E", "journal_only", "-p", str(image)], capture_output=True)
    result = subprocess.run(["e2fsck", "-fn", str(image)], capture_output=True, text=True)
    return FsCheck(name, result.returncode == 0, (result.stdout + result.stderr)[-2000:])


@dataclass(frozen=True)
class RootCheck:
    fs: FsCheck
    digest: TreeDigest | None
    packages: tuple[str, ...]
    # Packages dpkg left half-way ("name status"), as `dpkg --audit` would list them.
    unsettled: tuple[str, ...] = ()
    # For a root that is no known version: the nearest one, how many paths
    # differ from it and the first DIFF_LIMIT of them ("+new", "-gone", "~changed").
    nearest: str = ""
    differ_count: int = 0
    differs: tuple[str, ...] = ()

    def has_package(self, name: str) -> bool:
        return any(p.split()[0] == name for p in self.packages)


# This process's checks by key: a snapshot's trials keep meeting the same roots.
_CHECKED: dict[str, RootCheck] = {}
_FS_CHECKED: dict[str, FsCheck] = {}


def check_root(disk: Path, part: Partition, root: str = "/", versions: Path | None = None) -> RootCheck:
    """fsck of partition `part` and digest of the root tree at `root` in it.
    With `versions` (a directory holding digests.jsonl and manifests/), a root
    that is none of those versions is compared path by path with the nearest."""
    key = _check_key(disk, part, f"root {root}\n{_versions_key(versions)}")
    if key is not None:
        known = _CHECKED.get(key) or _cached(key, part.name)
        if known is not None:
            _CHECKED[key] = known
            return known
    checked = _check_root_bytes(disk, part, root, versions)
    if key is not None:
        _CHECKED[key] = checked
        _keep(key, checked)
    return checked


def _check_key(disk: Path, part: Partition, what: str) -> str | None:
    """The key of a check of `part` in `disk`: its bytes' fingerprint, the check
    and this code; None when the chain cannot be read (the check is then made afresh)."""
    fingerprint = disk_fingerprint(disk, part.offset, part.size)
    if fingerprint is None:
        return None
    return hashlib.sha256(f"{_CODE}\n{what}\n{part.offset} {part.size}\n{fingerprint}\n".encode()).hexdigest()


def _check_root_bytes(disk: Path, part: Partition, root: str, versions: Path | None) -> RootCheck:
    # The partition, checked, then the root tree read out of it (nothing else is copied).
    with tempfile.TemporaryDirectory(prefix="brownout-root-", dir=scratch_dir(part.size)) as tmp:
        image = extract(disk, part, Path(tmp) / f"{part.name}.ext4")
        fs = fsck(image, part.name)
        return _read_root(image, fs, root, versions)


def _versions_key(versions: Path | None) -> str:
    """What a comparison with `versions` depends on: their digests."""
    if versions is None:
        return "-"
    try:
        return hashlib.sha256((versions / "digests.jsonl").read_bytes()).hexdigest()
    except OSError as e:
        raise HarnessError(f"cannot read {versions / 'digests.jsonl'}: {e}; run './brownout build'") from e


def _cached(key: str, partition: str) -> RootCheck | None:
    try:
        data = json.loads((CHECKS / f"{key}.json").read_text())
        digest = TreeDigest(**data["digest"]) if data["digest"] else None
        return RootCheck(FsCheck(partition, data["fs"]["clean"], data["fs"]["output"]),
                         replace(digest, label=partition) if digest else None,
                         tuple(data["packages"]), tuple(data["unsettled"]),
                         data["nearest"], data["differ_count"], tuple(data["differs"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _keep(key: str, checked: RootCheck) -> None:
    replace_file(CHECKS / f"{key}.json", json.dumps(asdict(checked)))


def _read_root(image: Path, fs: FsCheck, root: str, versions: Path | None) -> RootCheck:
    """Digest and dpkg's view of the root; for no known version, where it differs.
    A root that cannot be read out has no digest (the device is judged mixed)."""
    known = load_known(versions / "digests.jsonl") if versions else []
    program = tool()        # not built is an error of its own, not a root that cannot be read
    try:
        tree = read_tree(image, root, fs.partition, program)
    except HarnessError:
        return RootCheck(fs, None, ())
    checked = RootCheck(fs, tree.digest, tree.packages, tree.unsettled)
    if versions is None or classify(tree.digest, known) != "mixed":
        return checked
    # Missing manifests are an error, not a root that cannot be read.
    label, differs = nearest(tree.manifest, load_manifests(versions / "manifests"))
    return replace(checked, nearest=label, differ_count=len(differs), differs=tuple(differs[:DIFF_LIMIT]))


def check_fs(disk: Path, part: Partition) -> FsCheck:
    key = _check_key(disk, part, "fsck")
    if key is not None and key in _FS_CHECKED:
        return _FS_CHECKED[key]
    with tempfile.TemporaryDirectory(prefix="brownout-fs-", dir=scratch_dir(part.size)) as tmp:
        checked = fsck(extract(disk, part, Path(tmp) / f"{part.name}.img"), part.name)
    if key is not None:
        _FS_CHECKED[key] = checked
    return checked
