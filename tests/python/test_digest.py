"""Root tree digests: what changes a version's identity and what does not."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import HarnessError
from harness.checks.digest import (classify, installed_packages, load_known, manifest_diff, nearest,
                                   tree_digest, tree_manifest, unsettled_packages)
from harness.checks.digest import main as digest_main
from harness.checks.device import Partition

STATUS = """Package: bash
Status: install ok installed
Architecture: arm64
Version: 5.2.15-2+b2
Description: shell
 continuation line: not a field

Package: bc
Status: deinstall ok config-files
Architecture: arm64
Version: 1.07.1-3

Package: apt
Status: install ok installed
Architecture: arm64
Version: 2.6.1
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(STATUS)
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/app").write_bytes(b"version 1")
    (root / "usr/bin/app").chmod(0o755)
    (root / "bin").symlink_to("usr/bin")
    (root / "var/log").mkdir()
    (root / "tmp").mkdir()
    return root


def test_packages_lists_only_installed_sorted(tree: Path) -> None:
    assert installed_packages(tree) == ["apt arm64 2.6.1", "bash arm64 5.2.15-2+b2"]


def test_same_tree_same_digest(tree: Path) -> None:
    assert tree_digest(tree).digest == tree_digest(tree).digest


@pytest.mark.parametrize("change", ["content", "mode", "new-file", "symlink", "owner", "package"])
def test_a_change_changes_the_digest(tree: Path, change: str) -> None:
    before = tree_digest(tree)
    app = tree / "usr/bin/app"
    if change == "content":
        app.write_bytes(b"version 2")
    elif change == "mode":
        app.chmod(0o700)
    elif change == "new-file":
        (tree / "usr/bin/bc").write_bytes(b"")
    elif change == "symlink":
        (tree / "bin").unlink()
        (tree / "bin").symlink_to("/usr/bin")
    elif change == "owner":
        os.chown(app, 1000, 1000)
    elif change == "package":
        status = tree / "var/lib/dpkg/status"
        status.write_text(status.read_text().replace("deinstall ok config-files", "install ok installed"))
    after = tree_digest(tree)
    assert after.digest != before.digest
    assert (after.packages != before.packages) == (change == "package")


def test_runtime_state_is_ignored(tree: Path) -> None:
    before = tree_digest(tree)
    (tree / "var/log/boot.log").write_text("booted")
    (tree / "tmp/x").write_text("x")
    assert tree_digest(tree).digest == before.digest


def test_classify_exact_or_mixed(tree: Path) -> None:
    v1 = tree_digest(tree, "v1")
    (tree / "usr/bin/app").write_bytes(b"version 2")
    v2 = tree_digest(tree, "v2")
    (tree / "usr/bin/half").write_bytes(b"")
    torn = tree_digest(tree)
    assert classify(v1, [v1, v2]) == "v1"
    assert classify(v2, [v1, v2]) == "v2"
    assert classify(torn, [v1, v2]) == "mixed"


def test_not_a_debian_tree(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="not a Debian root tree"):
        tree_digest(tmp_path)


def test_a_recorded_digest_names_an_identical_tree_elsewhere(tree: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The build records a version's digest as a JSON line (digest's CLI); the
    check reads it back with load_known and classifies a tree found at another
    path, as a device's root is."""
    assert digest_main(["tree", str(tree), "--label", "v1"]) == 0
    (tmp_path / "digests.jsonl").write_text(capsys.readouterr().out)
    known = load_known(tmp_path / "digests.jsonl")
    assert known == [tree_digest(tree, "v1")]
    copy = tmp_path / "elsewhere" / "root"
    shutil.copytree(tree, copy, symlinks=True)
    assert classify(tree_digest(copy), known) == "v1"
    (copy / "usr/bin/app").write_bytes(b"version 2")
    assert classify(tree_digest(copy), known) == "mixed"


def _disk_with_root(tree: Path, tmp: Path, name: str) -> tuple[Path, Partition]:
    """A qcow2 disk holding one MiB-aligned ext4 partition made from `tree` (no mount)."""
    fs = tmp / f"{name}.ext4"
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-d", str(tree), str(fs), "8M"], check=True)
    disk = tmp / f"{name}.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(fs), str(disk)], check=True)
    return disk, Partition(1, "root", 0, 8 << 20)


def test_root_check_is_reused_for_the_same_bytes_only(
        tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.checks import disk as disk_mod
    monkeypatch.setattr(disk_mod, "CHECKS", tmp_path / "checks")
    disk, part = _disk_with_root(tree, tmp_path, "a")
    first = disk_mod.check_root(disk, part)
    assert first.fs.clean and first.digest is not None
    assert first.digest.digest == tree_digest(tree, "root").digest
    assert len(list((tmp_path / "checks").glob("*.json"))) == 1
    again = disk_mod.check_root(disk, part)
    assert again == first
    # Other bytes, another key: a changed tree is checked afresh, never served from the cache.
    (tree / "usr/bin/app").write_bytes(b"version 2")
    other, part = _disk_with_root(tree, tmp_path, "b")
    changed = disk_mod.check_root(other, part)
    assert changed.digest is not None and changed.digest.digest != first.digest.digest
    assert len(list((tmp_path / "checks").glob("*.json"))) == 2


def test_manifest_names_each_path_and_package(tree: Path) -> None:
    manifest = tree_manifest(tree)
    assert set(manifest) == {"bin", "tmp", "usr", "var", "usr/bin", "usr/bin/app", "var/lib", "var/lib/dpkg",
                             "var/lib/dpkg/status", "var/log", "package apt arm64", "package bash arm64"}
    assert manifest["package bash arm64"] == "5.2.15-2+b2"


def test_nearest_version_and_the_paths_that_differ(tree: Path) -> None:
    v1 = tree_manifest(tree)
    (tree / "usr/bin/app").write_bytes(b"version 2")
    (tree / "usr/bin/bc").write_bytes(b"bc")
    v2 = tree_manifest(tree)
    # Torn: v2's files and a stray temp file.
    (tree / "usr/bin/app.dpkg-new").write_bytes(b"version 2")
    torn = tree_manifest(tree)
    assert manifest_diff(v1, v1) == []
    assert nearest(torn, {"v1": v1, "v2": v2}) == ("v2", ["+usr/bin/app.dpkg-new"])
    (tree / "usr/bin/bc").unlink()
    assert nearest(tree_manifest(tree), {"v1": v1}) == ("v1", ["~usr/bin/app", "+usr/bin/app.dpkg-new"])
    assert nearest(tree_manifest(tree), {"v2": v2}) == ("v2", ["+usr/bin/app.dpkg-new", "-usr/bin/bc"])
    with pytest.raises(HarnessError, match="no known manifests"):
        nearest(torn, {})


def test_check_root_names_what_differs_from_the_nearest_version(tree: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.checks import disk as disk_mod
    monkeypatch.setattr(disk_mod, "CHECKS", tmp_path / "checks")
    versions = tmp_path / "versions"
    versions.mkdir()
    with open(versions / "digests.jsonl", "w") as out:
        for label in ("v1", "v2"):
            if label == "v2":
                (tree / "usr/bin/app").write_bytes(b"version 2")
            monkeypatch.setattr("sys.stdout", out)
            assert digest_main(["tree", str(tree), "--label", label,
                                "--manifest", str(versions / "manifests" / f"{label}.json")]) == 0
    monkeypatch.undo()
    monkeypatch.setattr(disk_mod, "CHECKS", tmp_path / "checks")
    exact, part = _disk_with_root(tree, tmp_path, "exact")
    assert disk_mod.check_root(exact, part, versions=versions).nearest == ""
    (tree / "var/lib/dpkg/status-new").write_text(STATUS)
    torn, part = _disk_with_root(tree, tmp_path, "torn")
    checked = disk_mod.check_root(torn, part, versions=versions)
    assert (checked.nearest, checked.differ_count, checked.differs) == ("v2", 1, ("+var/lib/dpkg/status-new",))
    # Served from the cache, the comparison is the same.
    monkeypatch.setattr(disk_mod, "_CHECKED", {})
    assert disk_mod.check_root(torn, part, versions=versions) == checked
    # Without the manifests the check says so, rather than judge without them.
    for manifest in (versions / "manifests").iterdir():
        manifest.unlink()
    (tree / "var/lib/dpkg/status-new").write_text(STATUS + "\n")
    other, part = _disk_with_root(tree, tmp_path, "other")
    with pytest.raises(HarnessError, match="version manifests .* build --force"):
        disk_mod.check_root(other, part, versions=versions)


def test_apt_and_dpkg_bookkeeping_is_not_part_of_a_version(tree: Path) -> None:
    (tree / "var/lib/apt").mkdir(parents=True)
    before = tree_digest(tree)
    (tree / "var/lib/apt/extended_states").write_text("Package: bc\nAuto-Installed: 1\n")
    (tree / "var/lib/dpkg/status-old").write_text(STATUS)
    (tree / "var/lib/dpkg/available").write_text("")
    assert tree_digest(tree).digest == before.digest
    # dpkg's journal is not bookkeeping: a half-done run shows.
    (tree / "var/lib/dpkg/updates").mkdir()
    (tree / "var/lib/dpkg/updates/0000").write_text("Package: bc\n")
    assert tree_digest(tree).digest != before.digest


def test_scratch_left_by_a_cut_is_not_part_of_a_version(tree: Path) -> None:
    (tree / "var/lib/dpkg/updates").mkdir()
    (tree / "var/lib/apt").mkdir(parents=True)
    before = tree_digest(tree)
    (tree / "var/lib/apt/extended_states.bsqUTX").write_text("Package: bc\n")
    (tree / "var/lib/dpkg/updates/tmp.i").write_text("#padding\n" * 512)
    (tree / "var/lib/dpkg/tmp.ci").mkdir()
    (tree / "var/lib/dpkg/tmp.ci/control").write_text("Package: brownout-app\nVersion: 2\n")
    assert tree_digest(tree).digest == before.digest
    # A name that only starts like the scratch directory is a file of its own.
    (tree / "var/lib/dpkg/tmp.cif").write_text("x")
    assert tree_digest(tree).digest != before.digest


def test_unsettled_packages_are_what_dpkg_audit_lists(tree: Path) -> None:
    assert unsettled_packages(tree) == []
    status = STATUS + "\nPackage: brownout-app\nStatus: install reinstreq half-installed\nVersion: 2\n" \
        "\nPackage: zz\nStatus: install ok unpacked\nVersion: 1\n"
    (tree / "var/lib/dpkg/status").write_text(status)
    assert unsettled_packages(tree) == ["brownout-app install-reinstreq-half-installed",
                                        "zz install-ok-unpacked"]


def test_dpkg_journal_entries_override_the_status_file(tree: Path) -> None:
    updates = tree / "var/lib/dpkg/updates"
    updates.mkdir()
    (updates / "0000").write_text("Package: bc\nStatus: install reinstreq half-installed\n"
                                  "Architecture: arm64\nVersion: 1.07.1-3\n")
    (updates / "0001").write_text("Package: bc\nStatus: install ok unpacked\nArchitecture: arm64\n"
                                  "Version: 1.07.1-3\n")
    (updates / "tmp.i").write_text("Package: bc\nStatus: install ok installed\nArchitecture: arm64\n")
    assert unsettled_packages(tree) == ["bc install-ok-unpacked"]
    assert "bc" not in [p.split()[0] for p in installed_packages(tree)]
