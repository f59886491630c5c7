"""A root tree's digest read straight out of an ext4 image.

brownout-treedigest (src/treedigest, built for the host by the apps step)
walks the tree inside the image with libext2fs and hashes it as digest.py
hashes a tree on disk: the same digest and manifest as digest.py's of the
tree copied out with debugfs's rdump (the tests hold both to it on every
built root and on trees made to differ), without writing the tree out and
reading it back. Only dpkg's database, where the package list comes from,
is copied out.
"""
from __future__ import annotations

import posixpath
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .. import HarnessError, images
from .digest import (NOT_IN_TREE, SCRATCH, SCRATCH_PREFIXES, VOLATILE, VOLATILE_FILES, TreeDigest,
                     installed_packages, package_entries, unsettled_packages, version_digest)
from ..scratch import scratch_dir

TOOL = "host/brownout-treedigest"
# dpkg's status file and journal: a few MiB at most.
DPKG_ROOM = 64 << 20
# A root tree of a few hundred MiB reads in a second or two; far longer is a stuck tool.
READ_TIMEOUT = 600


@dataclass(frozen=True)
class ImageTree:
    digest: TreeDigest
    packages: tuple[str, ...]       # installed, as "name arch version"
    unsettled: tuple[str, ...]      # dpkg left them half-way (digest.unsettled_packages)
    manifest: dict[str, str]        # digest.tree_manifest's, path by path


def tool() -> Path:
    return images.require("apps") / TOOL


def skip_args() -> list[str]:
    """digest.py's lists of what a version's digest leaves out, as the tool's options."""
    return ([arg for path in NOT_IN_TREE + VOLATILE_FILES + SCRATCH for arg in ("--skip", path)]
            + [arg for prefix in SCRATCH_PREFIXES for arg in ("--skip-prefix", prefix)]
            + [arg for path in VOLATILE + SCRATCH for arg in ("--skip-under", path)])


def read_tree(image: Path, root: str, label: str, program: Path) -> ImageTree:
    """The digest, packages and manifest of the tree at `root` in the ext4
    file system `image`, read by `program` (tool()); HarnessError when the
    tree cannot be read (no ext4, no such directory, no dpkg database in it)."""
    with tempfile.TemporaryDirectory(prefix="brownout-tree-", dir=scratch_dir(DPKG_ROOM)) as tmp:
        copied = _copy_dpkg_database(image, root, Path(tmp) / "root")
        manifest_file = Path(tmp) / "manifest"
        try:
            result = subprocess.run([str(program), "--manifest", str(manifest_file), *skip_args(),
                                     str(image), root], capture_output=True, text=True, timeout=READ_TIMEOUT)
        except subprocess.TimeoutExpired as e:
            raise HarnessError(f"reading the root tree {root} out of {image} took over {READ_TIMEOUT} s") from e
        if result.returncode != 0:
            why = result.stderr.strip().splitlines()[-1:] or [f"exit status {result.returncode}"]
            raise HarnessError(f"cannot read a root tree from {image}: {why[0]}")
        tree, files = result.stdout.split()
        raw = manifest_file.read_bytes().split(b"\0")
        paths = {raw[i].decode(errors="surrogateescape"): raw[i + 1].decode() for i in range(0, len(raw) - 1, 2)}
        installed = installed_packages(copied)
        return ImageTree(version_digest(label, tree, installed, int(files)), tuple(installed),
                         tuple(unsettled_packages(copied)), paths | package_entries(installed))


def _copy_dpkg_database(image: Path, root: str, out: Path) -> Path:
    """dpkg's status file and journal (var/lib/dpkg/updates) of the tree at
    `root`, copied into `out` as they lie under it; `out`."""
    dpkg = out / "var/lib/dpkg"
    dpkg.mkdir(parents=True)
    inside = posixpath.join(root, "var/lib/dpkg")
    commands = out.parent / "debugfs.cmd"
    # A journal that is not there is no error (debugfs says so and goes on).
    commands.write_text(f'dump "{inside}/status" "{dpkg}/status"\nrdump "{inside}/updates" "{dpkg}"\n')
    try:
        result = subprocess.run(["debugfs", "-f", str(commands), str(image)], capture_output=True, text=True,
                                timeout=READ_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        raise HarnessError(f"copying dpkg's database out of {image} took over {READ_TIMEOUT} s") from e
    if result.returncode != 0 or not (dpkg / "status").exists():
        raise HarnessError(f"cannot read a root tree from {image}: no {inside}/status "
                           f"({result.stderr.strip()[-200:]})")
    return out
