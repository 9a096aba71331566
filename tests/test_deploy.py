"""`extranet deploy` to a folder and to a real rsync daemon on loopback (the rsync protocol).

What a site owner would check on the server: the destination holds exactly the zone; a second
deploy moves only the files whose bytes changed; a removed project's files go, after every
upload; hidden files of the server (.htaccess, .well-known/) stay; a cap on deletions stops a
deploy before it changes anything; a dry run changes nothing; the server's auth files go only
to their own place, and follow people changes.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy_support import BuiltSite, edit_post, example_site, set_deploy, start_rsyncd, stop_rsyncd, visible_tree
from extranet.build import build
from extranet.deploy.run import deploy
from extranet.deploy.targets import DeployError
from extranet.people import reset

POST = "projects/passerelle-moulin/posts/2026-03-02-galvanisation.md"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    return example_site(tmp_path_factory.mktemp("built"))


@pytest.fixture
def site(built: BuiltSite, tmp_path: Path) -> BuiltSite:
    """A fresh copy of the built example site (with its state: keys, cache)."""
    import shutil

    root = tmp_path / "site"
    shutil.copytree(built.root, root, symlinks=True)
    build(root)  # in its new place: the next builds are incremental
    return BuiltSite(root, built.passwords)


@pytest.fixture(params=["folder", "rsync"])
def destination(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(what [deploy] mixed says, where the files land)."""
    landing = tmp_path / "server" / "projets"
    if request.param == "folder":
        landing.parent.mkdir(parents=True)
        yield str(landing), landing
        return
    server = start_rsyncd(tmp_path / "server")
    try:
        yield server.url + "projets/", landing
    finally:
        stop_rsyncd(server)


def run(root: Path, **kwargs) -> tuple[object, list[tuple[str, str, str]]]:
    seen: list[tuple[str, str, str]] = []
    report = deploy(root, observe=lambda *event: seen.append(event), **kwargs)
    return report, seen


def test_deploy_then_only_what_changed_then_a_removed_project_last(site: BuiltSite, destination) -> None:
    text, landing = destination
    set_deploy(site.root, {"mixed": text})
    mixed = site.root / "public" / "mixed"
    report, seen = run(site.root)
    assert visible_tree(landing) == visible_tree(mixed)
    assert not any(k.endswith("htpasswd") or ".extranet" in k for k in visible_tree(landing))
    uploads = [key for action, _, key in seen if action == "upload"]
    assert len(uploads) == len(visible_tree(mixed)) and "mixed -> " in report.summary()
    # the files pages point to, then the keyring, then the pages, deepest first
    kinds = [0 if not k.endswith(".html") and k != "keyring.json" else 1 if k == "keyring.json" else 2 for k in uploads]
    assert kinds == sorted(kinds)
    pages = [k for k in uploads if k.endswith(".html")]
    assert [k.count("/") for k in pages] == sorted((k.count("/") for k in pages), reverse=True)

    # the server's own hidden files are never touched
    (landing / ".well-known").mkdir()
    (landing / ".well-known" / "acme-challenge").write_text("token")
    (landing / ".htaccess").write_text("Require all granted\n")

    before = visible_tree(mixed)
    edit_post(site.root, POST, "Les poutres de 18 m", "Les poutres de dix-huit mètres")
    after = visible_tree(mixed)
    changed = {k for k in after if before.get(k) != after[k]}
    assert changed and len(changed) < len(after), "some files changed, not all"
    report, seen = run(site.root)
    assert {key for action, _, key in seen if action == "upload"} == changed
    assert not [e for e in seen if e[0] == "delete"]
    assert visible_tree(landing) == after
    assert (landing / ".htaccess").exists() and (landing / ".well-known" / "acme-challenge").exists()

    import shutil

    shutil.rmtree(site.root / "content" / "projects" / "verriere-lumiere")
    build(site.root)
    gone = set(after) - set(visible_tree(mixed))
    assert gone, "the project had files in the mixed zone"
    report, seen = run(site.root)
    actions = [action for action, _, _ in seen]
    assert actions == sorted(actions, key=lambda a: a == "delete"), "every deletion after every upload"
    assert {key for action, _, key in seen if action == "delete"} == gone
    assert visible_tree(landing) == visible_tree(mixed)
    report, seen = run(site.root)
    assert seen == [] and "0 uploaded" in report.summary()


def test_dry_run_and_the_deletion_cap_change_nothing(site: BuiltSite, destination) -> None:
    text, landing = destination
    set_deploy(site.root, {"mixed": text, "max_deletes": 3})
    run(site.root)
    served = visible_tree(landing)
    import shutil

    shutil.rmtree(site.root / "content" / "projects" / "verriere-lumiere")
    build(site.root)
    report, seen = run(site.root, dry_run=True)
    assert seen == [] and visible_tree(landing) == served
    assert any(line.startswith("delete mixed: p/") for line in report.lines)
    assert "a deploy would stop here" in report.lines[-1]
    with pytest.raises(DeployError, match=r"would delete \d+ files, more than the cap of 3: nothing changed"):
        run(site.root)
    assert visible_tree(landing) == served
    report, seen = run(site.root, max_deletes=1000)
    assert visible_tree(landing) == visible_tree(site.root / "public" / "mixed")


def test_command_line(site: BuiltSite, tmp_path: Path) -> None:
    landing = tmp_path / "www" / "projets"
    landing.parent.mkdir()

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "extranet", "-C", str(site.root), "deploy", *args],
                              capture_output=True, text=True, timeout=120)

    unset = cli()
    assert unset.returncode == 1 and unset.stderr == ("error: nothing to deploy: set [deploy] internal and/or "
                                                      "mixed in extranet.toml (see docs/deploy.md)\n")
    set_deploy(site.root, {"mixed": str(landing), "max_deletes": 0})

    dry = cli("--dry-run")
    assert dry.returncode == 0 and dry.stdout.splitlines()[-1].startswith("dry run, nothing changed: mixed -> ")
    assert not landing.exists()
    done = cli()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("deployed in ") and done.stdout.count("\n") == 1
    (landing / "old.html").write_text("stale")
    refused = cli()
    assert refused.returncode == 1 and refused.stderr.startswith("error: this deploy would delete 1 files")
    assert (landing / "old.html").exists()
    assert cli("--max-deletes", "1").returncode == 0 and not (landing / "old.html").exists()


def test_server_auth_files_go_to_their_own_place_and_follow_people_changes(site: BuiltSite, tmp_path: Path) -> None:
    server = start_rsyncd(tmp_path / "server")
    try:
        for parent in ("www", "etc"):  # as on a server: the parents exist, the places are created
            (tmp_path / "server" / parent).mkdir()
        set_deploy(site.root, {"mixed": server.url + "www/projets/", "server_auth": server.url + "etc/extranet/"})
        run(site.root)
        auth = tmp_path / "server" / "etc" / "extranet"
        local = site.root / ".extranet" / "server"
        assert visible_tree(auth) == visible_tree(local)
        assert (auth / "mixed.htpasswd").read_text().startswith(("blemoine:", "cdurand:", "hmorel:"))
        served = visible_tree(tmp_path / "server" / "www" / "projets")
        assert served and not any("htpasswd" in k or k.endswith((".conf", ".Caddyfile")) for k in served)
        old = (auth / "mixed.htpasswd").read_text()
        reset(site.root, "blemoine")  # a new password: the server must accept it, not the old one
        build(site.root)
        report, seen = run(site.root)
        assert ("upload", "server files", "mixed.htpasswd") in seen
        assert (auth / "mixed.htpasswd").read_text() != old
        assert (auth / "mixed.htpasswd").read_bytes() == (local / "mixed.htpasswd").read_bytes()
        assert seen.index(("upload", "server files", "mixed.htpasswd")) < min(
            i for i, e in enumerate(seen) if e[1] == "mixed"), "the server files go first"
    finally:
        stop_rsyncd(server)
