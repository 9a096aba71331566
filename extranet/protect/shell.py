"""The HTML served before login: encrypted shell pages and the login page.

A shell page is a tiny document that loads ``extranet.css`` and ``extranet.js`` and
carries the encrypted page as base64 in a non-executable data block; the script
decrypts it with the keys of the browser session and replaces the document.
Nothing in it names the page, its project or its readers.
"""

from __future__ import annotations

import base64
import html
import re
from functools import lru_cache
from pathlib import Path

import jinja2

from ..site.policy import content_security_policy
from .crypto import ProtectError

THEME_DIR = Path(__file__).resolve().parent.parent / "themes" / "default"
LOGIN_PAGE = "login.html"

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "noscript": "This page is encrypted. Enable JavaScript to sign in and read it; "
        "your browser decrypts it locally, nothing is sent to the server.",
        "wait": "Decrypting…",
        "heading": "Sign in",
        "username": "User name or email",
        "password": "Password",
        "remember": "Remember me on this device for {days} days",
        "submit": "Sign in",
        "help": "Your password was sent to you when your access was created. "
        "Ask your contact for a new one if you lost it.",
    },
    "fr": {
        "noscript": "Cette page est chiffrée. Activez JavaScript pour vous connecter et la "
        "lire ; votre navigateur la déchiffre localement, rien n'est envoyé au serveur.",
        "wait": "Déchiffrement…",
        "heading": "Connexion",
        "username": "Identifiant ou adresse e-mail",
        "password": "Mot de passe",
        "remember": "Se souvenir de moi sur cet appareil pendant {days} jours",
        "submit": "Se connecter",
        "help": "Votre mot de passe vous a été envoyé à la création de votre accès. "
        "Demandez-en un nouveau à votre contact si vous l'avez perdu.",
    },
}

_DATA_RE = re.compile(rb'<script type="application/x-extranet" id="xn-data">([A-Za-z0-9+/=]*)</script>')


def texts(language: str) -> dict[str, str]:
    """Interface strings for ``language`` (fr or en; anything else falls back to en)."""
    return TEXTS.get(language, TEXTS["en"])


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
    t = texts(language)
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
    t = dict(texts(language))
    t["remember"] = t["remember"].format(days=remember_days)
    return template.render(
        csp=content_security_policy(),
        zone=zone,
        title=title,
        language=language,
        remember_days=remember_days,
        static=static_prefix,
        t=t,
    ).encode("utf-8")
