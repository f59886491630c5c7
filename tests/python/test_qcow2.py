"""Reading a qcow2 backing chain in place: every cluster read where the chain
says it is gives the bytes `qemu-img convert` gives, on chains made with
qemu-img and written with qemu-io; what the reader does not read it refuses."""
from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from harness.checks.fingerprint import disk_fingerprint
from harness.checks.qcow2 import DATA, ZERO, Chain, Unsupported, copy_out, open_chain

MIB = 1 << 20


def _run(*argv: str, cwd: Path | None = None) -> None:
    subprocess.run(argv, check=True, capture_output=True, cwd=cwd)


def _overlay(backing: str, path: Path, fmt: str, *options: str) -> Path:
    _run("qemu-img", "create", "-q", "-f", "qcow2", *options, "-F", fmt, "-b", backing, str(path))
    return path


def _io(image: Path, *commands: str) -> None:
    _run("qemu-io", "-f", "qcow2", *[arg for c in commands for arg in ("-c", c)], str(image))


def _read_through(chain: Chain) -> bytes:
    """The guest's disk as `chain.locate` places each cluster."""
    size, out = chain.cluster_size, bytearray()
    for index in range(-(-chain.size // size)):
        length = min(size, chain.size - index * size)
        depth, kind, offset = chain.locate(index)
        if depth == len(chain.layers):
            with open(chain.base, "rb") as f:       # type: ignore[arg-type]
                data = os.pread(f.fileno(), length, index * size)
        elif kind == ZERO:
            data = bytes(length)
        else:
            assert kind == DATA
            with open(chain.layers[depth].path, "rb") as f:
                data = os.pread(f.fileno(), length, offset)
        out += data
    return bytes(out)


def _converted(disk: Path, tmp_path: Path) -> bytes:
    raw = tmp_path / f"{disk.stem}.raw"
    _run("qemu-img", "convert", "-U", "-O", "raw", str(disk), str(raw))
    return raw.read_bytes()


@pytest.fixture
def three_layers(tmp_path: Path) -> Path:
    """A raw base, a frozen overlay (named relatively) and a trial's overlay,
    each written: data, zeros kept allocated and not, a discard, a partial cluster."""
    base = tmp_path / "base.img"
    with open(base, "wb") as f:
        f.write(os.urandom(3 * MIB))
        f.truncate(8 * MIB)          # the tail a hole, as the image build leaves free space
    (tmp_path / "frozen").mkdir()
    frozen = _overlay("../base.img", tmp_path / "frozen" / "frozen.qcow2", "raw")
    _io(frozen, "write -P 0x11 1M 256k", "write -z 2M 64k", "write -P 0x22 5M 4k")
    top = _overlay(str(frozen), tmp_path / "trial.qcow2", "qcow2")
    _io(top, "write -P 0x33 1M 64k", "write -z -u 1088k 64k", "write -P 0x44 33k 1k", "discard 5M 64k",
        "write -z 6M 128k")
    return top


def test_every_cluster_is_read_where_qemu_reads_it(three_layers: Path, tmp_path: Path) -> None:
    chain = open_chain(three_layers)
    assert len(chain.layers) == 2 and chain.base == (tmp_path / "base.img").resolve()
    assert hashlib.sha256(_read_through(chain)).digest() == \
        hashlib.sha256(_converted(three_layers, tmp_path)).digest()


def test_a_cluster_written_zero_reads_as_zero_not_as_the_layer_below(three_layers: Path) -> None:
    chain = open_chain(three_layers)
    depth, kind, _ = chain.locate(1088 * 1024 // chain.cluster_size)
    assert (depth, kind) == (0, ZERO)
    # Never written anywhere: the base's.
    assert chain.locate(7 * MIB // chain.cluster_size)[0] == len(chain.layers)


def test_the_fingerprint_follows_a_write_below_the_top(three_layers: Path, tmp_path: Path) -> None:
    before = disk_fingerprint(three_layers)
    frozen = tmp_path / "frozen" / "frozen.qcow2"
    _io(frozen, "write -P 0x55 4M 4k")
    after = disk_fingerprint(three_layers)
    assert before is not None and after is not None and before != after


@pytest.mark.parametrize("options", [("-o", "extended_l2=on"), ("-o", "compat=1.1,data_file=data.bin")])
def test_a_layout_it_does_not_read_is_refused(tmp_path: Path, options: tuple[str, ...]) -> None:
    base = tmp_path / "base.img"
    base.write_bytes(bytes(2 * MIB))
    disk = _overlay(str(base), tmp_path / "odd.qcow2", "raw", *(
        (options[0], options[1].replace("data.bin", str(tmp_path / "data.bin"))) if "data_file" in options[1]
        else options))
    with pytest.raises(Unsupported):
        open_chain(disk)
    assert disk_fingerprint(disk) is None


def test_a_compressed_cluster_is_refused(tmp_path: Path) -> None:
    raw = tmp_path / "plain.img"
    raw.write_bytes(b"brownout" * (MIB // 8))
    packed = tmp_path / "packed.qcow2"
    _run("qemu-img", "convert", "-c", "-O", "qcow2", str(raw), str(packed))
    chain = open_chain(packed)
    with pytest.raises(Unsupported):
        chain.locate(0)
    assert disk_fingerprint(packed) is None


def test_layers_of_another_size_are_refused(tmp_path: Path) -> None:
    base = tmp_path / "base.img"
    base.write_bytes(bytes(2 * MIB))
    bigger = tmp_path / "bigger.qcow2"
    _run("qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(base), str(bigger), "4M")
    with pytest.raises(Unsupported):
        open_chain(bigger)


def test_a_file_that_is_not_a_disk_is_a_raw_base(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_bytes(b"not a qcow2 header")
    chain = open_chain(text)
    assert chain.layers == () and chain.base == text.resolve()


def test_a_range_copied_out_is_the_guest_bytes_and_sparse(three_layers: Path, tmp_path: Path) -> None:
    chain = open_chain(three_layers)
    out = tmp_path / "part.raw"
    copy_out(chain, MIB, 6 * MIB, out)
    assert out.read_bytes() == _converted(three_layers, tmp_path)[MIB:7 * MIB]
    # The base's zero tail past 3 MiB is a hole in it, and stays one: at most
    # the clusters the overlays hold are written there.
    assert out.stat().st_blocks * 512 < 3 * MIB


def test_a_range_past_the_disk_is_refused(three_layers: Path, tmp_path: Path) -> None:
    with pytest.raises(Unsupported):
        copy_out(open_chain(three_layers), 4 * MIB, 8 * MIB, tmp_path / "past.raw")
