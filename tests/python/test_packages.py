"""What a root tree's packages can go without (harness/packages.py), read from a dpkg status file."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness import packages

STATUS = """\
Package: dpkg
Essential: yes
Status: install ok installed
Pre-Depends: libc6 (>= 2.34), tar
Description: the package manager
 continued: Depends: not-a-relation

Package: libc6
Status: install ok installed

Package: tar
Essential: yes
Status: install ok installed
Depends: libacl1 | libacl-other

Package: libacl1
Status: install ok installed

Package: curl
Status: install ok installed
Depends: libcurl4 (= 7.88), mail-transport-agent | libssl3:arm64

Package: libcurl4
Status: install ok installed
Depends: libc6

Package: libssl3
Status: install ok installed

Package: exim
Status: install ok installed
Provides: mail-transport-agent

Package: ostree
Status: install ok installed
Depends: libostree, libicu

Package: libostree
Status: install ok installed
Depends: libicu (>= 72)

Package: libicu
Status: install ok installed

Package: removed-once
Status: deinstall ok config-files
"""


@pytest.fixture
def status(tmp_path: Path) -> Path:
    path = tmp_path / "status"
    path.write_text(STATUS)
    return path


def test_what_neither_the_essential_set_nor_the_wanted_packages_need_goes(status: Path) -> None:
    # dpkg's Pre-Depends, tar's first alternative, curl's first alternative
    # (a virtual package) through its provider: kept; curl's second
    # alternative, OSTree and the library only it uses: not.
    assert packages.removable(status, ["curl"]) == ["libicu", "libostree", "libssl3", "ostree"]


def test_a_package_only_a_dropped_one_needs_goes_with_it(status: Path) -> None:
    assert packages.removable(status, ["libostree"]) == ["curl", "exim", "libcurl4", "libssl3", "ostree"]


def test_only_installed_packages_count(status: Path) -> None:
    assert "removed-once" not in packages.read_status(status)
    assert "removed-once" not in packages.removable(status, ["curl"])


def test_a_wanted_package_that_is_not_installed_is_an_error(status: Path, capsys) -> None:
    with pytest.raises(ValueError, match="not installed: rauc"):
        packages.removable(status, ["curl", "rauc"])
    assert packages.main(["removable", str(status), "rauc"]) == 1
    assert "not installed: rauc" in capsys.readouterr().err


def test_the_command_prints_one_package_a_line(status: Path, capsys) -> None:
    assert packages.main(["removable", str(status), "curl", "libssl3"]) == 0
    assert capsys.readouterr().out.splitlines() == ["libicu", "libostree", "ostree"]
