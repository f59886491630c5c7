"""The built root trees, full and lean: four versions that their digests tell apart."""
from __future__ import annotations

import os

import pytest

from harness import HarnessError, images
from harness.checks.digest import classify, ext4_digest, installed_packages, load_known

pytestmark = pytest.mark.e2e


def built(step: str):
    try:
        return images.require(step)
    except HarnessError as e:
        if os.environ.get("BROWNOUT_REQUIRE_IMAGES") == "1":
            raise
        pytest.skip(str(e))


@pytest.fixture(scope="module", params=[images.ROOTS, images.LEAN_ROOTS])
def rootfs(request):
    return built(request.param)


def test_the_lean_trees_are_the_full_ones_without_what_only_in_place_and_ostree_run() -> None:
    full, lean = built(images.ROOTS), built(images.LEAN_ROOTS)
    for version in images.VERSIONS:
        names = {tree: {p.split()[0] for p in installed_packages(tree / version)} for tree in (full, lean)}
        assert names[lean] < names[full]
        assert {"apt", "ostree", "libostree-1-1", "libicu72"} <= names[full] - names[lean]
        assert {"rauc", "libubootenv-tool", "brownout-app", "libcurl4"} <= names[lean]
    assert not ({d.digest for d in load_known(full / "digests.jsonl")}
                & {d.digest for d in load_known(lean / "digests.jsonl")})


def test_each_version_has_its_own_digest(rootfs) -> None:
    known = load_known(rootfs / "digests.jsonl")
    assert [d.label for d in known] == list(images.VERSIONS)
    assert len({d.digest for d in known}) == len(images.VERSIONS)
    # The application is a package: each version's package list is its own.
    assert len({d.packages for d in known}) == len(images.VERSIONS)


def test_bc_and_the_application_are_the_package_change(rootfs) -> None:
    v1 = set(installed_packages(rootfs / "v1"))
    v2 = set(installed_packages(rootfs / "v2"))
    bad = set(installed_packages(rootfs / "v2-bad"))
    assert sorted(p.split()[0] for p in v2 - v1) == ["bc", "brownout-app"]
    assert [p.split()[::2] for p in v1 - v2] == [["brownout-app", "1"]]
    assert [p.split()[::2] for p in bad - v2] == [["brownout-app", "2-bad"]]
    v3 = set(installed_packages(rootfs / "v3"))
    assert sorted(p.split()[0] for p in v3 - v2) == ["brownout-app", "dc"]


def test_the_ext4_image_reads_back_as_its_version(rootfs) -> None:
    known = load_known(rootfs / "digests.jsonl")
    assert classify(ext4_digest(rootfs / "v2.ext4"), known) == "v2"


def test_a_changed_tree_is_neither_version(rootfs, tmp_path) -> None:
    known = load_known(rootfs / "digests.jsonl")
    image = tmp_path / "v1.ext4"
    os.system(f"cp --sparse=always {rootfs / 'v1.ext4'} {image}")
    # Change one file inside the image without mounting it.
    (tmp_path / "motd").write_text("half-updated\n")
    assert os.system(f"debugfs -w -R 'write {tmp_path / 'motd'} /etc/half-updated' {image} >/dev/null 2>&1") == 0
    assert classify(ext4_digest(image), known) == "mixed"
