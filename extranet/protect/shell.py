"""The HTML served before login: encrypted shell pages and the login page.

A shell page is a tiny document that loads ``extranet.css`` and ``extranet.js`` and
carries the encrypted page as base64 in a non-executable data block; the script
decrypts it with the keys of the browser session and replaces the document.
Nothing in it names the page, its project or its readers.
"""

from __future__ import annotations

import base64
import html
import json
import re
from functools import lru_cache
from pathlib import Path

import jinja2

from ..messages import texts
from ..site.policy import content_security_policy
from .crypto import ProtectError

THEME_DIR = Path(__file__).resolve().parent.parent / "themes" / "default"
LOGIN_PAGE = "login.html"

_DATA_RE = re.compile(rb'<script type="application/x-extranet" id="xn-data">([A-Za-z0-9+/=]*)</script>')


def browser_texts(language: str) -> str:
    """The browser's strings (messages.py, section "browser") as the data block its script
    reads: JSON that cannot end the script element it stands in."""
    return json.dumps(texts("browser", language), ensure_ascii=False).replace("<", "\\u003c")


def root_of(path: str) -> str:
    """Relative URL from a file at ``path`` to the zone root ("./" at the root)."""
    return "../" * path.count("/") or "./"


def shell_page(path: str, blob: bytes, *, zone: str, title: str, language: str, static_prefix: str) -> bytes:
    """The public stand-in of an encrypted page at ``path``."""
    return _shell_head(root_of(path), zone, title, language, static_prefix) + base64.b64encode(blob) + _SHELL_TAIL


_SHELL_TAIL = b"</script>\n</body>\n</html>\n"


@lru_cache(maxsize=64)
def _shell_head(root: str, zone: str, title: str, language: str, static_prefix: str) -> bytes:
    """Everything of a shell page before its blob (the same for every page at one depth)."""
    t = texts("login", language)
    esc = html.escape
    return (
        f'<!DOCTYPE html>\n<html lang="{esc(language)}" data-xn-root="{root}" '
        f'data-xn-zone="{esc(zone)}" data-xn-static="{esc(static_prefix)}">\n<head>\n'
        '<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(content_security_policy())}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex, nofollow">\n'
        f"<title>{esc(title)}</title>\n"
        f'<link rel="stylesheet" href="{root}{esc(static_prefix)}extranet.css">\n'
        f'<script defer src="{root}{esc(static_prefix)}extranet.js"></script>\n'
        '</head>\n<body class="xn-shell">\n'
        f'<noscript><p class="xn-noscript">{esc(t["noscript"])}</p></noscript>\n'
        f'<p class="xn-status" id="xn-status" role="status">{esc(t["wait"])}</p>\n'
        f'<script type="application/json" id="xn-texts">{browser_texts(language)}</script>\n'
        '<script type="application/x-extranet" id="xn-data">'
    ).encode("utf-8")


def shell_blob(page: bytes) -> bytes:
    """The encrypted blob carried by a shell page; ProtectError if there is none."""
    found = _DATA_RE.search(page)
    if not found:
        raise ProtectError("not an extranet shell page")
    return base64.b64decode(found.group(1))


@lru_cache(maxsize=4)
def _environment(template_dir: str) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def login_page(*, zone: str, title: str, language: str, remember_days: int, static_prefix: str) -> bytes:
    """Render the login page (``templates/login.html`` of the default theme)."""
    try:
        template = _environment(str(THEME_DIR / "templates")).get_template(LOGIN_PAGE)
    except jinja2.TemplateError as exc:
        raise ProtectError(f"cannot load the login template: {exc}") from exc
    t = dict(texts("login", language))
    t["remember"] = t["remember"].format(days=remember_days)
    return template.render(
        csp=content_security_policy(),
        browser_texts=browser_texts(language),
        zone=zone,
        title=title,
        language=language,
        remember_days=remember_days,
        static=static_prefix,
        t=t,
    ).encode("utf-8")
