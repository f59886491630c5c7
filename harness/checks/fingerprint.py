"""A disk's guest-visible content as a digest, read from its qcow2 chain
without copying it out.

The chain's raw base is named by its file's identity (a built image nothing
writes); every byte the qcow2 layers above it hold (a snapshot's writes, a
trial's) is hashed per 64 KiB of guest offset. Two equal fingerprints are two
equal disks, or two equal ranges of them; the reverse need not hold (the
same bytes held by the base in one chain and by a layer in another differ),
which only costs a comparison that finds no match.
"""
from __future__ import annotations

import hashlib
import json
import logging
import subprocess
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


def disk_fingerprint(disk: Path, start: int = 0, length: int | None = None,
                     without: tuple[int, int] | None = None) -> str | None:
    """The guest-visible content of `disk` (a qcow2 chain, over a raw base or
    not), or of `length` bytes of it from `start`, as a digest; None when
    qemu-img cannot say. `without` (offset, length) leaves a range out: equal
    digests then say the disks are equal but for that range."""
    chain = _qemu_img_json("info", "--backing-chain", str(disk))
    window = [f"--start-offset={start}"] + ([f"--max-length={length}"] if length is not None else [])
    extents = _qemu_img_json("map", *window, str(disk))
    if not isinstance(chain, list) or not isinstance(extents, list):
        return None
    try:
        layers = [(Path(layer["filename"]).resolve(), layer["format"]) for layer in chain]
    except (KeyError, TypeError):
        return None
    raw = [depth for depth, (_, fmt) in enumerate(layers) if fmt != "qcow2"]
    if raw and raw != [len(layers) - 1]:
        return None
    base = raw[0] if raw else len(layers)
    named = f"base {_identity(layers[base][0])}" if raw else "no base"
    digest = hashlib.sha256(f"{_CODE}\n{named}\nfrom {start} length {length} without {without}\n".encode())
    for extent in extents:
        depth, at, size = extent.get("depth"), extent.get("start"), extent.get("length")
        if not isinstance(depth, int) or not isinstance(at, int) or not isinstance(size, int):
            return None
        if depth >= base:
            continue             # the base's own bytes (or none anywhere): named by its identity
        offset = extent.get("offset")
        if extent.get("data") and not isinstance(offset, int):
            return None          # compressed: no plain range to read
        for part_at, part_size in _outside(at, size, without):
            if extent.get("data"):
                pieces = _pieces(layers[depth][0], offset + part_at - at, part_size, cache=depth > 0)
            else:
                pieces = [b"zero"] * -(-part_size // PIECE)
            for n, piece in enumerate(pieces):
                digest.update(f"{part_at + n * PIECE} ".encode() + piece)
    return digest.hexdigest()


def _outside(at: int, size: int, without: tuple[int, int] | None) -> list[tuple[int, int]]:
    """The parts of [at, at + size) outside the range `without` (offset, length)."""
    if without is None:
        return [(at, size)]
    cut_from, cut_to = without[0], without[0] + without[1]
    parts = [(at, min(at + size, cut_from) - at), (max(at, cut_to), at + size - max(at, cut_to))]
    return [(a, n) for a, n in parts if n > 0]


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
