"""Files replaced whole, by many writers at once; the locks beside them."""
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness.files import locked, replace_copy, replace_file, try_lock


def test_threads_of_one_process_replace_one_file_at_once(tmp_path):
    target = tmp_path / "kept" / "agent.gz"
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: replace_file(target, f"writer {n % 2}"), range(64)))
    assert target.read_text() in ("writer 0", "writer 1")
    assert [p.name for p in target.parent.iterdir()] == ["agent.gz"]


def test_a_copy_replaces_the_file_and_leaves_nothing_beside_it(tmp_path):
    source, target = tmp_path / "record.jsonl", tmp_path / "kept" / "record.jsonl"
    source.write_bytes(b"\x00points\n")
    replace_file(target, "older")
    replace_copy(source, target)
    assert target.read_bytes() == b"\x00points\n"
    assert [p.name for p in target.parent.iterdir()] == ["record.jsonl"]


def test_a_failed_copy_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "record.jsonl"
    replace_file(target, "older")
    try:
        replace_copy(tmp_path / "missing", target)
    except FileNotFoundError:
        pass
    else:
        raise AssertionError("a copy of a missing file succeeded")
    assert target.read_text() == "older"
    assert [p.name for p in tmp_path.iterdir()] == ["record.jsonl"]


def test_try_lock_takes_the_lock_locked_takes_or_gives_way_at_once(tmp_path: Path) -> None:
    held = try_lock(tmp_path, "k")
    assert held is not None and try_lock(tmp_path, "k") is None
    held.close()
    with locked(tmp_path, "k"):
        assert try_lock(tmp_path, "k") is None
    free = try_lock(tmp_path, "k")
    assert free is not None
    free.close()
