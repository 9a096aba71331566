"""The build cache on disk: whole files, small deltas, damage and crashes never give wrong entries."""

from __future__ import annotations

from pathlib import Path

from extranet.cache import MAX_DELTAS, Cache


def _fresh(folder: Path, namespace: str = "records") -> dict:
    return dict(Cache(folder).get(namespace))


def test_a_few_changes_are_written_as_a_delta_and_read_back(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.replace("records", {f"k{i}": ("value", i) for i in range(100)})
    cache.save()
    assert [p.name for p in tmp_path.iterdir()] == ["records.pickle"]
    cache = Cache(tmp_path)
    data = dict(cache.get("records"))
    data["new"] = ("value", "new")
    del data["k3"]
    cache.replace("records", data)
    cache.save()
    deltas = sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".delta"))
    assert len(deltas) == 1
    assert _fresh(tmp_path) == data


def test_many_changes_rewrite_the_file_and_drop_the_deltas(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.replace("records", {f"k{i}": i for i in range(100)})
    cache.save()
    for round_ in range(MAX_DELTAS + 3):  # deltas pile up, then the whole file is written again
        cache = Cache(tmp_path)
        data = dict(cache.get("records"))
        data[f"r{round_}"] = round_
        cache.replace("records", data)
        cache.save()
        assert _fresh(tmp_path) == data
        assert sum(p.name.endswith(".delta") for p in tmp_path.iterdir()) <= MAX_DELTAS
    cache = Cache(tmp_path)
    cache.replace("records", {"only": 1})
    cache.save()
    assert _fresh(tmp_path) == {"only": 1}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".delta")]


def test_a_damaged_delta_empties_the_namespace(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.replace("records", {f"k{i}": i for i in range(100)})
    cache.save()
    cache = Cache(tmp_path)
    cache.replace("records", {**cache.get("records"), "x": 1})
    cache.save()
    next(p for p in tmp_path.iterdir() if p.name.endswith(".delta")).write_bytes(b"damaged")
    assert _fresh(tmp_path) == {}


def test_deltas_of_an_older_file_are_never_applied(tmp_path: Path) -> None:
    """A crash after the whole file was written but before its old deltas were removed."""
    cache = Cache(tmp_path)
    cache.replace("records", {f"k{i}": i for i in range(100)})
    cache.save()
    cache = Cache(tmp_path)
    cache.replace("records", {**cache.get("records"), "stale": "old"})
    cache.save()
    stale = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name.endswith(".delta")}
    cache = Cache(tmp_path)
    cache.replace("records", {"fresh": 1})  # rewritten whole, deltas removed ...
    cache.save()
    for name, data in stale.items():  # ... and put back, as if the removal never happened
        (tmp_path / name).write_bytes(data)
    assert _fresh(tmp_path) == {"fresh": 1}
