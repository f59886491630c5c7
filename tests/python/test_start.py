"""A start or installed disk is built once and kept for other clones: what
decides whether a kept one serves (no guest is booted here)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from harness.trial import start


@pytest.fixture
def kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(start, "KEPT", tmp_path / "cache")
    return tmp_path / "cache"


def base_disk(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    disk = folder / "base.img"
    disk.write_bytes(b"\0" * 1024 * 1024)
    return disk


def builder(backing: Path, calls: list[str]):
    """A build that writes one cluster over `backing` and says what it downloaded."""
    def build(work: Path) -> tuple[Path, dict]:
        calls.append(str(work))
        disk = work / "built.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(backing), str(disk)],
                       check=True)
        subprocess.run(["qemu-io", "-c", "write -P 0x5a 0 64k", str(disk)], check=True, capture_output=True)
        return disk, {"bytes_downloaded": 7}
    return build


def backing_of(disk: Path) -> str:
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(disk)],
                                     capture_output=True, text=True, check=True).stdout)
    return info["backing-filename"]


def test_another_clone_takes_the_kept_disk_set_onto_its_own_base(tmp_path: Path, kept: Path) -> None:
    one, two = base_disk(tmp_path / "one"), base_disk(tmp_path / "two")
    calls: list[str] = []
    key = {"images": {"disk": "k"}, "base": "b1"}
    disk, meta = start._built_once("m-v2", key, one, builder(one, calls), tmp_path / "one" / "starts")
    assert len(calls) == 1 and meta["bytes_downloaded"] == 7
    taken, taken_meta = start._built_once("m-v2", key, two, builder(two, calls), tmp_path / "two" / "starts")
    assert len(calls) == 1, "the second clone built it again"
    assert taken_meta == meta, "the build id and what the build reported travel with the copy"
    assert backing_of(taken) == str(two)
    read = subprocess.run(["qemu-io", "-c", "read -P 0x5a 0 64k", str(taken)], capture_output=True, text=True)
    assert read.returncode == 0 and "Pattern verification failed" not in read.stdout


def test_a_disk_for_another_build_of_the_base_is_built_again(tmp_path: Path, kept: Path) -> None:
    one, two = base_disk(tmp_path / "one"), base_disk(tmp_path / "two")
    calls: list[str] = []
    start._built_once("m-v2", {"images": {}, "base": "b1"}, one, builder(one, calls), tmp_path / "one" / "starts")
    _, meta = start._built_once("m-v2", {"images": {}, "base": "b2"}, two, builder(two, calls),
                                tmp_path / "two" / "starts")
    assert len(calls) == 2
    assert json.loads((kept / "m-v2.json").read_text())["key"]["base"] == "b2", "the newest build is kept"
    first = json.loads((tmp_path / "one" / "starts" / "m-v2.json").read_text())
    assert meta["build"] != first["build"]


def test_the_disk_in_place_serves_without_a_copy_or_a_build(tmp_path: Path, kept: Path) -> None:
    one = base_disk(tmp_path / "one")
    calls: list[str] = []
    key = {"images": {}, "base": "b1"}
    disk, meta = start._built_once("m-v2", key, one, builder(one, calls), tmp_path / "one" / "starts")
    (kept / "m-v2.qcow2").unlink()
    again, meta_again = start._built_once("m-v2", key, one, builder(one, calls), tmp_path / "one" / "starts")
    assert (again, meta_again) == (disk, meta) and len(calls) == 1


def test_a_broken_kept_copy_is_built_instead(tmp_path: Path, kept: Path) -> None:
    one, two = base_disk(tmp_path / "one"), base_disk(tmp_path / "two")
    calls: list[str] = []
    key = {"images": {}, "base": "b1"}
    start._built_once("m-v2", key, one, builder(one, calls), tmp_path / "one" / "starts")
    (kept / "m-v2.qcow2").write_bytes(b"not a qcow2")
    start._built_once("m-v2", key, two, builder(two, calls), tmp_path / "two" / "starts")
    assert len(calls) == 2


@pytest.fixture
def adoptable(tmp_path: Path, kept: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A method whose pristine disk is base.img under tmp_path/one, and whose images key is fixed."""
    pristine = base_disk(tmp_path / "one")
    monkeypatch.setattr(start, "pristine_disk", lambda method, client="safe": pristine)
    monkeypatch.setattr(start, "_disk_key", lambda method, base, client="safe": {"images": {"d": "k"},
                                                                                 "base": "b1"})
    return pristine


def test_a_recorded_updates_disk_is_adopted_as_its_installed_disk_and_serves_without_a_build(
        tmp_path: Path, adoptable: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.trial import run
    left = builder(adoptable, [])(tmp_path)[0]
    starts = tmp_path / "one" / "starts"
    starts.mkdir()
    spec = run.TrialSpec("ab", "v2")
    adopted = start.adopt_installed(spec, left, 300, 400, starts)
    subprocess.run(["qemu-io", "-c", "write -P 0x11 0 64k", str(left)], check=True, capture_output=True)
    read = subprocess.run(["qemu-io", "-c", "read -P 0x5a 0 64k", str(adopted.disk)], capture_output=True, text=True)
    assert read.returncode == 0 and "Pattern verification failed" not in read.stdout, \
        "the adopted disk is a copy: what the run writes on afterwards is not in it"
    assert backing_of(adopted.disk) == str(adoptable)
    assert (adopted.bytes_downloaded, adopted.bytes_written) == (300, 400)

    def no_install(*args: object, **kwargs: object) -> None:
        raise AssertionError("installed_disk ran the update although a disk was adopted")
    monkeypatch.setattr(run, "install", no_install)
    assert start.installed_disk(spec, directory=starts) == adopted
    again = start.adopt_installed(spec, left, 1, 2, starts)
    assert again == adopted, "a disk built already stays: another adoption does not replace it"


def test_only_an_update_from_the_factory_disk_is_adopted(tmp_path: Path, adoptable: Path) -> None:
    from harness.trial import run
    with pytest.raises(start.HarnessError, match="from v1"):
        start.adopt_installed(run.TrialSpec("ab", "v3", start="v2"), tmp_path / "x.qcow2", 0, 0, tmp_path)
