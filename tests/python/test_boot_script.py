"""The boot script build (images/disk.sh boot_script): fragments spliced in at
their "#include" lines, the result made into boot.scr by mkimage."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.images import REPO

pytestmark = pytest.mark.skipif(shutil.which("mkimage") is None, reason="needs mkimage (u-boot-tools)")

BOOT = REPO / "images" / "boot"
METHODS = REPO / "images" / "methods"
INCLUDE = re.compile(r"^\s*#include\s", re.M)


def boot_script(name: str, out: Path, repo: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", '. "$REPO/images/lib.sh"; . "$REPO/images/disk.sh"; boot_script "$1"',
                           "boot_script", name],
                          env=dict(os.environ, REPO=str(repo), OUT=str(out)), capture_output=True, text=True)


@pytest.mark.parametrize("name", ["ab", "asymmetric", "ostree"])
def test_the_env_fragments_stand_in_for_their_include_lines(name: str, tmp_path: Path) -> None:
    assert boot_script(name, tmp_path).returncode == 0
    spliced = (tmp_path / "boot.cmd").read_text()
    load, save = (BOOT / "env-load.cmd").read_text(), (BOOT / "env-save.cmd").read_text()
    assert not INCLUDE.search(spliced)
    assert spliced.count(load) == 1 and spliced.count(save) == 1
    assert spliced.index(load) < spliced.index(save)
    source = (METHODS / name / "boot.cmd").read_text().replace("@METHOD@", name)
    assert spliced.startswith(INCLUDE.split(source)[0])
    assert "@METHOD@" not in spliced
    header = subprocess.run(["mkimage", "-l", str(tmp_path / "boot.scr")], capture_output=True, text=True,
                            check=True).stdout
    assert f"brownout {name}" in header and "Script" in header


def test_a_script_without_includes_is_made_as_it_is(tmp_path: Path) -> None:
    assert boot_script("inplace", tmp_path).returncode == 0
    assert (tmp_path / "boot.cmd").read_text() == (METHODS / "inplace" / "boot.cmd").read_text()


def test_a_missing_fragment_is_a_clear_error(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "images" / "boot").mkdir(parents=True)
    (repo / "images" / "methods" / "x").mkdir(parents=True)
    for helper in ("lib.sh", "disk.sh"):
        shutil.copy(REPO / "images" / helper, repo / "images" / helper)
    (repo / "images" / "methods" / "x" / "boot.cmd").write_text('echo "x"\n\t#include nope.cmd\n')
    (tmp_path / "out").mkdir()
    result = boot_script("x", tmp_path / "out", repo)
    assert result.returncode != 0 and "boot script x.cmd: no fragment" in result.stderr
    assert not (tmp_path / "out" / "boot.scr").exists()


def test_a_method_that_boots_as_another_gets_its_script_under_its_own_name(tmp_path: Path) -> None:
    result = subprocess.run(["bash", "-c", '. "$REPO/images/lib.sh"; . "$REPO/images/disk.sh"; boot_script rauc ab'],
                            env=dict(os.environ, REPO=str(REPO), OUT=str(tmp_path)), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    spliced = (tmp_path / "boot.cmd").read_text()
    assert "brownout.method=rauc rauc.slot=${slot}" in spliced
    assert 'uboot-start script=rauc"' in spliced and "method=ab" not in spliced


@pytest.mark.parametrize("fixture", ["single-env", "boot-text"])
def test_a_fixture_device_splices_its_own_fragments(fixture: str, tmp_path: Path) -> None:
    fragments = REPO / "tests" / "fixtures" / fixture
    result = subprocess.run(["bash", "-c", '. "$REPO/images/lib.sh"; . "$REPO/images/disk.sh"; boot_script ab'],
                            env=dict(os.environ, REPO=str(REPO), OUT=str(tmp_path), BOOT_FRAGMENTS=str(fragments)),
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    spliced = (tmp_path / "boot.cmd").read_text()
    assert (fragments / "env-load.cmd").read_text() in spliced
    assert (BOOT / "env-load.cmd").read_text() not in spliced
    assert "reason=no-boot-order" in spliced
