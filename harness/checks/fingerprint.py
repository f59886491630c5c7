"""A disk's guest-visible content as a digest, read from its qcow2 chain
without copying it out.

The chain's raw base is named by its file's identity (a built image nothing
writes); every byte the qcow2 layers above it hold (a snapshot's writes, a
trial's) is hashed a cluster at a time, by guest offset. Two equal fingerprints are two
equal disks, or two equal ranges of them; the reverse need not hold (the
same bytes held by the base in one chain and by a layer in another differ),
which only costs a comparison that finds no match.
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from .qcow2 import DATA, ZERO, Chain, Unsupported, identity, open_chain

log = logging.getLogger(__name__)

_CODE = hashlib.sha256(b"".join((Path(__file__).parent / name).read_bytes()
                                for name in ("fingerprint.py", "qcow2.py"))).hexdigest()


def disk_fingerprint(disk: Path, start: int = 0, length: int | None = None,
                     without: tuple[int, int] | None = None) -> str | None:
    """The guest-visible content of `disk` (a qcow2 chain, over a raw base or
    not), or of `length` bytes of it from `start`, as a digest; None when the
    chain cannot be read (qcow2.py). `without` (offset, length) leaves a range
    out: equal digests then say the disks are equal but for that range."""
    fds: dict[int, int] = {}
    try:
        chain = open_chain(disk)
        named = f"base {identity(chain.base)}" if chain.base else "no base"
        digest = hashlib.sha256(f"{_CODE}\n{named}\nfrom {start} length {length} without {without}\n".encode())
        end = chain.size if length is None else min(chain.size, start + length)
        for part_at, part_size in _outside(start, max(0, end - start), without):
            _hash_range(chain, part_at, part_at + part_size, digest, fds)
    except (OSError, UnicodeDecodeError, Unsupported) as e:
        log.warning("fingerprint of %s: %s", disk, e)
        return None
    finally:
        for fd in fds.values():
            os.close(fd)
    return digest.hexdigest()


def _hash_range(chain: Chain, begin: int, end: int, digest: "hashlib._Hash", fds: dict[int, int]) -> None:
    """Every piece of [begin, end) a qcow2 layer holds, by guest offset: a
    cluster at a time, or the part of one inside the range. A backing layer's
    pieces are hashed once (Layer.pieces: the reader keeps those layers while
    their files are unchanged); the top layer's, which a trial writes, every time."""
    size = chain.cluster_size
    for index in range(begin // size, -(-end // size)):
        depth, kind, offset = chain.locate(index)
        if depth == len(chain.layers):
            continue             # the base's own bytes (or none anywhere): named by its identity
        at = max(begin, index * size)
        upto = min(end, (index + 1) * size)
        if kind == ZERO:
            digest.update(f"{at} zero".encode())
            continue
        assert kind == DATA
        where = (offset + at - index * size, upto - at)
        known = chain.layers[depth].pieces if depth > 0 else None
        piece = known.get(where) if known is not None else None
        if piece is None:
            if depth not in fds:
                fds[depth] = os.open(chain.layers[depth].path, os.O_RDONLY)
            data = os.pread(fds[depth], where[1], where[0])
            if len(data) != where[1]:
                raise OSError(f"{chain.layers[depth].path}: {where[1]} bytes at {where[0]} "
                              f"run past the end of the file")
            piece = hashlib.sha256(data).digest()
            if known is not None:
                known[where] = piece
        digest.update(f"{at} ".encode() + piece)


def _outside(at: int, size: int, without: tuple[int, int] | None) -> list[tuple[int, int]]:
    """The parts of [at, at + size) outside the range `without` (offset, length)."""
    if without is None:
        return [(at, size)]
    cut_from, cut_to = without[0], without[0] + without[1]
    parts = [(at, min(at + size, cut_from) - at), (max(at, cut_to), at + size - max(at, cut_to))]
    return [(a, n) for a, n in parts if n > 0]
