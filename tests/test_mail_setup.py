"""docs/mail-setup.md and docs/deploy.md, followed where a test can: their examples are
the ones that work.

The Postfix pipe of mail-setup.md is run as Postfix runs it (from another folder, with the
envelope in its arguments) on a real site; every TOML example of both pages is a valid
extranet.toml part; the README's configuration lists every key extranet knows.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from extranet import config
from extranet.mail.demo_reply import reply_to
from helpers import copy_site
from test_gateway_publish import announce
from test_gateway_site import notification, posts

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def blocks(path: Path, language: str) -> list[str]:
    """The fenced code blocks of a language in a Markdown file (indented ones too)."""
    found = re.findall(rf"^( *)```{language}\n(.*?)^\1```", path.read_text(), re.S | re.M)
    return [re.sub(rf"^{indent}", "", body, flags=re.M) for indent, body in found]


def test_the_postfix_pipe_of_the_docs_delivers_a_reply(tmp_path: Path) -> None:
    text = (DOCS / "mail-setup.md").read_text()
    [argv] = re.findall(r"argv=(.+)", text)
    assert " -C " in argv
    root = copy_site("small", tmp_path)
    announce(root)
    raw = reply_to(notification(root, "carl@acme.example"), "Delivered by the Postfix pipe.")
    to = re.search(rb"^To: (.+)$", raw, re.M).group(1).decode().strip()
    exe = Path(sys.executable).with_name("extranet")
    assert exe.exists(), "the extranet command of this environment"
    command = (argv.replace("/srv/extranet/.venv/bin/extranet", str(exe)).replace("/srv/extranet/site", str(root))
               .replace("${sender}", "carl@acme.example").replace("${recipient}", to))
    result = subprocess.run(shlex.split(command), input=raw, capture_output=True, cwd="/", timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    [post] = posts(root)
    assert "Delivered by the Postfix pipe." in post.read_text()
    # the example the README had: no -C, run from Postfix's folder: deferred (75), never delivered
    without = shlex.split(command.replace(f" -C {root}", ""))
    deferred = subprocess.run(without, input=raw, capture_output=True, cwd="/", timeout=120)
    assert deferred.returncode == 75 and b"extranet.toml: file not found" in deferred.stderr


@pytest.mark.parametrize("page", ["mail-setup.md", "deploy.md"])
def test_every_toml_example_is_a_valid_part_of_extranet_toml(tmp_path: Path, page: str) -> None:
    examples = blocks(DOCS / page, "toml")
    assert examples
    for n, example in enumerate(examples):
        root = tmp_path / f"{n}"
        root.mkdir()
        shutil.copy(ROOT / "tests" / "sites" / "small" / "people.toml", root / "people.toml")
        (root / "extranet.toml").write_text('title = "T"\norg = "smallco"\n' + example)
        config.load(root)  # raises with file:line for an unknown key, a wrong type, a bad destination


def test_the_readme_lists_every_key(tmp_path: Path) -> None:
    [example] = [b for b in blocks(ROOT / "README.md", "toml") if "[mail.imap]" in b and "[deploy]" in b]
    data = tomllib.loads(example)
    tables = {"": (config.SITE_FIELDS, data), "protect": (config.PROTECT_FIELDS, data["protect"]),
              "build": (config.BUILD_FIELDS, data["build"]), "mail": (config.MAIL_FIELDS, data["mail"]),
              "mail.relay": (config.RELAY_FIELDS, data["mail"]["relay"]),
              "mail.smtp": (config.SMTP_FIELDS, data["mail"]["smtp"]),
              "mail.imap": (config.IMAP_FIELDS, data["mail"]["imap"]),
              "deploy": (config.DEPLOY_FIELDS, data["deploy"]), "deploy.s3": (config.S3_FIELDS, data["deploy"]["s3"]),
              "git": (config.GIT_FIELDS, data["git"])}
    for zone in config.ZONES:
        tables[f"zones.{zone}"] = (config.ZONE_FIELDS, data["zones"][zone])
    missing = [f"[{table}] {f.name}" for table, (fields, values) in tables.items() for f in fields
               if f.name not in values]
    assert missing == []
    root = tmp_path / "site"
    shutil.copytree(ROOT / "tests" / "sites" / "small", root)
    (root / "extranet.toml").write_text(example.replace('org = "durand"', 'org = "smallco"'))
    config.load(root)  # and it is valid as it stands
