"""apt-verify, the in-place device's Dir::Bin::apt-key, under the host's own
apt (Debian 12, the device's apt version) against the built in-place
repositories: it must accept and refuse exactly what Debian's apt-key does.
A device whose check is weaker would turn a refusal into an install."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.images import REPO, require

WRAPPER = REPO / "images" / "methods" / "inplace" / "rootfs" / "usr" / "lib" / "brownout" / "apt-verify"
APT_KEY = Path("/usr/bin/apt-key")

pytestmark = pytest.mark.skipif(not (shutil.which("apt-get") and shutil.which("gpgv") and APT_KEY.exists()),
                                reason="needs the host's apt-get, apt-key and gpgv")


def apt_update(tmp_path: Path, repo: Path, verifier: Path, trusted: Path, keyring: Path | None = None
               ) -> tuple[int, str, list[str]]:
    """`apt-get update` of the flat repository `repo` alone, its signature checked
    by `verifier` with the keyrings in `trusted` (or with `keyring` forced, as a
    source's Signed-By does): exit status, output, the lists it kept."""
    root = tmp_path / f"apt-{verifier.name}-{repo.name}"
    for sub in ("state/lists/partial", "cache/archives/partial", "parts"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    signed_by = f"[signed-by={keyring}] " if keyring else ""
    (root / "sources.list").write_text(f"deb {signed_by}file:{repo} ./\n")
    # The host's own apt configuration (its hooks, its keyrings) stays out.
    (root / "apt.conf").write_text(f'Dir::Etc::Parts "{root / "parts"}";\n')
    env = dict(os.environ, APT_CONFIG=str(root / "apt.conf"), BROWNOUT_APT_TRUSTED=str(root / "no-trusted.gpg"),
               BROWNOUT_APT_TRUSTED_PARTS=str(trusted))
    result = subprocess.run(
        ["apt-get", "-o", f"Dir::State={root / 'state'}", "-o", f"Dir::Cache={root / 'cache'}",
         "-o", f"Dir::Etc::SourceList={root / 'sources.list'}", "-o", "Dir::Etc::SourceParts=/nonexistent",
         "-o", f"Dir::Etc::Trusted={root / 'no-trusted.gpg'}", "-o", f"Dir::Etc::TrustedParts={trusted}",
         "-o", f"Dir::Bin::apt-key={verifier}", "-o", "APT::Architectures::=arm64",
         "-o", "APT::Update::Error-Mode=any", "-o", "APT::Sandbox::User=root", "update"],
        capture_output=True, text=True, env=env, timeout=120)
    lists = sorted(p.name.rsplit("_", 1)[-1] for p in (root / "state" / "lists").glob("*_*"))
    return result.returncode, result.stdout + result.stderr, lists


@pytest.fixture(scope="module")
def repos() -> Path:
    return require("repo-inplace") / "inplace"


@pytest.fixture
def trusted(tmp_path: Path) -> Path:
    """The device's trusted.gpg.d: the archive key alone."""
    parts = tmp_path / "trusted.gpg.d"
    parts.mkdir()
    shutil.copyfile(require("apt-key") / "archive.gpg", parts / "brownout-archive.gpg")
    return parts


def test_a_signed_repository_is_taken_as_apt_key_takes_it(tmp_path: Path, repos: Path, trusted: Path) -> None:
    ours = apt_update(tmp_path, repos / "v2", WRAPPER, trusted)
    theirs = apt_update(tmp_path, repos / "v2", APT_KEY, trusted)
    assert ours[0] == theirs[0] == 0, ours[1]
    assert ours[2] == theirs[2] and "InRelease" in ours[2], ours[2]


def test_a_signature_by_an_unknown_key_is_refused(tmp_path: Path, repos: Path, trusted: Path) -> None:
    ours = apt_update(tmp_path, repos / "v2-badsig", WRAPPER, trusted)
    theirs = apt_update(tmp_path, repos / "v2-badsig", APT_KEY, trusted)
    assert ours[0] == theirs[0] == 100
    assert "NO_PUBKEY" in ours[1] and "is not signed" in ours[1], ours[1]
    assert ours[2] == theirs[2] == []


def test_a_changed_release_file_is_refused(tmp_path: Path, repos: Path, trusted: Path) -> None:
    repo = tmp_path / "changed"
    shutil.copytree(repos / "v2", repo)
    release = repo / "InRelease"
    text = release.read_text()
    assert "Packages" in text
    # The signed text names another size for a file: the signature no longer holds.
    release.write_text(text.replace(" Packages\n", " Packages-changed\n", 1))
    ours = apt_update(tmp_path, repo, WRAPPER, trusted)
    theirs = apt_update(tmp_path, repo, APT_KEY, trusted)
    assert ours[0] == theirs[0] == 100
    assert "BADSIG" in ours[1], ours[1]
    assert ours[2] == theirs[2] == []


def test_a_forced_keyring_alone_is_trusted(tmp_path: Path, repos: Path, trusted: Path) -> None:
    """A source's Signed-By: the trusted keyrings do not count, the named one does."""
    rogue = require("apt-key") / "rogue.gpg"
    ours = apt_update(tmp_path, repos / "v2", WRAPPER, trusted, keyring=rogue)
    theirs = apt_update(tmp_path, repos / "v2", APT_KEY, trusted, keyring=rogue)
    assert ours[0] == theirs[0] == 100, ours[1]
    assert "NO_PUBKEY" in ours[1]
    own = apt_update(tmp_path, repos / "v2-badsig", WRAPPER, trusted, keyring=rogue)
    assert own[0] == 0, own[1]


def test_no_trusted_keyring_is_a_refusal(tmp_path: Path, repos: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    status, output, lists = apt_update(tmp_path, repos / "v2", WRAPPER, empty)
    assert status == 100 and lists == []
    assert "is not signed" in output, output


def test_an_armored_trusted_keyring_goes_to_apt_key(tmp_path: Path, repos: Path, trusted: Path) -> None:
    """An armored keyring gpgv cannot read: the answer is apt-key's own."""
    armored = sorted(Path("/etc/apt/trusted.gpg.d").glob("*.asc")) + sorted(Path("/usr/share/keyrings").glob("*.asc"))
    if not armored:
        pytest.skip("the host has no armored keyring to trust")
    shutil.copyfile(armored[0], trusted / armored[0].name)
    good = apt_update(tmp_path, repos / "v2", WRAPPER, trusted)
    assert good[0] == 0 and "InRelease" in good[2], good[1]
    rogue = apt_update(tmp_path, repos / "v2-badsig", WRAPPER, trusted)
    assert rogue[0] == 100 and "NO_PUBKEY" in rogue[1], rogue[1]
