"""The image build's cache keys and step graph (no build is run here)."""
from __future__ import annotations

import dataclasses
import re

import pytest

from harness import HarnessError
from harness import images


def keys_for(**overrides):
    keys: dict[str, str] = {}
    for step in images.steps():
        step = overrides.get(step.name, step)
        keys[step.name] = images.step_key(step, keys)
    return keys


def test_keys_are_stable() -> None:
    assert keys_for() == keys_for()


def test_a_parameter_change_rebuilds_the_step_and_what_depends_on_it() -> None:
    base = keys_for()
    rootfs = images.by_name("rootfs")
    rootfs = dataclasses.replace(rootfs, params={"ROOTFS_PACKAGES": rootfs.params["ROOTFS_PACKAGES"] + ",vim"})
    changed = keys_for(rootfs=rootfs)
    assert changed["rootfs"] != base["rootfs"]
    assert changed["disk-ab"] != base["disk-ab"]
    assert changed["kernel"] == base["kernel"]
    assert changed["initramfs"] == base["initramfs"]


def test_every_dependency_is_built_first() -> None:
    seen: set[str] = set()
    for step in images.steps():
        assert set(step.deps) <= seen, f"{step.name} depends on a later step"
        seen.add(step.name)


def test_unknown_step_is_a_clear_error() -> None:
    with pytest.raises(HarnessError, match="unknown build step 'nope'"):
        images.build(only=["nope"])


def test_missing_input_is_a_clear_error() -> None:
    step = dataclasses.replace(images.by_name("firmware"), inputs=("images/no-such-file",))
    with pytest.raises(HarnessError, match="no-such-file is missing"):
        images.step_key(step, {})


def test_a_disk_step_is_keyed_by_the_boot_script_fragments_it_includes() -> None:
    including = set()
    for step in images.steps():
        for script in (p for p in step.inputs if p.endswith(".cmd")):
            text = (images.REPO / script).read_text()
            # A fixture's disk takes its fragments from its own folder (BOOT_FRAGMENTS).
            fixture = step.params.get("FIXTURE")
            folder = f"tests/fixtures/{fixture}" if fixture else "images/boot"
            for fragment in re.findall(r"^\s*#include\s+(\S+)\s*$", text, re.M):
                including.add(step.name)
                assert f"{folder}/{fragment}" in step.inputs or (fixture and folder in step.inputs), \
                    f"step {step.name}: {script} includes {fragment}, which its key does not cover"
                assert (images.REPO / folder / fragment).is_file()
    assert including == {"disk-ab", "disk-asymmetric", "disk-ostree", "disk-rauc",
                         "disk-ab-single-env", "disk-ab-boot-text"}


def test_every_method_adds_its_packages_and_boot_hook_to_the_root_trees() -> None:
    rootfs = images.by_name("rootfs")
    packages = rootfs.params["ROOTFS_PACKAGES"].split(",")
    assert packages[:len(images.COMMON_ROOTFS_PACKAGES)] == list(images.COMMON_ROOTFS_PACKAGES)
    assert {"apt", "ostree", "libubootenv-tool"} <= set(packages)
    assert len(packages) == len(set(packages)), "a package shared by two methods is listed once"
    for method in ("ab", "asymmetric", "inplace", "ostree"):
        assert f"images/methods/{method}/boot.d" in rootfs.inputs


def test_package_lists_skip_comments_and_blank_lines(tmp_path, monkeypatch) -> None:
    (tmp_path / "images" / "methods" / "one").mkdir(parents=True)
    (tmp_path / "images" / "methods" / "two").mkdir(parents=True)
    (tmp_path / "images" / "methods" / "one" / "packages").write_text("# what one needs\nfoo\n\nbar  # bar too\n")
    (tmp_path / "images" / "methods" / "two" / "packages").write_text("bar\nbaz\n")
    monkeypatch.setattr(images, "REPO", tmp_path)
    assert images.package_list(("base",), "packages") == "base,foo,bar,baz"


def test_each_method_step_lives_in_its_own_folder() -> None:
    from harness.methods import METHODS
    for method in METHODS.values():
        for step in method.image_steps:
            assert step.script.startswith(f"methods/{method.name}/"), step
            assert (images.REPO / "images" / step.script).is_file(), step


def test_a_builds_time_left_comes_from_the_steps_last_durations() -> None:
    durations = {"kernel": 30.0, "rootfs": 400.4, "disk-ab": 12.0}
    assert images.time_left(["rootfs", "disk-ab"], durations) == "about 6:52 left"
    assert images.time_left(["rootfs", "ostree"], durations) == "about 6:40 left (+ 1 steps never timed)"
    assert images.time_left(["ostree"], durations) == "time left unknown (no step left was ever timed here)"
