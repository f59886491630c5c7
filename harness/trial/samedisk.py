"""Trials whose disk after the cut is byte-identical to one already judged.

What a device does after a power cut (the boots until it settles, the offline
checks, the re-run of the update) depends on its disk alone: the power-ons
after the cut carry no request, and the re-run's is the same for every trial
of one update. So a trial whose disk, the moment the cut left it, holds the
same bytes as a trial already judged takes that trial's outcome and says so
(`same_disk_as` in the journal) instead of booting it again. Many cut points
leave the same disk: what the client wrote since the guest kernel last wrote
back is lost with the page cache.

The fingerprint reads no partition: it names the chain's raw base by its
identity and hashes, per 64 KiB of guest offset, every byte the qcow2 layers
above it hold (those layers are the snapshot's and the trial's writes). Two
equal fingerprints are two equal disks; the reverse need not hold (the same
bytes held by the base in one chain and by a layer in another differ), which
only costs a trial judged once more.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PIECE = 64 * 1024
_CODE = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
# Backing layers are read by overlays only, never written once a trial runs on
# them: a range of one, named by the file's identity, hashes the same every time.
_LAYER_PIECES: dict[tuple[str, int, int], list[bytes]] = {}


def _identity(path: Path) -> str:
    st = path.stat()
    return f"{path} {st.st_dev} {st.st_ino} {st.st_size} {st.st_mtime_ns}"


def _qemu_img_json(*argv: str) -> list | dict | None:
    result = subprocess.run(["qemu-img", *argv, "--output=json", "-U"], capture_output=True, text=True)
    if result.returncode != 0:
        log.warning("qemu-img %s: %s", argv[0], result.stderr.strip())
        return None
    try:
        parsed = json.loads(result.stdout)
    except ValueError:
        return None
    return parsed if isinstance(parsed, (list, dict)) else None


def disk_fingerprint(disk: Path) -> str | None:
    """The guest-visible content of `disk` (a qcow2 chain over a raw base) as a
    digest, or None when qemu-img cannot say (no reuse then)."""
    chain = _qemu_img_json("info", "--backing-chain", str(disk))
    extents = _qemu_img_json("map", str(disk))
    if not isinstance(chain, list) or not isinstance(extents, list):
        return None
    try:
        layers = [(Path(layer["filename"]).resolve(), layer["format"]) for layer in chain]
    except (KeyError, TypeError):
        return None
    base = next((depth for depth, (_, fmt) in enumerate(layers) if fmt != "qcow2"), None)
    if base is None or base != len(layers) - 1:
        return None
    digest = hashlib.sha256(f"{_CODE}\nbase {_identity(layers[base][0])}\n".encode())
    for extent in extents:
        depth, start, length = extent.get("depth"), extent.get("start"), extent.get("length")
        if not isinstance(depth, int) or not isinstance(start, int) or not isinstance(length, int):
            return None
        if depth >= base:
            continue             # the base's own bytes (or none anywhere): named by its identity
        if extent.get("data"):
            if not isinstance(extent.get("offset"), int):
                return None      # compressed: no plain range to read
            pieces = _pieces(layers[depth][0], extent["offset"], length, cache=depth > 0)
        else:
            pieces = [b"zero"] * -(-length // PIECE)
        for n, piece in enumerate(pieces):
            digest.update(f"{start + n * PIECE} ".encode() + piece)
    return digest.hexdigest()


def _pieces(path: Path, offset: int, length: int, cache: bool) -> list[bytes]:
    key = (_identity(path), offset, length)
    if cache and key in _LAYER_PIECES:
        return _LAYER_PIECES[key]
    pieces = []
    with open(path, "rb") as f:
        f.seek(offset)
        for at in range(0, length, PIECE):
            pieces.append(hashlib.sha256(f.read(min(PIECE, length - at))).digest())
    if cache:
        _LAYER_PIECES[key] = pieces
    return pieces


@dataclass(frozen=True)
class Judged:
    """An outcome judged from a disk after a cut, as a later trial on the same disk takes it."""
    trial: str                   # the judged trial's id in the campaign
    fingerprint: str
    result: dict                 # the judged TrialResult's fields that follow from the disk


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
            return Judged(data["trial"], data["fingerprint"], data["result"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, judged: Judged) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / f".{key}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"trial": judged.trial, "fingerprint": judged.fingerprint,
                                   "result": judged.result}))
        tmp.rename(self._path(key))


@dataclass(frozen=True)
class SameDisk:
    """Where a campaign's trial looks for, and leaves, outcomes by disk."""
    store: SameDiskStore
    trial: str                   # this trial's id in the campaign
