"""Theme loading: Jinja2 templates and static files, a site's theme overriding the default."""

from __future__ import annotations

import functools
import hashlib
import types
from pathlib import Path

import jinja2
from jinja2.runtime import Context, Macro

PACKAGE_THEMES = Path(__file__).resolve().parent.parent / "themes"


class Theme:
    """Templates and static files of the site's theme, falling back on the packaged default."""

    def __init__(self, site_root: Path, name: str, key: str = "") -> None:
        """`key`: the hash of the theme's files when the caller has it (see digest)."""
        self.dirs = Theme.folders(site_root, name)
        self.key = key
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(d / "templates") for d in self.dirs]),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # a Theme is made anew when one of its files changes
        )
        self.env.context_class = _Context
        self._prepared = False

    def prepare(self) -> None:
        """Load every template now, once per theme, so that worker processes forked after this
        inherit them (render/pool.py); a template that does not load fails when a page uses it."""
        if self._prepared:
            return
        self._prepared = True
        for name in self.env.list_templates():  # with what they extend, include and import
            try:
                self.env.get_template(name)
            except jinja2.TemplateError:
                pass

    @classmethod
    def kept(cls, site_root: Path, name: str, key: str, theme: "Theme | None") -> "Theme":
        """`theme` when it is this site's with files hashing to `key`, else the theme anew."""
        return theme if theme is not None and theme.key == key and theme.dirs == cls.folders(site_root, name) \
            else cls(site_root, name, key)

    @staticmethod
    def folders(site_root: Path, name: str) -> list[Path]:
        """The theme's folders, the first winning: the site's own, the packaged one, the default."""
        out: list[Path] = []
        for base in (site_root / "themes" / name, PACKAGE_THEMES / name, PACKAGE_THEMES / "default"):
            if base.is_dir() and base not in out:
                out.append(base)
        return out

    @functools.cached_property
    def digest(self) -> str:
        """The hash of every file of the theme (names and bytes)."""
        h = hashlib.sha256()
        for f in self.files():
            h.update(str(f).encode() + b"\0" + f.read_bytes() + b"\0")
        return h.hexdigest()

    def static_files(self) -> dict[str, Path]:
        """Static files by path below static/, the site's theme winning over the default."""
        out: dict[str, Path] = {}
        for base in reversed(self.dirs):
            static = base / "static"
            if static.is_dir():
                for f in sorted(static.rglob("*")):
                    if f.is_file() and not f.name.startswith("."):
                        out[f.relative_to(static).as_posix()] = f
        return out

    def files(self) -> list[Path]:
        """Every file of the theme."""
        return sorted(f for d in self.dirs for f in d.rglob("*") if f.is_file())


_PLAIN = frozenset({types.FunctionType, types.MethodType, types.BuiltinFunctionType, Macro})


class _Context(Context):
    """Jinja2's context, calling a plain function or macro of a template straight away.

    Jinja2 checks every call (about 30 per page) for a callable that wants the context,
    environment or evaluation context passed in (``jinja_pass_arg``, set by its ``pass_*``
    decorators): only such callables, and any other kind of object, take that general path."""

    def call(__self, __obj, *args, **kwargs):  # noqa: N805 - Jinja2's own signature
        if type(__obj) in _PLAIN and not hasattr(__obj, "jinja_pass_arg"):
            kwargs.pop("_block_vars", None)
            kwargs.pop("_loop_vars", None)
            try:
                return __obj(*args, **kwargs)
            except StopIteration:
                return __self.environment.undefined(
                    "value was undefined because a callable raised a StopIteration exception")
        return super().call(__obj, *args, **kwargs)
