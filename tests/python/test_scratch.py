"""Where large scratch files go: memory when it has room, else tempfile's default."""
from __future__ import annotations

import shutil
from pathlib import Path

from harness.scratch import scratch_dir


def test_memory_with_room_is_used(tmp_path: Path) -> None:
    assert scratch_dir(1 << 20, shm=tmp_path) == tmp_path


def test_memory_without_twice_the_room_is_not(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    assert scratch_dir(free, shm=tmp_path) is None
    assert scratch_dir(free // 4, shm=tmp_path) == tmp_path


def test_a_missing_directory_is_not_used(tmp_path: Path) -> None:
    assert scratch_dir(1, shm=tmp_path / "absent") is None
