"""Trials whose disk after the cut is byte-identical to one already judged.

What a device does after a power cut (the boots until it settles, the offline
checks, the re-run of the update) depends on its disk alone: the power-ons
after the cut carry no request, and the re-run's is the same for every trial
of one update. So a trial whose disk, the moment the cut left it, holds the
same bytes as a trial already judged takes that trial's outcome and says so
(`same_disk_as` in the journal) instead of booting it again. Many cut points
leave the same disk: what the client wrote since the guest kernel last wrote
back is lost with the page cache.

The disk is named by its fingerprint (harness/checks/fingerprint.py): it
reads no partition, and two equal fingerprints are two equal disks.

A method with a target slot (its contract's `target_slot`: the slot the update
rewrites whole before any boot runs it, or takes as it is only once it reads
back equal to the signed payload) is also named by its disk but for that slot,
as the storage model's equivalent states are. A judged outcome is kept under
that name only when the trial shows the slot's bytes decided nothing: from the
cut to the re-run's own reboot, every boot ran another slot. Two disks equal
but for the slot then take the same boots and the same checks, and re-runs
that end alike: the slot they boot into holds what the update wrote, written
again or found whole. A/B's pull and deploy cuts mostly leave such disks, so
they are judged about once per state of the rest of the disk.
RAUC's seldom do: its deploy cuts leave the data partition differing too,
as the downloaded bundle is written back while it installs; nor, mostly, do
OSTree's while it copies the new kernel into its spare boot slot: something
else reaches the disk between two such cuts.

Two workers can reach the same disk at once: the first to look it up and
find nothing claims it (a lock held while it judges, released when it is
done or its process dies), and a later one waits for that outcome instead
of booting the same disk and re-running the same update beside it. What it
then takes, or judges itself when none was kept, is what it would have
found had it come later.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..checks.fingerprint import disk_fingerprint
from ..files import replace_file, try_lock

__all__ = ["CLAIM_POLL_S", "Judged", "SameDisk", "SameDiskStore", "disk_fingerprint"]

# How often a trial waiting for another's outcome on the same disk looks again.
CLAIM_POLL_S = 0.05


@dataclass(frozen=True)
class Judged:
    """An outcome judged from a disk after a cut, as a later trial on the same disk takes it."""
    trial: str                   # the judged trial's id in the campaign
    fingerprint: str
    result: dict                 # the judged TrialResult's fields that follow from the disk
    without: str = ""            # the partition left out of the fingerprint, if any


class SameDiskStore:
    """Outcomes judged in one campaign, by the update they were of and the disk the
    cut left: one JSON file each in `directory`, written whole (temporary file,
    then rename), so the campaign's workers share it."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def get(self, key: str) -> Judged | None:
        try:
            data = json.loads(self._path(key).read_text())
            return Judged(data["trial"], data["fingerprint"], data["result"], data.get("without", ""))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, judged: Judged) -> None:
        replace_file(self._path(key), json.dumps({"trial": judged.trial, "fingerprint": judged.fingerprint,
                                                 "result": judged.result, "without": judged.without}))

    def claim(self, key: str) -> IO | None:
        """The claim on judging disk `key`, held until the returned file is
        closed (or its process dies); None while another trial holds it."""
        return try_lock(self.directory, f"{key}.judging")

    def claim_when_free(self, key: str, timeout: float) -> tuple[IO | None, float]:
        """The claim on `key`, waiting up to `timeout` seconds while another
        trial holds it; and how long it waited. None after the timeout."""
        began = time.monotonic()
        while True:
            lock = self.claim(key)
            if lock is not None or time.monotonic() - began >= timeout:
                return lock, time.monotonic() - began
            time.sleep(CLAIM_POLL_S)


@dataclass(frozen=True)
class SameDisk:
    """Where a campaign's trial looks for, and leaves, outcomes by disk."""
    store: SameDiskStore
    trial: str                   # this trial's id in the campaign
