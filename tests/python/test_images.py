"""The image build's cache keys and step graph (no build is run here)."""
from __future__ import annotations

import dataclasses
import re
import shutil

import pytest

from harness import HarnessError
from harness import images


def keys_for(**overrides):
    keys: dict[str, str] = {}
    for step in images.steps():
        step = overrides.get(step.name, step)
        keys[step.name] = images.step_key(step, keys)
    return keys


def test_the_kernel_config_is_the_kernel_steps_input_and_says_only_settings() -> None:
    kernel = images.by_name("kernel")
    assert "images/kernel.config" in kernel.inputs
    setting = re.compile(r'CONFIG_[A-Z0-9_]+=(y|m|-?[0-9]+|0x[0-9a-f]+|"[^"]*")')
    lines = (images.REPO / "images/kernel.config").read_text().splitlines()
    bad = [line for line in lines if line.strip() and not line.startswith("#") and not setting.fullmatch(line)]
    assert not bad, "allnoconfig would not take these as settings"


def test_keys_are_stable() -> None:
    assert keys_for() == keys_for()


def test_a_parameter_change_rebuilds_the_step_and_what_depends_on_it() -> None:
    base = keys_for()
    rootfs_base = images.by_name("rootfs-base")
    rootfs_base = dataclasses.replace(rootfs_base,
                                      params={"ROOTFS_PACKAGES": rootfs_base.params["ROOTFS_PACKAGES"] + ",vim"})
    changed = keys_for(**{"rootfs-base": rootfs_base})
    assert changed["rootfs-base"] != base["rootfs-base"]
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


def test_the_longest_step_needs_no_other_and_starts_first() -> None:
    assert images.steps()[0].name == "rootfs-base" and images.steps()[0].deps == ()


def test_every_method_adds_its_packages_and_boot_hook_to_the_root_trees() -> None:
    rootfs = images.by_name("rootfs")
    packages = images.by_name("rootfs-base").params["ROOTFS_PACKAGES"].split(",")
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
    # ostree was never built here: a first build's time stands in for it.
    assert images.time_left(["rootfs", "ostree"], durations) == \
        "about 7:37 left (1 of 2 steps at a first build's times: never built here)"
    assert images.time_left(["ostree", "disk-ostree"], durations) == \
        "about 1:00 left (a first build's times: no step left was built here before)"


def test_a_first_builds_estimate_builds_the_rest_beside_mmdebstrap() -> None:
    everything = [step.name for step in images.steps()]
    assert set(images.FIRST_BUILD_S) <= set(everything), "a first build's time for a step that is gone"
    alone, side_by_side = images.time_left(everything, {}, jobs=1), images.time_left(everything, {}, jobs=2)
    seconds = [int(m) * 60 + int(s) for m, s in (text.split()[1].split(":") for text in (alone, side_by_side))]
    # Two at a time, the build takes rootfs-base's time and what must follow it, not the sum.
    assert seconds[1] < seconds[0] - images.FIRST_BUILD_S["firmware"] + 10, (alone, side_by_side)


def test_the_time_left_counts_steps_built_side_by_side() -> None:
    durations = {"kernel": 30.0, "firmware": 85.0, "rootfs": 400.4}
    assert images.time_left(["kernel", "firmware"], durations, jobs=2) == "about 1:25 left"
    # rootfs is built from the kernel step: it waits for it, whatever the jobs.
    assert images.time_left(["kernel", "firmware", "rootfs"], durations, jobs=2) == "about 7:10 left"
    assert images.time_left(["kernel", "firmware", "rootfs"], durations, jobs=1) == "about 8:35 left"


def test_a_running_steps_time_left_counts_what_it_has_run() -> None:
    durations = {"kernel": 300.0, "firmware": 85.0, "rootfs": 20.0}
    assert images.time_left(["kernel", "firmware", "rootfs"], durations, jobs=2,
                            running_for={"kernel": 240.0, "firmware": 30.0}) == "about 1:20 left"
    # Past its estimate, a step is counted as ending now, and the line says so.
    assert images.time_left(["kernel", "rootfs"], durations, jobs=2, running_for={"kernel": 310.0}) == \
        "about 0:20 left (kernel already longer than estimated)"


@pytest.fixture
def graph(tmp_path, monkeypatch):
    """A build of `scripts` (step name -> (script, deps)) in a tiny repository,
    two steps at a time; each script's runs go to runs.log in order of their end."""
    repo = tmp_path / "repo"
    (repo / "images").mkdir(parents=True)
    (repo / "images" / "lib.sh").write_text("")
    monkeypatch.setattr(images, "REPO", repo)
    monkeypatch.setattr(images, "CACHE", tmp_path / "cache")
    monkeypatch.setattr(images, "KEPT", tmp_path / "cache" / "steps")
    monkeypatch.setattr(images, "DURATIONS", tmp_path / "cache" / "step-seconds.json")
    monkeypatch.setattr(images, "IMAGES", tmp_path / "build")
    monkeypatch.setattr(images, "BUILD_JOBS", 2)

    def build(scripts: dict[str, tuple[str, tuple[str, ...]]]) -> list[str]:
        for name, (script, _) in scripts.items():
            (repo / "images" / f"{name}.sh").write_text(f'cd "{tmp_path}"\n{script}\necho {name} >> runs.log\n')
        steps = tuple(images.Step(name, f"{name}.sh", deps=deps) for name, (_, deps) in scripts.items())
        monkeypatch.setattr(images, "steps", lambda: steps)
        try:
            images.build()
        finally:
            log = tmp_path / "runs.log"
            runs = log.read_text().split() if log.exists() else []
        return runs
    return build, tmp_path


def test_steps_that_need_not_wait_for_each_other_are_built_side_by_side(graph) -> None:
    build, _ = graph
    # Each waits (10 s at most) for the other to have started: only side by side do both end.
    meet = 'touch {0}.started; for i in $(seq 100); do [ -e {1}.started ] && exit_ok=1 && break; sleep 0.1; done\n' \
           '[ -n "${{exit_ok:-}}" ]'
    runs = build({"one": (meet.format("one", "two"), ()), "two": (meet.format("two", "one"), ()),
                  "top": ("", ("one", "two"))})
    assert sorted(runs[:2]) == ["one", "two"] and runs[2:] == ["top"]


def test_the_ready_step_on_the_longest_chain_starts_first(graph, monkeypatch) -> None:
    build, root = graph
    monkeypatch.setattr(images, "BUILD_JOBS", 1)
    (root / "cache").mkdir()
    images.write_seconds(images.DURATIONS, {"short": 5.0, "other": 5.0, "head": 5.0, "tail": 50.0})
    # Listed first, the short ones would go first; the chain head-tail is the build's longest.
    runs = build({"short": ("", ()), "other": ("", ()), "head": ("", ()), "tail": ("", ("head",))})
    assert runs == ["head", "tail", "short", "other"]


def test_the_build_order_keeps_every_dependency_first() -> None:
    names = [step.name for step in images.steps()]
    for durations in ({}, {name: 0.0 for name in names}, {"kernel": 1.0, "initramfs": 900.0}):
        order = images.by_priority(names, durations)
        for name in order:
            assert all(order.index(d) < order.index(name) for d in images.by_name(name).deps), (name, order)


def test_a_failed_step_starts_nothing_more_and_lets_the_running_one_end(graph) -> None:
    build, root = graph
    with pytest.raises(HarnessError, match="image build step 'bad' failed"):
        build({"slow": ("sleep 1", ()), "bad": ("exit 3", ()), "after": ("", ("bad",)),
               "later": ("", ())})
    assert (root / "runs.log").read_text().split() == ["slow"]
    assert (root / "build" / "slow").is_dir() and not (root / "build" / "after").exists()


@pytest.fixture
def two_clones(tmp_path, monkeypatch):
    """Two steps (`base`, and `top` built from it) of a tiny repository, and a
    function that builds them in a clone's build folder beside one shared
    cache; each script counts its runs in runs.log."""
    repo = tmp_path / "repo"
    (repo / "images").mkdir(parents=True)
    (repo / "images" / "lib.sh").write_text("")
    for name in ("base", "top"):
        (repo / "images" / f"{name}.sh").write_text(
            f'echo {name} >> "{tmp_path}/runs.log"\nhead -c 16 /dev/urandom > "$OUT/{name}.bin"\n')
    graph = (images.Step("base", "base.sh"), images.Step("top", "top.sh", deps=("base",)))
    monkeypatch.setattr(images, "REPO", repo)
    monkeypatch.setattr(images, "steps", lambda: graph)
    monkeypatch.setattr(images, "CACHE", tmp_path / "cache")
    monkeypatch.setattr(images, "KEPT", tmp_path / "cache" / "steps")
    monkeypatch.setattr(images, "DURATIONS", tmp_path / "cache" / "step-seconds.json")

    def build(clone: str, **kwargs) -> list[str]:
        monkeypatch.setattr(images, "IMAGES", tmp_path / clone)
        log = tmp_path / "runs.log"
        log.unlink(missing_ok=True)
        images.build(**kwargs)
        return log.read_text().split() if log.exists() else []
    return build, tmp_path


def test_kept_outputs_serve_another_clone_byte_for_byte(two_clones) -> None:
    build, root = two_clones
    assert build("one") == ["base", "top"]
    first = images.last_build()
    assert first is not None and set(first["steps"]) == {"base", "top"}
    assert all(isinstance(s, float) for s in first["steps"].values()) and first["began"] <= first["ended"]
    assert build("two") == []
    assert images.last_build()["steps"] == {"base": None, "top": None}, "taken, not built"
    for name in ("base", "top"):
        assert (root / "two" / name / f"{name}.bin").read_bytes() == (root / "one" / name / f"{name}.bin").read_bytes()
        assert images.build_id(root / "two" / name) == images.build_id(root / "one" / name)
    taken = images.last_build()
    assert build("two") == [], "taken outputs are up to date"
    assert images.last_build() == taken, "a build with nothing to do leaves the last one's record"


def test_an_output_built_from_another_build_of_its_dep_is_not_taken(two_clones) -> None:
    build, root = two_clones
    build("one")
    shutil.rmtree(images.KEPT / "base")
    # base is built afresh, so the kept top, built from the first clone's base, does not fit.
    assert build("two") == ["base", "top"]
    assert images.built_from(root / "two" / "top") == {"base": images.build_id(root / "two" / "base")}


def test_a_dep_built_again_builds_what_depends_on_it(two_clones) -> None:
    build, _ = two_clones
    build("one")
    assert build("one", only=["base"], force=True) == ["base"]
    assert build("one") == ["top"], "top was built from the base that was replaced"


def test_a_kept_copy_without_its_build_id_is_built_instead(two_clones) -> None:
    build, _ = two_clones
    build("one")
    for kept in (images.KEPT / "base").iterdir():
        (kept / images.BUILD_ID_FILE).unlink()
    assert build("two") == ["base", "top"]


def test_each_step_keeps_its_newest_outputs_only(two_clones) -> None:
    build, root = two_clones
    for n in range(images.KEPT_PER_STEP + 2):
        (images.REPO / "images" / "base.sh").write_text(
            (images.REPO / "images" / "base.sh").read_text() + f"# change {n}\n")
        build("one")
    assert len(list((images.KEPT / "base").iterdir())) == images.KEPT_PER_STEP
    assert images.build_id(images.KEPT / "base" / images.built_key(images.by_name("base"))) \
        == images.build_id(root / "one" / "base")


def test_a_long_step_is_reported_while_it_runs(graph, monkeypatch, caplog) -> None:
    build, _ = graph
    monkeypatch.setattr(images, "PROGRESS_INTERVAL_S", 0.1)
    with caplog.at_level("INFO", logger=images.log.name):
        build({"slow": ("sleep 1", ()), "after": ("", ("slow",))})
    lines = [r.getMessage() for r in caplog.records if "building slow for" in r.getMessage()]
    assert lines and lines[0].startswith("0/2 steps done; building slow for 0:00: about "), lines
    assert "left" in lines[-1]
