"""Offline disk checks: a root check is reused for a partition whose fingerprint
(its bytes, read from the qcow2 chain) is one already checked (harness/checks/disk.py)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from harness import NoSpace
from harness.checks import disk
from harness.checks.device import DEVICE_ROOM, Partition, make_overlay

MIB = 1 << 20
PART = Partition(1, "root", 1 * MIB, 2 * MIB)


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def _overlay(base: Path, path: Path) -> Path:
    fmt = "qcow2" if base.suffix == ".qcow2" else "raw"
    _run("qemu-img", "create", "-q", "-f", "qcow2", "-F", fmt, "-b", str(base), str(path))
    return path


def _write(image: Path, offset: int) -> None:
    _run("qemu-io", "-f", "qcow2", "-c", f"write -P 0xab {offset} 64k", str(image))


@pytest.fixture
def chain(tmp_path: Path) -> tuple[Path, Path]:
    """A raw disk with an ext4 partition at 1 MiB, and a frozen qcow2 layer on it."""
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "version").write_text("1\n")
    part = tmp_path / "part.ext4"
    _run("mke2fs", "-q", "-t", "ext4", "-d", str(tree), str(part), "2M")
    base = tmp_path / "base.img"
    data = part.read_bytes()
    with open(base, "wb") as f:
        f.truncate(4 * MIB)
        # Zero blocks left as holes, as the image build's `dd conv=sparse` leaves them.
        for at in range(0, len(data), 4096):
            if data[at:at + 4096].strip(b"\0"):
                f.seek(PART.offset + at)
                f.write(data[at:at + 4096])
    return base, _overlay(base, tmp_path / "frozen.qcow2")


def _key(disk_path: Path, root: str = "/") -> str | None:
    return disk._check_key(disk_path, PART, f"root {root}")


def test_an_untouched_partition_is_named_by_its_layers(chain: tuple[Path, Path], tmp_path: Path) -> None:
    _, frozen = chain
    one = _key(_overlay(frozen, tmp_path / "one.qcow2"))
    two = _key(_overlay(frozen, tmp_path / "two.qcow2"))
    assert one is not None and one == two
    assert _key(_overlay(frozen, tmp_path / "other-root.qcow2"), "/ostree") != one


def test_the_key_follows_the_bytes_written_into_the_partition(chain: tuple[Path, Path], tmp_path: Path) -> None:
    _, frozen = chain
    before = _key(frozen)
    trial = _overlay(frozen, tmp_path / "trial.qcow2")
    _write(trial, PART.offset + PART.size + MIB // 2)       # after the partition: no matter
    assert _key(trial) == before
    _write(trial, PART.offset + 64 * 1024)
    written = _key(trial)
    assert written is not None and written != before
    # Another device that wrote the same bytes there holds the same partition.
    twin = _overlay(frozen, tmp_path / "twin.qcow2")
    _write(twin, PART.offset + 64 * 1024)
    assert _key(twin) == written


def test_a_changed_backing_file_changes_the_key(chain: tuple[Path, Path], tmp_path: Path) -> None:
    _, frozen = chain
    trial = _overlay(frozen, tmp_path / "trial.qcow2")
    before = _key(trial)
    _write(frozen, PART.offset)
    after = _key(trial)
    assert before is not None and after is not None and before != after


def test_a_raw_disk_is_named_by_its_file(chain: tuple[Path, Path]) -> None:
    base, _ = chain
    before = _key(base)
    assert before is not None and _key(base) == before
    with open(base, "r+b") as f:
        f.seek(PART.offset)
        f.write(b"\xff" * 512)
    assert _key(base) != before


def test_check_root_reads_the_bytes_once_per_key(chain: tuple[Path, Path], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _, frozen = chain
    reads: list[Path] = []
    real = disk._check_root_bytes

    def counting(image: Path, part: Partition, root: str, versions: Path | None) -> disk.RootCheck:
        reads.append(image)
        return real(image, part, root, versions)

    monkeypatch.setattr(disk, "_check_root_bytes", counting)
    # A tree without dpkg's database: the digest tool is never run.
    monkeypatch.setattr(disk, "tool", lambda: tmp_path / "no-tool")
    monkeypatch.setattr(disk, "_CHECKED", {})
    monkeypatch.setattr(disk, "CHECKS", tmp_path / "checks")
    first = disk.check_root(_overlay(frozen, tmp_path / "a.qcow2"), PART)
    second = disk.check_root(_overlay(frozen, tmp_path / "b.qcow2"), PART)
    assert first == second and first.fs.clean
    assert len(reads) == 1
    written = _overlay(frozen, tmp_path / "c.qcow2")
    _write(written, PART.offset + PART.size - 64 * 1024)
    disk.check_root(written, PART)
    assert len(reads) == 2
    # Kept on disk: another process finds it without reading the bytes.
    monkeypatch.setattr(disk, "_CHECKED", {})
    assert disk.check_root(_overlay(frozen, tmp_path / "d.qcow2"), PART) == first
    assert len(reads) == 2 and len(list((tmp_path / "checks").glob("*.json"))) == 2


def test_a_device_overlay_on_a_nearly_full_file_system_is_refused_before_it_starts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = tmp_path / "pristine.img"
    base.write_bytes(b"\0" * MIB)
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=512 * MIB))
    with pytest.raises(NoSpace, match=r"only 0\.5 GiB free for a device in .*: free some space"):
        make_overlay(base, tmp_path / "device")
    assert not (tmp_path / "device" / "pristine.qcow2").exists()
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=DEVICE_ROOM))
    assert make_overlay(base, tmp_path / "device").is_file()


def test_a_partition_is_copied_out_whole_and_sparse(chain: tuple[Path, Path], tmp_path: Path) -> None:
    base, frozen = chain
    top = _overlay(frozen, tmp_path / "top.qcow2")
    _write(top, PART.offset + MIB)                   # inside the partition
    _write(top, PART.offset + PART.size)             # just past its end: not its bytes
    out = disk.extract(top, PART, tmp_path / "root.img")
    expected = bytearray(base.read_bytes()[PART.offset:PART.offset + PART.size])
    expected[MIB:MIB + 64 * 1024] = b"\xab" * (64 * 1024)
    assert out.read_bytes() == bytes(expected)
    # The partition's zeros are holes: only its file system's blocks and the write take room.
    assert out.stat().st_blocks * 512 < PART.size
    assert disk.extract(base, PART, tmp_path / "raw.img", fmt="raw").read_bytes() == \
        base.read_bytes()[PART.offset:PART.offset + PART.size]
