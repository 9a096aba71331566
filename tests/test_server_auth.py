"""The server-side layer and `extranet audit`, from a real encrypted build of a small site."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import bcrypt
import pytest

from extranet.site.urls import urls_for
from extranet import config
from helpers import copy_site, write


def cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "extranet", "-C", str(root), *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = copy_site("small", tmp_path_factory.mktemp("srv"))
    (root / "extranet.toml").write_text((root / "extranet.toml").read_text().replace("encrypt = false", "encrypt = true"))
    passwords = {}
    for pid in ("alice", "carl"):
        assert cli(root, "people", "reset", pid, "--password-file", str(root / f"{pid}.pw")).returncode == 0
        passwords[pid] = (root / f"{pid}.pw").read_text().strip()
    result = cli(root, "build")
    assert result.returncode == 0, result.stderr
    return root, passwords


def users(htpasswd: Path) -> dict[str, str]:
    return dict(line.split(":", 1) for line in htpasswd.read_text().splitlines() if line)


def test_htpasswd_holds_bcrypt_hashes_of_the_real_passwords(built) -> None:
    root, passwords = built
    mixed = users(root / ".extranet/server/mixed.htpasswd")
    internal = users(root / ".extranet/server/internal.htpasswd")
    assert set(internal) == {"alice", "alice@small.example"}  # staff only
    assert set(mixed) == {"alice", "alice@small.example", "carl", "carl@acme.example"}
    for name, pid in (("carl", "carl"), ("carl@acme.example", "carl"), ("alice", "alice")):
        h = mixed[name].encode()
        assert h.startswith(b"$2") and int(h.split(b"$")[2]) >= 10  # bcrypt, cost >= 10
        assert bcrypt.checkpw(passwords[pid].encode(), h)
        assert not bcrypt.checkpw(b"wrong password", h)
    served = [p.name for p in (root / "public").rglob("*")]
    assert not any("htpasswd" in name or name.endswith((".conf", ".htaccess", "Caddyfile")) for name in served)


def test_snippets_limit_each_project_folder_to_its_members(built) -> None:
    root, _ = built
    settings, _ = config.load(root)
    alpha = urls_for(settings, True)["mixed"].project_dir("alpha")
    assert alpha.startswith("p/") and "alpha" not in alpha
    server = root / ".extranet/server"
    assert set(users(server / "htpasswd/mixed/alpha.htpasswd")) == {"alice", "alice@small.example", "carl",
                                                                  "carl@acme.example"}
    assert not (server / "htpasswd/mixed/beta.htpasswd").exists()  # beta is not in the mixed zone
    apache = (server / "apache/mixed.htaccess").read_text()
    assert f"m#/{alpha}/#" in apache and "Require user alice alice@small.example carl carl@acme.example" in apache
    assert "Content-Security-Policy" in apache and "AuthType Basic" in apache
    nginx = (server / "nginx/mixed.conf").read_text()
    assert f"location /{alpha}/ {{" in nginx and "htpasswd/mixed/alpha.htpasswd" in nginx
    caddy = (server / "caddy/mixed.Caddyfile").read_text()
    assert f'basic_auth /{alpha}/* bcrypt "extranet mixed" {{' in caddy and "carl $2" in caddy
    assert "beta" not in (server / "caddy/mixed.Caddyfile").read_text().split("# project")[0]


def test_audit_passes_on_the_build_and_fails_on_a_tampered_output(built, tmp_path: Path) -> None:
    root, _ = built
    result = cli(root, "audit")
    assert result.returncode == 0, result.stderr
    assert "audit passed" in result.stdout
    # a plain (unencrypted) page slipped into the mixed output is caught
    write(root / "public/mixed/p/leak.html", "<p>Confidential pricing strategy</p>")
    try:
        result = cli(root, "audit")
        assert result.returncode == 1 and "p/leak.html" in result.stderr
    finally:
        (root / "public/mixed/p/leak.html").unlink()
    # an internal page copied into the mixed zone does not open with the mixed zone's keys
    internal_pages = sorted((root / "public/internal/p").rglob("*.html"))
    target = root / "public/mixed/p/copied.html"
    target.write_bytes(internal_pages[0].read_bytes())
    try:
        result = cli(root, "audit")
        assert result.returncode == 1 and "copied.html" in result.stderr
    finally:
        target.unlink()


def test_site_theme_overrides_a_template(tmp_path: Path) -> None:
    root = copy_site("small", tmp_path)
    write(root / "themes/default/templates/page.html",
          '{% extends "base.html" %}{% block title %}{{ page.title }}{% endblock %}'
          '{% block main %}<div class="house-style">{{ content }}</div>{% endblock %}')
    write(root / "themes/default/static/logo.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>")
    assert cli(root, "build").returncode == 0
    page = (root / "public/mixed/pages/welcome.html").read_text()
    assert '<div class="house-style">' in page and "How we work together" in page
    assert (root / "public/mixed/static/logo.svg").exists() and (root / "public/mixed/static/style.css").exists()
