"""The image build's cache keys and step graph (no build is run here)."""
from __future__ import annotations

import dataclasses
import re

import pytest

from harness import HarnessError
from harness import images


def keys_for(steps=images.STEPS, **overrides):
    keys: dict[str, str] = {}
    for step in steps:
        step = overrides.get(step.name, step)
        keys[step.name] = images.step_key(step, keys)
    return keys


def test_keys_are_stable() -> None:
    assert keys_for() == keys_for()


def test_a_parameter_change_rebuilds_the_step_and_what_depends_on_it() -> None:
    base = keys_for()
    rootfs = dataclasses.replace(images.STEP_BY_NAME["rootfs"],
                                 params={"ROOTFS_PACKAGES": images.ROOTFS_PACKAGES + ",vim"})
    changed = keys_for(rootfs=rootfs)
    assert changed["rootfs"] != base["rootfs"]
    assert changed["disk-ab"] != base["disk-ab"]
    assert changed["kernel"] == base["kernel"]
    assert changed["initramfs"] == base["initramfs"]


def test_every_dependency_is_built_first() -> None:
    seen: set[str] = set()
    for step in images.STEPS:
        assert set(step.deps) <= seen, f"{step.name} depends on a later step"
        seen.add(step.name)


def test_unknown_step_is_a_clear_error() -> None:
    with pytest.raises(HarnessError, match="unknown build step 'nope'"):
        images.build(only=["nope"])


def test_missing_input_is_a_clear_error() -> None:
    step = dataclasses.replace(images.STEP_BY_NAME["firmware"], inputs=("images/no-such-file",))
    with pytest.raises(HarnessError, match="no-such-file is missing"):
        images.step_key(step, {})


def test_a_disk_step_is_keyed_by_the_boot_script_fragments_it_includes() -> None:
    including = set()
    for step in images.STEPS:
        for script in (p for p in step.inputs if p.endswith(".cmd")):
            text = (images.REPO / script).read_text()
            for fragment in re.findall(r"^\s*#include\s+(\S+)\s*$", text, re.M):
                including.add(step.name)
                assert f"images/boot/{fragment}" in step.inputs, \
                    f"step {step.name}: {script} includes {fragment}, which its key does not cover"
    assert including == {"disk-ab", "disk-asymmetric", "disk-ostree"}
