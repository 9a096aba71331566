"""A small declarative schema for TOML tables and YAML front matter.

Each field is declared once with its type, default and documentation; `check` validates a
mapping against the fields and reports every problem (unknown key, wrong type, bad choice,
missing value) through a Problems collector, with the line where the key stands.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import Problems

ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")

_MISSING = object()


@dataclass(frozen=True)
class Field:
    """One allowed key: its kind (str, line, bool, int, date, datetime, list, lines, id, ids, choice)
    and default."""

    name: str
    kind: str
    doc: str
    default: Any = None
    required: bool = False
    choices: tuple[str, ...] = ()


def one_line(text: str) -> bool:
    """Whether a text holds no control character, line or paragraph separator (it is shown
    in titles and mail headers, where a line break would forge a header)."""
    return not any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in text)


def _type_error(kind: str, value: Any, choices: tuple[str, ...]) -> str | None:
    """Return why `value` is not of `kind`, or None if it is."""
    if kind == "str":
        return None if isinstance(value, str) else "must be a text"
    if kind == "line":
        if not isinstance(value, str):
            return "must be a text"
        return None if one_line(value) else "must be one line, without control characters"
    if kind == "bool":
        return None if isinstance(value, bool) else "must be true or false"
    if kind == "int":
        return None if isinstance(value, int) and not isinstance(value, bool) else "must be a whole number"
    if kind == "date":
        return None if isinstance(value, dt.date) and not isinstance(value, dt.datetime) else "must be a date (YYYY-MM-DD)"
    if kind == "datetime":
        return None if isinstance(value, dt.date) else "must be a date (YYYY-MM-DD) or a date and time"
    if kind == "id":
        return None if isinstance(value, str) and ID_RE.match(value) else "must be an id (lowercase letters, digits, . _ -)"
    if kind in ("list", "ids", "lines"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return "must be a list of texts"
        if kind == "lines" and not all(one_line(v) for v in value):
            return "must be a list of one-line texts, without control characters"
        if kind == "ids" and not all(ID_RE.match(v) for v in value):
            return "must be a list of ids (lowercase letters, digits, . _ -)"
        return None
    if kind == "choice":
        return None if value in choices else f"must be one of {', '.join(choices)}"
    if kind == "table":
        return None if isinstance(value, dict) else "must be a table"
    raise ValueError(kind)


def check(
    data: Mapping[str, Any],
    fields: tuple[Field, ...],
    problems: Problems,
    path: Path | str,
    line_of: Callable[[str], int | None],
    what: str,
) -> dict[str, Any] | None:
    """Validate `data` against `fields`; return the values with defaults filled, or None if invalid."""
    known = {f.name: f for f in fields}
    ok = True
    for key in data:
        if key not in known:
            problems.add(path, line_of(key), f"unknown key '{key}' in {what} (allowed: {', '.join(known)})")
            ok = False
    out: dict[str, Any] = {}
    for f in fields:
        value = data.get(f.name, _MISSING)
        if value is _MISSING or value is None:
            if f.required:
                problems.add(path, line_of(f.name) if value is None else None, f"missing '{f.name}' in {what}")
                ok = False
            out[f.name] = list(f.default) if isinstance(f.default, (list, tuple)) else f.default
            continue
        err = _type_error(f.kind, value, f.choices)
        if err:
            problems.add(path, line_of(f.name), f"'{f.name}' {err}, got {value!r}")
            ok = False
            continue
        out[f.name] = value
    return out if ok else None
