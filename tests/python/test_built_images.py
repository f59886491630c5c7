"""The built root trees: three versions that their digests tell apart."""
from __future__ import annotations

import os

import pytest

from harness import HarnessError, images
from harness.digest import classify, ext4_digest, installed_packages, load_known

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def rootfs():
    try:
        return images.require("rootfs")
    except HarnessError as e:
        if os.environ.get("BROWNOUT_REQUIRE_IMAGES") == "1":
            raise
        pytest.skip(str(e))


def test_each_version_has_its_own_digest(rootfs) -> None:
    known = load_known(rootfs / "digests.jsonl")
    assert [d.label for d in known] == list(images.VERSIONS)
    assert len({d.digest for d in known}) == 3
    # v2 and v2-bad ship the same packages; only the application differs.
    by_label = {d.label: d for d in known}
    assert by_label["v2"].packages == by_label["v2-bad"].packages != by_label["v1"].packages


def test_bc_is_the_package_change(rootfs) -> None:
    v1 = set(installed_packages(rootfs / "v1"))
    v2 = set(installed_packages(rootfs / "v2"))
    assert [p.split()[0] for p in v2 - v1] == ["bc"] and not v1 - v2


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
