"""The SHA-256 of many files (the evidence bundle's images: some GB of disk
images and tens of thousands of small files) in a process per core, up to
four. Threads would not do: one thread's small files, hashed under the GIL,
hold up another's big file at every chunk it reads. The processes come from a
fork server, which has none of the caller's threads and imports nothing of it."""
from __future__ import annotations

import hashlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

WORKERS = max(1, min(4, os.cpu_count() or 1))
# Files at least this big are hashed one to a task; smaller ones in batches of
# about BATCH_BYTES, as a task per file costs more than hashing a small one.
BIG = 1 << 20
BATCH_BYTES = 64 << 20
BATCH_FILES = 1024


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def sha256_files(paths: list[Path]) -> list[str]:
    return [sha256_file(p) for p in paths]


def regular_files(top: Path) -> list[tuple[Path, int]]:
    """Every regular file under `top` (symbolic links left out) with its size, by path."""
    found = []
    pending = [top]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    found.append((Path(entry.path), entry.stat(follow_symlinks=False).st_size))
    return sorted(found)


def batches(files: list[tuple[Path, int]]) -> list[list[Path]]:
    """Files (path, size) in tasks for the hashing processes: each big file
    alone, the small ones together; the biggest first, so no process is left
    with one at the end."""
    sized = sorted(((size, p) for p, size in files), key=lambda sp: -sp[0])
    tasks: list[tuple[int, list[Path]]] = []
    batch: list[Path] = []
    batch_bytes = 0
    for size, path in sized:
        if size >= BIG:
            tasks.append((size, [path]))
            continue
        batch.append(path)
        batch_bytes += size
        if batch_bytes >= BATCH_BYTES or len(batch) >= BATCH_FILES:
            tasks.append((batch_bytes, batch))
            batch, batch_bytes = [], 0
    if batch:
        tasks.append((batch_bytes, batch))
    return [paths for _, paths in sorted(tasks, key=lambda t: -t[0])]


def sha256_of(files: list[tuple[Path, int]]) -> dict[Path, str]:
    """path -> sha256 hex of each file (path, size)."""
    tasks = batches(files)
    if not tasks:
        return {}
    with ProcessPoolExecutor(max_workers=min(WORKERS, len(tasks)),
                             mp_context=multiprocessing.get_context("forkserver")) as pool:
        return {p: digest for paths, digests in zip(tasks, pool.map(sha256_files, tasks))
                for p, digest in zip(paths, digests)}
