"""End to end: phase rules name the A/B update's points as its phase markers do.

A client that prints no phase markers (RAUC, SWUpdate, Mender) is given its
phases by rules on what each syscall targets (faultinject/rules.h). The A/B
client prints markers, so it can check them: the update is recorded once as
it is (or `./brownout record --method ab`'s record of the images built now
is taken) and once with rules naming the slot it writes and the env
partition, and the two records must agree on every point those rules match,
while every other point keeps the markers' phase and says so.
"""
from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

from harness import HarnessError, methods
from harness.campaign.runner import load_record
from harness.checks.device import partitions
from harness.images import require
from harness.server import UpdateServer
from harness.trial.run import TrialSpec, record_points

pytestmark = [pytest.mark.e2e, pytest.mark.qemu, pytest.mark.timeout(300)]


def guest_device(name: str) -> str:
    """An A/B partition as the guest names it: its index on the one virtio disk."""
    return "/dev/vda{}".format(next(p.index for p in partitions("ab") if p.name == name))


def rules(slot: str, env: str) -> tuple[str, ...]:
    # The device runs rootA, so the update writes rootB. Line numbers count from the comment.
    return ("# the slot: streamed in while the payload downloads, made durable once verified",
            f"deploy path={slot} syscall=fsync",            # line 2: first match wins over line 3
            f"pull path={slot}",                            # line 3
            f"bootloader path={env} target=block")          # line 4


def record_with(monkeypatch: pytest.MonkeyPatch, phase_rules: tuple[str, ...], run_dir: Path,
                server: UpdateServer) -> list[dict]:
    """Record the A/B update with a variant of the ab method that carries phase_rules."""
    with monkeypatch.context() as m:
        m.setitem(methods.METHODS, "ab", dataclasses.replace(methods.METHODS["ab"], phase_rules=phase_rules))
        return record_points(TrialSpec("ab", "v2"), run_dir, server)


@pytest.fixture(scope="module")
def both_records(update_server: UpdateServer,
                 tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], list[dict], str, str]:
    try:
        slot, env = guest_device("rootB"), guest_device("env")
    except HarnessError as e:
        if os.environ.get("BROWNOUT_REQUIRE_IMAGES") == "1":
            raise
        pytest.skip(str(e))
    try:
        # `./brownout record --method ab`'s update points, if it was made on the images built now.
        _, recorded = load_record("ab")
        markers = [p for p in recorded if p["phase"] != "confirm"]
    except HarnessError:
        markers = record_points(TrialSpec("ab", "v2"), tmp_path_factory.mktemp("markers"), update_server)
    with pytest.MonkeyPatch.context() as m:
        ruled = record_with(m, rules(slot, env), tmp_path_factory.mktemp("rules"), update_server)
    return markers, ruled, slot, env


def test_the_rules_give_the_slot_and_env_points_the_markers_phases(both_records) -> None:
    markers, ruled, slot, env = both_records
    # One client, one process: the same points in the same order, run after run.
    shape = [(p["syscall"], p["target"], p["path"], p["offset"], p["len"]) for p in markers]
    assert [(p["syscall"], p["target"], p["path"], p["offset"], p["len"]) for p in ruled] == shape

    slot_points = [(m, r) for m, r in zip(markers, ruled) if r["path"] == slot]
    env_points = [(m, r) for m, r in zip(markers, ruled) if r["path"] == env]
    # The slot is written a MiB at a time, then flushed.
    payload = (require("payloads-ab") / "ab" / "v2" / "rootfs.ext4").stat().st_size
    assert len(slot_points) > payload >> 20 and env_points, (len(slot_points), len(env_points))
    for m, r in slot_points:
        want = ("deploy", 2) if r["syscall"] == "fsync" else ("pull", 3)
        assert (r["phase"], r["rule"]) == want, r
        assert r["phase"] == m["phase"], (m, r)
    for m, r in env_points:
        assert (r["phase"], r["rule"]) == ("bootloader", 4), r
        assert r["phase"] == m["phase"], (m, r)

    # Everything else (the slot record on /data, the last sync) matches no rule:
    # the markers' phase, and no rule named. Without rules no point names one.
    others = [(m, r) for m, r in zip(markers, ruled) if r["path"] not in (slot, env)]
    assert others
    assert all(r["rule"] is None and r["phase"] == m["phase"] for m, r in others), others
    assert all(m["rule"] is None for m in markers)


def test_a_malformed_rule_stops_the_agent_before_the_update(
        update_server: UpdateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = ("pull path=/dev/vda4", "deploy target=block")
    with pytest.raises(HarnessError, match=r"status 2\b") as failed:
        record_with(monkeypatch, bad, tmp_path, update_server)
    console = Path(re.search(r"console log: (\S+)", str(failed.value)).group(1)).read_text()
    assert "brownout-fi: --phase-rules " in console
    assert ": line 2: deploy: no path=<glob>" in console
    assert "BROWNOUT phase name=pull state=start" not in console   # the client never ran
