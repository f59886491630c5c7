"""The host side of the method contract: each method module is checked when the
package loads, and one that breaks the contract is refused with one line."""
from __future__ import annotations

import dataclasses
import sys
import types

import pytest

from harness import HarnessError
from harness.images import by_name, disk_step
from harness.methods import METHODS, REGISTERED, Method, load
from harness.methods.ab import root_of


@pytest.fixture
def method_module(monkeypatch: pytest.MonkeyPatch):
    def install(name: str, method: object) -> str:
        module = types.ModuleType(f"harness.methods.{name}")
        if method is not None:
            module.METHOD = method  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, module.__name__, module)
        return name
    return install


def test_every_registered_method_is_loaded_with_its_phases() -> None:
    assert tuple(METHODS) == REGISTERED
    assert METHODS["inplace"].phases == ("pull", "deploy")
    assert METHODS["ab"].phases == ("pull", "deploy", "bootloader", "confirm")
    assert METHODS["ab"].update_phases == ("pull", "deploy", "bootloader")


def test_a_method_with_a_missing_disk_step_is_refused(method_module) -> None:
    name = method_module("nodisk", Method("nodisk", (), "disk-nodisk", "x.img", root_of, payload_steps=("rootfs",)))
    with pytest.raises(HarnessError, match=r"^method 'nodisk' breaks the method contract: "
                                           r"its disk step 'disk-nodisk' is not among its image_steps$"):
        load((name,))


def test_a_method_step_on_a_step_that_does_not_exist_is_refused(method_module) -> None:
    steps = (disk_step("orphan", deps=("kernel", "no-such-step")),)
    name = method_module("orphan", Method("orphan", steps, "disk-orphan", "x.img", root_of))
    with pytest.raises(HarnessError) as e:
        load((name,))
    text = str(e.value)
    assert "image step 'disk-orphan' depends on 'no-such-step', which is not an image step" in text
    assert "it names no payload step" in text
    assert "\n" not in text


def test_a_method_on_root_trees_that_are_not_built_is_refused(method_module) -> None:
    name = method_module("roots", dataclasses.replace(METHODS["ab"], name="roots", roots="rootfs-small"))
    with pytest.raises(HarnessError, match="its roots 'rootfs-small' are neither 'rootfs' nor 'rootfs-lean'"):
        load((name,))


def test_the_slot_methods_run_the_lean_trees_and_the_others_the_full_ones() -> None:
    assert {m.name for m in METHODS.values() if m.roots == "rootfs-lean"} == {"ab", "asymmetric", "rauc"}
    for method in ("ab", "asymmetric", "rauc"):
        assert "rootfs-lean" in METHODS[method].record_steps and METHODS[method].digests == "rootfs-lean"
    # What rootfs-base keeps in the lean base: the lean methods' packages, not the others'.
    lean = by_name("rootfs-base").params["LEAN_PACKAGES"].split()
    assert {"rauc", "libubootenv-tool", "libcurl4"} <= set(lean) and not {"apt", "ostree"} & set(lean)


def test_a_phase_rule_for_a_phase_the_method_lacks_is_refused(method_module) -> None:
    broken = dataclasses.replace(METHODS["inplace"], name="rules",
                                 phase_rules=("deploy path=/dev/vda2", "bootloader path=/dev/vda1", "pull"))
    name = method_module("rules", broken)
    with pytest.raises(HarnessError) as e:
        load((name,))
    text = str(e.value)
    assert "phase rule 2 names phase 'bootloader', not one of its phases (pull, deploy)" in text
    assert "phase rule 3 'pull' is not '<phase> path=<glob> [key=value ...]'" in text
    assert "\n" not in text


def test_a_module_without_a_method_is_refused(method_module) -> None:
    name = method_module("empty", None)
    with pytest.raises(HarnessError, match="method 'empty': harness/methods/empty.py defines no METHOD"):
        load((name,))


def test_a_method_named_unlike_its_module_is_refused(method_module) -> None:
    name = method_module("other", METHODS["ab"])
    with pytest.raises(HarnessError, match="its METHOD is named 'ab'"):
        load((name,))


def test_the_in_place_judge_reads_what_dpkg_left() -> None:
    root = types.SimpleNamespace(packages=("bc 1.07 1.07.1-3", "brownout-app arm64 2"),
                                 unsettled=("bc half-installed",),
                                 has_package=lambda n: n == "bc")
    judge = METHODS["inplace"].judge.root
    assert judge is not None
    found = judge(root)  # type: ignore[arg-type]
    assert found.facts == {"unsettled": ["bc half-installed"], "brownout-app": "2", "bc": "installed"}
    assert found.notes == ("dpkg: bc half-installed",)


def test_a_fixture_disk_must_be_a_step_of_the_method_and_its_client(method_module) -> None:
    broken = dataclasses.replace(METHODS["ab"], name="fixtures",
                                 client_disks={"single-env": "disk-elsewhere", "ghost": "disk-ab"})
    name = method_module("fixtures", broken)
    with pytest.raises(HarnessError) as e:
        load((name,))
    text = str(e.value)
    assert "client 'single-env' has its disk from step 'disk-elsewhere', which is not among its image_steps" in text
    assert "client 'ghost' has a disk of its own, but is not one of its clients" in text


def test_the_ab_fixture_devices_have_disks_of_their_own() -> None:
    ab = METHODS["ab"]
    steps = {s.name: s for s in ab.image_steps}
    for client, step in ab.client_disks.items():
        assert client in ab.clients and step in steps
        assert steps[step].params["FIXTURE"] == client and "disk-ab" in steps[step].deps
