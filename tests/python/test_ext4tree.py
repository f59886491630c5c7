"""A root tree's digest read straight out of an ext4 image (harness/checks/ext4tree.py,
src/treedigest) is digest.py's of debugfs's copy of the same tree, entry for entry."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from harness import HarnessError, images
from harness.checks import digest, disk
from harness.checks.device import partitions, pristine_disk
from harness.checks.ext4tree import read_tree, tool
from harness.methods import get

STATUS = """Package: bash
Status: install ok installed
Architecture: arm64
Version: 5.2.15-2+b2

Package: bc
Status: install ok half-configured
Architecture: arm64
Version: 1.07.1-3
"""
# A journal entry dpkg wrote after the status file: it overrides bash's stanza.
JOURNAL = """Package: bash
Status: install ok installed
Architecture: arm64
Version: 5.2.15-3
"""


@pytest.fixture
def program() -> Path:
    try:
        return tool()
    except HarnessError as e:
        if os.environ.get("BROWNOUT_REQUIRE_IMAGES") == "1":
            raise
        pytest.skip(str(e))


def _tree(root: Path) -> None:
    """A root with what the walk must order, skip and spell as rdump's copy has it."""
    (root / "var/lib/dpkg/updates").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(STATUS)
    (root / "var/lib/dpkg/updates/0001").write_text(JOURNAL)
    (root / "var/lib/dpkg/updates/tmp.i").write_text("being written")
    (root / "var/lib/dpkg/tmp.ci").mkdir()
    (root / "var/lib/dpkg/tmp.ci/control").write_text("scratch")
    (root / "var/lib/apt").mkdir(parents=True)
    (root / "var/lib/apt/extended_states.x1Yz").write_text("apt's temporary file")
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/app").write_bytes(b"version 1")
    (root / "usr/bin/app").chmod(0o4755)
    os.link(root / "usr/bin/app", root / "usr/bin/app-link")
    (root / "usr/bin/empty").write_bytes(b"")
    with open(root / "usr/bin/sparse", "wb") as f:
        f.seek(3 << 20)
        f.write(b"end")
    (root / "usr/share/doc/caf\u00e9").mkdir(parents=True)
    (root / "usr/share/doc/caf\u00e9/README").write_text("names past ASCII")
    (root / "etc").mkdir()
    (root / "etc/secret").write_text("mode 600")
    (root / "etc/secret").chmod(0o600)
    if os.geteuid() == 0:
        os.chown(root / "etc/secret", 1000, 1001)           # mke2fs -d keeps the owner
    (root / "bin").symlink_to("usr/bin")                        # a directory in the tree
    (root / "var/run").symlink_to("/run")                        # one on this machine, as in rdump's copy
    (root / "etc/host-missing").symlink_to("/no/such/directory")
    (root / "etc/broken").symlink_to("nowhere")
    (root / "etc/loop").symlink_to("loop")
    (root / "etc/long-link").symlink_to("x" * 200)               # too long for the inode: in a block
    os.mkfifo(root / "etc/fifo")
    (root / "var/log").mkdir()
    (root / "var/log/syslog").write_text("volatile")
    for name in ("proc", "tmp", "run"):
        (root / name).mkdir()


@pytest.fixture
def image(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    _tree(root)
    out = tmp_path / "fs.ext4"
    subprocess.run(["mke2fs", "-q", "-t", "ext4", "-b", "4096", "-d", str(root), str(out), "16M"], check=True,
                   capture_output=True)
    return out


def _by_rdump(image: Path, root: str = "/") -> tuple[digest.TreeDigest, dict[str, str], list[str], list[str]]:
    with digest.ext4_tree(image, root=root) as tree:
        return (digest.tree_digest(tree, "x"), digest.tree_manifest(tree), digest.installed_packages(tree),
                digest.unsettled_packages(tree))


def test_the_digest_is_the_one_of_debugfs_copy(image: Path, program: Path) -> None:
    found, manifest, installed, unsettled = _by_rdump(image)
    read = read_tree(image, "/", "x", program)
    assert read.digest == found
    assert read.manifest == manifest
    assert list(read.packages) == installed == ["bash arm64 5.2.15-3"]
    assert list(read.unsettled) == unsettled == ["bc install-ok-half-configured"]
    assert "etc/fifo" not in read.manifest and "var/log/syslog" not in read.manifest and "var/log" in read.manifest


def test_a_subtree_is_read_from_its_own_root(tmp_path: Path, program: Path) -> None:
    deployment = tmp_path / "sysroot/ostree/deploy/os/deploy/abc.0"
    _tree(deployment)
    out = tmp_path / "sysroot.ext4"
    subprocess.run(["mke2fs", "-q", "-t", "ext4", "-d", str(tmp_path / "sysroot"), str(out), "16M"], check=True,
                   capture_output=True)
    found, manifest, _, _ = _by_rdump(out, "/ostree/deploy/os/deploy/abc.0")
    read = read_tree(out, "/ostree/deploy/os/deploy/abc.0", "x", program)
    assert read.digest == found and read.manifest == manifest


def test_a_changed_byte_changes_both_alike(image: Path, program: Path) -> None:
    before = read_tree(image, "/", "x", program).digest
    found = subprocess.run(["debugfs", "-R", "blocks /usr/bin/app", str(image)], capture_output=True, text=True)
    block = int(found.stdout.split()[0])
    with open(image, "r+b") as f:
        f.seek(block * 4096)
        f.write(b"V")
    after = read_tree(image, "/", "x", program)
    assert after.digest != before
    assert after.digest == _by_rdump(image)[0]


def test_what_cannot_be_read_is_one_error(tmp_path: Path, image: Path, program: Path) -> None:
    with pytest.raises(HarnessError, match="no /nowhere/var/lib/dpkg/status"):
        read_tree(image, "/nowhere", "x", program)
    zeros = tmp_path / "zeros.ext4"
    zeros.write_bytes(b"\0" * (1 << 20))
    with pytest.raises(HarnessError, match="cannot read a root tree"):
        read_tree(zeros, "/", "x", program)


@pytest.mark.parametrize("method", ["ab", "inplace", "ostree"])
def test_every_built_version_reads_as_itself(method: str, program: Path, tmp_path: Path) -> None:
    """The built roots, read from their images, are the versions the build recorded."""
    try:
        versions = images.require(get(method).digests)
    except HarnessError as e:
        if os.environ.get("BROWNOUT_REQUIRE_IMAGES") == "1":
            raise
        pytest.skip(str(e))
    known = digest.load_known(versions / "digests.jsonl")
    part = {p.name: p for p in partitions(method)}[{"ab": "rootA", "inplace": "root"}.get(method, "ostree")]
    image = disk.extract(pristine_disk(method, "safe"), part, tmp_path / "root.ext4", fmt="raw")
    if method != "ostree":
        read = read_tree(image, "/", part.name, program)
    else:
        found = subprocess.run(["debugfs", "-R", "ls -p /ostree/deploy/brownout/deploy", str(image)],
                               capture_output=True, text=True).stdout
        name = next(field for line in found.splitlines() for field in line.split("/") if field.endswith(".0"))
        read = read_tree(image, f"/ostree/deploy/brownout/deploy/{name}", "ostree", program)
    assert digest.classify(read.digest, known) == "v1"
