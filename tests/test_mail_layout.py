"""The rules the mail packages keep: inbound never imports render (nor outbound, nor the build);
the build never imports mail; one module of mail calls the build; no zone decision in mail."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

MAIL = Path(__file__).resolve().parent.parent / "extranet" / "mail"


def loaded_by(*modules: str) -> set[str]:
    """The extranet modules a fresh interpreter has loaded after importing `modules`."""
    code = (f"import importlib, sys\nfor m in {list(modules)!r}: importlib.import_module(m)\n"
            "print('\\n'.join(m for m in sys.modules if m.startswith('extranet')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_inbound_never_imports_render_outbound_or_the_build() -> None:
    inbound = [f"extranet.mail.inbound.{p.stem}" for p in sorted((MAIL / "inbound").glob("*.py"))]
    assert len(inbound) > 15
    loaded = loaded_by(*inbound)
    assert set(inbound) <= loaded
    assert not {m for m in loaded if m.startswith(("extranet.render", "extranet.mail.outbound", "extranet.build"))}


def test_the_build_never_imports_mail() -> None:
    """Notifying follows a build (the command, the gateway's batch): no import circle."""
    build = (MAIL.parent / "build.py").read_text()
    assert not re.search(r"^\s*(from|import) \S*\bmail\b", build, re.M)
    assert not {m for m in loaded_by("extranet.build") if m.startswith("extranet.mail")}


def test_one_module_of_mail_calls_the_build() -> None:
    calling = sorted(str(p.relative_to(MAIL)) for p in MAIL.rglob("*.py")
                     if re.search(r"^\s*from \.+build import|\bextranet\.build\b", p.read_text(), re.M))
    assert calling == ["batch.py"]


def test_no_zone_decision_in_mail() -> None:
    """Visibility, moderation and who is staff are zones.Rules' to decide."""
    decisions = re.compile(r"visibility\s*[!=]=|\.pending\b|\b(MIXED|INTERNAL)\b|\.org\s*[!=]=|\bstaff\s*=\s*\w+\s*==")
    found = [f"{p.relative_to(MAIL)}:{n}: {line.strip()}" for p in sorted(MAIL.rglob("*.py"))
             for n, line in enumerate(p.read_text().splitlines(), 1) if decisions.search(line)]
    assert found == []
