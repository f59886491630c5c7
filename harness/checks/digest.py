"""Digest of a root tree: file tree plus installed package list.

The image build records one digest per version (v1, v2, v2-bad); a check after
a trial computes the same digest from the device's root file system and so
tells "exactly v1", "exactly v2" and "neither" apart. What a running system
changes by itself (logs, caches, mount points) is left out; everything a
package or an update writes is in. Next to each digest the build keeps a
manifest, the same content path by path, so that for a root that is neither
version the check can name the paths that differ from the nearest one.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import HarnessError
from ..scratch import scratch_dir

# Contents of these directories are runtime state, not part of a version.
VOLATILE = ("proc", "sys", "dev", "run", "tmp", "data", "var/log",
            "var/cache", "var/tmp", "var/lib/apt/lists")
# Made by mke2fs, not by any version.
NOT_IN_TREE = ("lost+found",)
# Package-manager bookkeeping that differs between a tree built with `dpkg -i`
# (images/rootfs.sh) and the same packages installed by apt on the device (the
# in-place method), while the installed files and dpkg's status are the same.
# dpkg's journal (var/lib/dpkg/updates) and status stay in: they say what is
# installed, and a half-done upgrade must show.
VOLATILE_FILES = (
    # apt's record of which packages were installed only as dependencies
    # (bc, pulled in by brownout-app 2): apt's choice, not a file any program runs.
    "var/lib/apt/extended_states",
    # dpkg's backups of its databases, made on every run; the build removes them.
    "var/lib/dpkg/status-old", "var/lib/dpkg/available-old",
    "var/lib/dpkg/diversions-old", "var/lib/dpkg/statoverride-old",
    # dselect's list of available packages: `dpkg -i` adds to it, apt does not.
    "var/lib/dpkg/available",
    # Empty lock files, created by whichever tool ran first.
    "var/lib/dpkg/lock", "var/lib/dpkg/lock-frontend", "var/lib/dpkg/triggers/Lock",
)
# Scratch space of dpkg and apt, with everything under it. A cut can leave it
# behind and a later run need not remove it, but nothing reads it back: dpkg
# empties tmp.ci before it unpacks a package's control files there, truncates
# tmp.i when it opens its database for writing, and reads a journal entry only
# once renamed to a numbered file in updates/; apt writes extended_states
# through a temporary file with a random suffix and renames it. What they hold
# is no version's.
SCRATCH = ("var/lib/dpkg/tmp.ci", "var/lib/dpkg/updates/tmp.i")
SCRATCH_PREFIXES = ("var/lib/apt/extended_states.",)


@dataclass(frozen=True)
class TreeDigest:
    label: str
    tree: str        # sha256 over every path, type, mode, owner and content
    packages: str    # sha256 over the sorted "name arch version" list
    digest: str      # sha256 of tree + packages: what identifies a version
    files: int


def _entry(path: Path, rel: str) -> bytes:
    st = path.lstat()
    # Permission bits only: debugfs's rdump, which reads trees out of disk
    # images offline, cannot restore setuid, setgid and sticky bits.
    mode = st.st_mode & 0o777
    head = f"{rel}\0{stat.S_IFMT(st.st_mode):o}\0{mode:o}\0{st.st_uid}\0{st.st_gid}\0"
    if stat.S_ISREG(st.st_mode):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return (head + f"{st.st_size}\0{h.hexdigest()}\n").encode()
    if stat.S_ISLNK(st.st_mode):
        return (head + os.readlink(path) + "\n").encode()
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        return (head + f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}\n").encode()
    return (head + "\n").encode()


def _parse(text: str) -> list[dict[str, str]]:
    return [dict(line.split(": ", 1) for line in stanza.splitlines()
                 if ": " in line and not line.startswith(" "))
            for stanza in text.split("\n\n")]


def _stanzas(root: Path) -> list[dict[str, str]]:
    """dpkg's database as dpkg itself reads it: the status file, then the
    journal in var/lib/dpkg/updates (entries dpkg wrote since it last
    rewrote status) applied in order; an entry being written (tmp.i) is not."""
    status = root / "var/lib/dpkg/status"
    if not status.exists():
        raise HarnessError(f"{status} is missing: {root} is not a Debian root tree")
    merged: dict[tuple[str, str], dict[str, str]] = {}
    texts = [status.read_text(errors="replace")]
    updates = root / "var/lib/dpkg/updates"
    if updates.is_dir():
        texts += [f.read_text(errors="replace") for f in sorted(updates.iterdir()) if f.name.isdigit()]
    for text in texts:
        for fields in _parse(text):
            if "Package" in fields:
                merged[(fields["Package"], fields.get("Architecture", ""))] = fields
    return list(merged.values())


def installed_packages(root: Path) -> list[str]:
    """Installed packages from dpkg's database, as sorted 'name arch version' lines."""
    packages = []
    for fields in _stanzas(root):
        if fields.get("Status") == "install ok installed":
            packages.append(f"{fields['Package']} {fields.get('Architecture', '')} {fields['Version']}")
    return sorted(packages)


def unsettled_packages(root: Path) -> list[str]:
    """Packages dpkg left half-way, as `dpkg --audit` reports them: any state but
    installed, not-installed or config-files (half-installed, unpacked,
    half-configured, triggers-awaited, triggers-pending), or a reinstall-required
    flag. Sorted 'name want-flag-state' lines; empty when dpkg finished."""
    out = []
    for fields in _stanzas(root):
        status = fields.get("Status", "")
        words = status.split()
        if len(words) != 3 or "Package" not in fields:
            continue
        want, flag, state = words
        if state not in ("installed", "not-installed", "config-files") or flag != "ok":
            out.append(f"{fields['Package']} {want}-{flag}-{state}")
    return sorted(out)


def _entries(root: Path) -> Iterator[tuple[str, bytes]]:
    """(path, entry) for every path of a version, in a fixed order."""
    if not root.is_dir():
        raise HarnessError(f"{root} is not a directory")
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath)
        for name in dirnames + sorted(filenames):
            path = base / name
            rel = str(path.relative_to(root))
            if (rel in NOT_IN_TREE or rel in VOLATILE_FILES or rel in SCRATCH
                    or rel.startswith(SCRATCH_PREFIXES)
                    or any(rel.startswith(v + "/") for v in VOLATILE + SCRATCH)):
                continue
            yield rel, _entry(path, rel)
        # Symlinked directories are entries, not places to walk into.
        dirnames[:] = [d for d in dirnames if not (base / d).is_symlink()]


def tree_digest(root: Path, label: str = "") -> TreeDigest:
    h = hashlib.sha256()
    count = 0
    for _, entry in _entries(root):
        h.update(entry)
        count += 1
    return version_digest(label, h.hexdigest(), installed_packages(root), count)


def version_digest(label: str, tree: str, installed: list[str], files: int) -> TreeDigest:
    """A version's digest: its tree's (the entries' SHA-256) with its installed packages'."""
    packages = hashlib.sha256("\n".join(installed).encode()).hexdigest()
    digest = hashlib.sha256(f"{tree}\n{packages}\n".encode()).hexdigest()
    return TreeDigest(label, tree, packages, digest, files)


def tree_manifest(root: Path) -> dict[str, str]:
    """What the digest covers, path by path: each path's entry hash, and each
    installed package as "package NAME ARCH" with its version. Two manifests
    name the paths where two trees differ; equal manifests mean equal digests."""
    manifest = {rel: hashlib.sha256(entry).hexdigest()[:16] for rel, entry in _entries(root)}
    return manifest | package_entries(installed_packages(root))


def package_entries(installed: list[str]) -> dict[str, str]:
    """The installed packages' part of a manifest: "package NAME ARCH" to its version."""
    entries = {}
    for line in installed:
        name, arch, version = line.split(" ", 2)
        entries[f"package {name} {arch}"] = version
    return entries


def manifest_diff(a: dict[str, str], b: dict[str, str]) -> list[str]:
    """Where b differs from a, sorted: "+path" only in b, "-path" only in a, "~path" changed."""
    return sorted([f"+{k}" for k in b.keys() - a.keys()] + [f"-{k}" for k in a.keys() - b.keys()]
                  + [f"~{k}" for k in a.keys() & b.keys() if a[k] != b[k]], key=lambda d: d[1:])


def nearest(manifest: dict[str, str], known: dict[str, dict[str, str]]) -> tuple[str, list[str]]:
    """The known version with the fewest differing paths, and those paths."""
    if not known:
        raise HarnessError("no known manifests to compare a root tree with")
    diffs = {label: manifest_diff(ref, manifest) for label, ref in known.items()}
    label = min(diffs, key=lambda k: len(diffs[k]))
    return label, diffs[label]


@contextmanager
def ext4_tree(image: Path, offset: int = 0, size: int | None = None, root: str = "/") -> Iterator[Path]:
    """The root tree at `root` inside an ext4 image (or a partition of a disk
    image), copied out with debugfs into a temporary directory for the duration:
    no mount, nothing written to the image."""
    if not image.exists():
        raise HarnessError(f"{image} is missing")
    room = (size if size is not None else image.stat().st_size - offset) * (2 if offset or size is not None else 1)
    with tempfile.TemporaryDirectory(prefix="brownout-digest-", dir=scratch_dir(room)) as tmp:
        fs = Path(tmp) / "fs.ext4"
        if offset or size is not None:
            with open(image, "rb") as src, open(fs, "wb") as dst:
                src.seek(offset)
                remaining = size if size is not None else 1 << 62
                while remaining > 0:
                    chunk = src.read(min(remaining, 4 << 20))
                    if not chunk:
                        break
                    dst.write(chunk)
                    remaining -= len(chunk)
        else:
            fs = image
        # rdump of "/" fills `out`; of a directory, makes it inside `out`.
        parent = Path(tmp) / "root"
        parent.mkdir()
        out = parent if root.rstrip("/") == "" else parent / Path(root).name
        result = subprocess.run(["debugfs", "-R", f"rdump {root} {parent}", str(fs)],
                                capture_output=True, text=True)
        if result.returncode != 0 or not (out / "var/lib/dpkg/status").exists():
            raise HarnessError(f"cannot read a root tree from {image}: {result.stderr.strip()[-200:]}")
        yield out


def ext4_digest(image: Path, label: str = "", offset: int = 0, size: int | None = None,
                root: str = "/") -> TreeDigest:
    """Digest of the root tree at `root` inside an ext4 image; see ext4_tree."""
    with ext4_tree(image, offset, size, root) as tree:
        return tree_digest(tree, label)


def classify(digest: TreeDigest, known: list[TreeDigest]) -> str:
    """The label of the known version this digest is exactly, or 'mixed'."""
    for candidate in known:
        if candidate.digest == digest.digest:
            return candidate.label
    return "mixed"


def load_known(path: Path) -> list[TreeDigest]:
    return [TreeDigest(**json.loads(line)) for line in path.read_text().splitlines() if line]


def load_manifests(directory: Path) -> dict[str, dict[str, str]]:
    """The manifests written next to a digests.jsonl, by version label."""
    try:
        manifests = {f.stem: json.loads(f.read_text()) for f in sorted(directory.glob("*.json"))}
    except (OSError, ValueError) as e:
        manifests, why = {}, str(e)
    else:
        why = "none there"
    if not manifests:
        raise HarnessError(f"cannot read the version manifests in {directory} ({why}); "
                           "run './brownout build --force' to make them again")
    return manifests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m harness.checks.digest",
                                     description="Digest a root tree or an ext4 image.")
    parser.add_argument("kind", choices=("tree", "ext4"))
    parser.add_argument("path", type=Path)
    parser.add_argument("--label", default="")
    parser.add_argument("--manifest", type=Path, metavar="FILE",
                        help="also write the tree's path-by-path manifest (JSON) to FILE")
    args = parser.parse_args(argv)
    try:
        with (ext4_tree(args.path) if args.kind == "ext4" else nullcontext(args.path)) as tree:
            d = tree_digest(tree, args.label)
            if args.manifest:
                args.manifest.parent.mkdir(parents=True, exist_ok=True)
                args.manifest.write_text(json.dumps(tree_manifest(tree), sort_keys=True, indent=0))
    except HarnessError as e:
        print(f"digest: {e}", file=sys.stderr)
        return 1
    print(json.dumps(asdict(d)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
