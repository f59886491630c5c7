"""The `qemu` marker's gate in conftest.py, run on a small test file with QEMU off the PATH."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).with_name("conftest.py")


@pytest.fixture
def without_qemu(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A test directory using this conftest, one test marked `qemu` and one not,
    and a PATH on which qemu-system-aarch64 is not found."""
    pytester.makeini("[pytest]\n")  # the repository's pytest.ini stays out of it
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(test_gate="""
        import pytest

        @pytest.mark.qemu
        def test_boots():
            pass

        def test_needs_no_qemu():
            pass
    """)
    monkeypatch.setenv("PATH", str(pytester.mkdir("empty-path")))
    return pytester


def test_make_test_fails_a_qemu_test_without_qemu(without_qemu: pytest.Pytester,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROWNOUT_REQUIRE_IMAGES", "1")
    result = without_qemu.runpytest("-ra")
    result.assert_outcomes(passed=1, errors=1)
    # The reason is one line, no traceback.
    result.stdout.fnmatch_lines(["*ERROR at setup of test_boots*",
                                 "qemu-system-aarch64* missing and BROWNOUT_REQUIRE_IMAGES=1 "
                                 "(bash images/deps.sh installs it)",
                                 "*short test summary info*",
                                 "ERROR test_gate.py::test_boots*"])


@pytest.mark.parametrize("value", [None, "0", ""], ids=["unset", "0", "empty"])
def test_elsewhere_a_qemu_test_skips_without_qemu(without_qemu: pytest.Pytester,
                                                  monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("BROWNOUT_REQUIRE_IMAGES", raising=False)
    else:
        monkeypatch.setenv("BROWNOUT_REQUIRE_IMAGES", value)
    result = without_qemu.runpytest("-ra")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED * needs qemu-system-aarch64*"])
