"""The cut spec, parsed in one place (harness/cutspec.py)."""
from __future__ import annotations

import pytest

from harness import HarnessError
from harness.trial import cutspec


def test_a_recorded_point_round_trips() -> None:
    spec = cutspec.parse(cutspec.point(17, "after"))
    assert (spec.index, spec.edge, spec.plain_point, str(spec)) == (17, "after", True, "n=17,edge=after")


def test_filters_are_kept_and_the_edge_defaults_to_before() -> None:
    spec = cutspec.parse("phase=bootloader,n=1,torn=8192")
    assert spec.get("phase") == "bootloader" and spec.get("torn") == "8192" and spec.edge == "before"
    assert not spec.plain_point


@pytest.mark.parametrize("text", ["", "n", "n=1,n=2", "colour=red", "n=x", "path=/a b", "n=1,,edge=after"])
def test_a_malformed_spec_is_one_line_with_an_example(text: str) -> None:
    with pytest.raises(HarnessError) as e:
        cutspec.parse(text)
    assert "\n" not in str(e.value) and "malformed cut spec" in str(e.value)
    assert cutspec.try_parse(text) is None
