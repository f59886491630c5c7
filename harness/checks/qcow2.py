"""A qcow2 backing chain read in place, for what a disk holds where.

A trial's disk is a qcow2 overlay over a snapshot's frozen overlay over a
built raw image. Asking `qemu-img info` and `map` what each cluster is costs
two process starts per question, a few times a trial; the tables that say it
are a header, an L1 and a few L2 tables, read here directly (the layout of
QEMU's docs/interop/qcow2.txt). Only what the harness's own disks use is
read: version 2 or 3, no encryption, no external data file, no extended L2
entries, one cluster size through the chain and one virtual size. Anything
else is `Unsupported`, and the caller answers as it does when it cannot say.
"""
from __future__ import annotations

import os
import struct
import sys
from array import array
from dataclasses import dataclass, field
from pathlib import Path

from ..files import data_ranges, send

MAGIC = b"QFI\xfb"
_OFFSET_MASK = 0x00FFFFFFFFFFFE00
_COMPRESSED = 1 << 62
_ZERO = 1
_BACKING_FORMAT_EXT = 0xE2792ACA
# Incompatible features it can read past: dirty refcounts (bit 0) and the
# compression type (bit 3, which only compressed clusters need, refused anyway).
_READABLE_INCOMPATIBLE = (1 << 0) | (1 << 3)
# A backing chain deeper than this is not one the harness made.
_MAX_DEPTH = 16
# Backing layers whose tables (and the digests fingerprints took of their
# data) stay read: a campaign's snapshots, its starts; the least recently
# added go beyond this many.
LAYERS_KEPT = 64

# What a cluster of a layer is (Layer.cluster).
UNALLOCATED, ZERO, DATA = "unallocated", "zero", "data"


class Unsupported(Exception):
    """A file this reader does not read: another format feature, or not qcow2 at all."""


@dataclass
class Layer:
    """One qcow2 file of a chain: its cluster table, read once."""
    path: Path
    cluster_size: int
    size: int
    backing: Path | None
    backing_format: str | None
    _l1: array
    _l2: dict[int, array] = field(default_factory=dict)
    # Digests of its data by (offset, length), as fingerprints hash them: a
    # backing layer, cached here while its identity holds, never changes them.
    pieces: dict[tuple[int, int], bytes] = field(default_factory=dict)

    def cluster(self, index: int) -> tuple[str, int]:
        """What guest cluster `index` is in this file: (UNALLOCATED, 0),
        (ZERO, 0), or (DATA, its offset in the file)."""
        per_table = self.cluster_size // 8
        table = index // per_table
        if table >= len(self._l1):
            return UNALLOCATED, 0
        l2_offset = self._l1[table] & _OFFSET_MASK
        if not l2_offset:
            return UNALLOCATED, 0
        if l2_offset not in self._l2:
            self._l2[l2_offset] = _read_entries(self.path, l2_offset, per_table)
        entry = self._l2[l2_offset][index % per_table]
        if entry & _COMPRESSED:
            raise Unsupported(f"{self.path}: compressed cluster")
        if entry & _ZERO:
            return ZERO, 0
        offset = entry & _OFFSET_MASK
        return (DATA, offset) if offset else (UNALLOCATED, 0)


@dataclass(frozen=True)
class Chain:
    """A disk's qcow2 layers, top first, and the raw file under them if any."""
    layers: tuple[Layer, ...]
    base: Path | None
    cluster_size: int
    size: int

    def locate(self, index: int) -> tuple[int, str, int]:
        """Where guest cluster `index` is read from: (depth, kind, offset), the
        depth of the first layer that has it (len(layers) when none does: the
        raw base, or zeros)."""
        for depth, layer in enumerate(self.layers):
            kind, offset = layer.cluster(index)
            if kind != UNALLOCATED:
                return depth, kind, offset
        return len(self.layers), UNALLOCATED, 0


def _read_entries(path: Path, offset: int, count: int) -> array:
    """`count` big-endian 64-bit table entries, 8 bytes each in memory."""
    with open(path, "rb") as f:
        data = os.pread(f.fileno(), count * 8, offset)
    if len(data) != count * 8:
        raise Unsupported(f"{path}: table at {offset} runs past the end of the file")
    entries = array("Q", data)
    if sys.byteorder == "little":
        entries.byteswap()
    return entries


def is_qcow2(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == MAGIC


def read_layer(path: Path) -> Layer:
    """The header and L1 table of one qcow2 file."""
    with open(path, "rb") as f:
        header = f.read(4096)
    if len(header) < 72 or header[:4] != MAGIC:
        raise Unsupported(f"{path}: not a qcow2 file")
    (version, backing_offset, backing_size, cluster_bits, size, crypt, l1_size,
     l1_offset) = struct.unpack(">IQIIQIIQ", header[4:48])
    if version not in (2, 3) or crypt != 0 or not 9 <= cluster_bits <= 21:
        raise Unsupported(f"{path}: qcow2 version {version}, encryption {crypt}, cluster bits {cluster_bits}")
    ext_at = 72                  # version 2's header length; version 3 says its own
    if version == 3:
        incompatible, = struct.unpack(">Q", header[72:80])
        ext_at, = struct.unpack(">I", header[100:104])
        if incompatible & ~_READABLE_INCOMPATIBLE:
            raise Unsupported(f"{path}: incompatible features {incompatible:#x}")
    backing_format = None
    while ext_at + 8 <= len(header):
        ext_type, ext_length = struct.unpack(">II", header[ext_at:ext_at + 8])
        if ext_type == 0:
            break
        if ext_type == _BACKING_FORMAT_EXT:
            backing_format = header[ext_at + 8:ext_at + 8 + ext_length].decode()
        ext_at += 8 + (ext_length + 7) // 8 * 8
    backing = None
    if backing_offset:
        if backing_offset + backing_size > len(header):
            raise Unsupported(f"{path}: backing file name outside the header's first 4 KiB")
        name = header[backing_offset:backing_offset + backing_size].decode()
        backing = Path(name) if os.path.isabs(name) else path.parent / name
    l1 = _read_entries(path, l1_offset, l1_size) if l1_size else array("Q")
    return Layer(path, 1 << cluster_bits, size, backing, backing_format, l1)


# Backing layers are never written while a trial runs on them: one read of a
# file's tables, named by its identity, serves every later question.
_BACKING: dict[str, Layer] = {}


def identity(path: Path) -> str:
    """A file as long as nothing writes it: its path, inode, size and time."""
    st = path.stat()
    return f"{path} {st.st_dev} {st.st_ino} {st.st_size} {st.st_mtime_ns}"


def open_chain(disk: Path) -> Chain:
    """The chain under `disk` (qcow2 or raw), down to a raw base or none."""
    layers: list[Layer] = []
    path: Path | None = Path(disk)
    base = None
    while path is not None:
        if len(layers) > _MAX_DEPTH:
            raise Unsupported(f"{disk}: backing chain deeper than {_MAX_DEPTH}")
        fmt = (layers[-1].backing_format if layers else None) or ("qcow2" if is_qcow2(path) else "raw")
        if fmt == "raw":
            base = path.resolve()
            break
        if fmt != "qcow2":
            raise Unsupported(f"{path}: backing format {fmt}")
        path = path.resolve()
        if layers:
            key = identity(path)
            if key not in _BACKING:
                while len(_BACKING) >= LAYERS_KEPT:
                    del _BACKING[next(iter(_BACKING))]
                _BACKING[key] = read_layer(path)
            layers.append(_BACKING[key])
        else:
            layers.append(read_layer(path))
        path = layers[-1].backing
    sizes = {layer.size for layer in layers} | ({base.stat().st_size} if base else set())
    clusters = {layer.cluster_size for layer in layers}
    if len(sizes) != 1 or len(clusters) > 1:
        raise Unsupported(f"{disk}: layers of sizes {sorted(sizes)}, clusters {sorted(clusters)}")
    # A raw disk alone has no clusters: nothing is located in it.
    return Chain(tuple(layers), base, clusters.pop() if clusters else 1 << 16, sizes.pop())


def copy_out(chain: Chain, offset: int, length: int, out: Path) -> None:
    """Write the guest's bytes [offset, offset + length) to `out`, a new raw
    file, sparse: zero clusters, and the holes of a sparse raw base, are not
    written. Runs of clusters one file holds back to back go as one copy."""
    if offset < 0 or offset + length > chain.size:
        raise Unsupported(f"range {offset}+{length} outside a disk of {chain.size} bytes")
    size, end = chain.cluster_size, offset + length
    runs: list[_Run] = []
    for index in range(offset // size, -(-end // size)):
        depth, kind, at_file = chain.locate(index)
        at, upto = max(offset, index * size), min(end, (index + 1) * size)
        if kind == ZERO:
            continue
        if depth < len(chain.layers):
            source, source_at = chain.layers[depth].path, at_file + at - index * size
        elif chain.base is not None:
            source, source_at = chain.base, at
        else:
            continue                 # no layer and no base: zeros
        last = runs[-1] if runs else None
        if last and last.source == source and last.source_at + last.count == source_at \
                and last.at + last.count == at:
            last.count += upto - at
        else:
            runs.append(_Run(source, source_at, at, upto - at))
    fds: dict[Path, int] = {}
    out_fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.ftruncate(out_fd, length)
        for run in runs:
            if run.source not in fds:
                fds[run.source] = os.open(run.source, os.O_RDONLY)
            ranges = data_ranges(fds[run.source], run.source_at, run.count) if run.source == chain.base \
                else [(run.source_at, run.count)]
            for data_at, count in ranges:
                send(fds[run.source], out_fd, data_at, run.at - offset + data_at - run.source_at, count)
    finally:
        os.close(out_fd)
        for fd in fds.values():
            os.close(fd)


@dataclass
class _Run:
    """Guest bytes [at, at + count) that `source` holds back to back from `source_at`."""
    source: Path
    source_at: int
    at: int
    count: int
