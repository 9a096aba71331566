"""Theme loading: Jinja2 templates and static files, a site's theme overriding the default."""

from __future__ import annotations

import functools
import types
from pathlib import Path

import jinja2
from jinja2.runtime import Context, Macro

PACKAGE_THEMES = Path(__file__).resolve().parent.parent / "themes"


class Theme:
    """Templates and static files of the site's theme, falling back on the packaged default."""

    def __init__(self, site_root: Path, name: str, compiled: Path | None = None) -> None:
        """`compiled`: a folder where Jinja2 keeps compiled templates between builds (keyed by
        each template's source checksum, so an edited template is compiled again)."""
        self.dirs: list[Path] = []
        for base in (site_root / "themes" / name, PACKAGE_THEMES / name, PACKAGE_THEMES / "default"):
            if base.is_dir() and base not in self.dirs:
                self.dirs.append(base)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(d / "templates") for d in self.dirs]),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # one Theme per build: a template cannot change under it
            bytecode_cache=_bytecode_cache(compiled) if compiled is not None else None,
        )
        self.env.context_class = _Context
        self._prepared = False

    def prepare(self, pages: tuple[str, ...]) -> None:
        """Load every template and analyse what each of `pages` reads (narrow.py) now, once per
        theme, so that worker processes forked after this inherit them (render/pool.py): each
        one would otherwise parse them again. A template that does not load fails when a page
        uses it."""
        if self._prepared:
            return
        self._prepared = True
        for name in pages:
            self.narrowing.of(name)
        for name in self.env.list_templates():  # with what they extend, include and import
            try:
                self.env.get_template(name)
            except jinja2.TemplateError:
                pass

    @functools.cached_property
    def narrowing(self):
        """What each template reads of a project (narrow.Narrowing), analysed once per theme."""
        from .narrow import Narrowing

        return Narrowing(self.env)

    @functools.cached_property
    def digest(self) -> str:
        """The hash of every file of the theme (names and bytes), read once per theme."""
        from .fingerprint import theme_digest

        return theme_digest(self.files_digest())

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

    def files_digest(self) -> list[Path]:
        """Every file of the theme (for cache invalidation)."""
        return sorted(f for d in self.dirs for f in d.rglob("*") if f.is_file())


def _bytecode_cache(folder: Path) -> jinja2.BytecodeCache | None:
    """Jinja2's own on-disk cache of compiled templates (None when the folder cannot be made)."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(folder))


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
