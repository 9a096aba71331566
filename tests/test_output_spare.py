"""A long-running process publishes by bringing the tree it swapped out last time up to date.

Each test publishes a sequence of outputs (a value that is not bytes stands for "the file
served now", as the build hands them over) and checks after every publish that the served
folder holds exactly the expected files, that the spare is kept outside the served folder,
and that the served files were never written into while the spare was brought up to date.
"""

from __future__ import annotations

import os
from pathlib import Path

from extranet.output import Spare, publish

from helpers import read_tree

SAME = object()  # "unchanged": the served file, hard-linked


def _publish(out: Path, state: Path, files: dict, expected: dict[str, bytes], spare: Spare | None) -> None:
    publish(out, {"zone": files}, trash=state / "trash", spare=spare)
    assert read_tree(out / "zone") == expected
    assert [p.name for p in out.iterdir()] == ["zone"]  # nothing else in the served folder


def test_spare_tree_is_brought_up_to_date_and_swapped_in(tmp_path: Path) -> None:
    out, state = tmp_path / "public", tmp_path / ".extranet"
    spare = Spare(state / "spare")
    steps = [
        ({"a": b"1", "d/b": b"2", "d/c": b"3"}, {"a": b"1", "d/b": b"2", "d/c": b"3"}),
        ({"a": SAME, "d/b": b"2x", "e/f": b"4"}, {"a": b"1", "d/b": b"2x", "e/f": b"4"}),
        # the spare is now the first tree: `a` (shared with the served tree) rewritten, `d/b`
        # differs from the served one, `e/f` missing, `d/c` stale
        ({"a": b"1y", "d/b": SAME, "e/f": SAME, "d/c": b"5"}, {"a": b"1y", "d/b": b"2x", "e/f": b"4", "d/c": b"5"}),
        ({"a": SAME, "d/b": SAME}, {"a": b"1y", "d/b": b"2x"}),
        ({"a": SAME, "d/b": b"6", "g/h/i": b"7"}, {"a": b"1y", "d/b": b"6", "g/h/i": b"7"}),
    ]
    served: list[dict[str, bytes]] = []
    for i, (files, expected) in enumerate(steps):
        inode = (out / "zone" / "a").stat().st_ino if (out / "zone" / "a").exists() else None
        _publish(out, state, files, expected, spare)
        if i >= 1:
            # the tree served before is the spare now, untouched by the update (a file shared
            # with it was replaced, not written into)
            assert read_tree(state / "spare" / "zone") == served[-1], i
        if files.get("a") is SAME:
            assert (out / "zone" / "a").stat().st_ino == inode  # unchanged files keep their inode
        served.append(expected)
    assert not (state / "spare" / "zone" / "e").exists() or read_tree(state / "spare" / "zone") == served[-2]
    assert not (out / "zone" / "e").exists()  # a folder left empty goes


def test_another_build_in_between_is_noticed(tmp_path: Path) -> None:
    """A build without the spare (the command line) swaps the served tree: the spare no longer
    matches it, and the next publish stages a fresh tree instead."""
    out, state = tmp_path / "public", tmp_path / ".extranet"
    spare = Spare(state / "spare")
    _publish(out, state, {"a": b"1", "b": b"2"}, {"a": b"1", "b": b"2"}, spare)
    _publish(out, state, {"a": SAME, "b": b"3"}, {"a": b"1", "b": b"3"}, spare)
    _publish(out, state, {"a": b"4", "b": SAME}, {"a": b"4", "b": b"3"}, None)
    assert not spare.usable("zone", out / "zone")
    _publish(out, state, {"a": SAME, "b": SAME, "c": b"5"}, {"a": b"4", "b": b"3", "c": b"5"}, spare)
    _publish(out, state, {"a": SAME, "b": b"6", "c": SAME}, {"a": b"4", "b": b"6", "c": b"5"}, spare)


def test_a_spare_changed_behind_our_back_is_not_used(tmp_path: Path) -> None:
    out, state = tmp_path / "public", tmp_path / ".extranet"
    spare = Spare(state / "spare")
    _publish(out, state, {"a": b"1", "b": b"2"}, {"a": b"1", "b": b"2"}, spare)
    _publish(out, state, {"a": SAME, "b": b"3"}, {"a": b"1", "b": b"3"}, spare)
    os.unlink(state / "spare" / "zone" / "a")  # its folder's times change: no longer the one kept
    _publish(out, state, {"a": SAME, "b": SAME}, {"a": b"1", "b": b"3"}, spare)
    # a file added without touching the folder's identity is caught by the check of the names
    pair = spare.pairs["zone"]
    (state / "spare" / "zone" / "sub").mkdir()
    (state / "spare" / "zone" / "sub" / "stray").write_bytes(b"old")
    spare.pairs["zone"] = type(pair)(pair.live, spare_identity(state), pair.live_files, pair.spare_files,
                                     pair.differs)
    _publish(out, state, {"a": SAME, "b": b"4"}, {"a": b"1", "b": b"4"}, spare)


def spare_identity(state: Path) -> tuple[int, ...]:
    st = os.stat(state / "spare" / "zone")
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)


def test_a_spare_left_half_updated_by_a_crash_is_not_used(tmp_path: Path) -> None:
    """The spare's record is kept from one process to the next: a process that dies while it
    brings the spare up to date leaves a record that no longer matches it."""
    out, state = tmp_path / "public", tmp_path / ".extranet"
    kept: dict = {}
    spare = Spare(state / "spare", kept)
    _publish(out, state, {"d/a": b"1", "d/b": b"2"}, {"d/a": b"1", "d/b": b"2"}, spare)
    _publish(out, state, {"d/a": SAME, "d/b": b"3"}, {"d/a": b"1", "d/b": b"3"}, spare)
    record = dict(kept)  # (as saved after that build)
    spare.update("zone", {"d/a": b"half", "d/b": SAME}, out / "zone")  # ... and the process dies here
    again = Spare(state / "spare", record)
    assert not again.usable("zone", out / "zone")
    _publish(out, state, {"d/a": SAME, "d/b": SAME}, {"d/a": b"1", "d/b": b"3"}, again)
