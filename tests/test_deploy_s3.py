"""`extranet deploy` to S3-compatible storage: moto's S3 server on loopback, in its own process.

What a site owner would see in the bucket: exactly the zone, each object with its
Content-Type and Cache-Control; after a post is edited only the objects whose bytes changed
are written again (the others keep their ETag and date); a removed project's objects go
after every upload; a dry run writes nothing; a deploy killed midway leaves every object of
the previous deploy in place, and the next deploy makes the bucket exactly the zone.
Credentials come from the environment, as boto3 reads them; never from extranet.toml.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from deploy_support import (S3_ENV, BuiltSite, S3Server, edit_post, example_site, set_deploy, start_s3, stop_s3,
                            visible_tree)
from extranet import config
from extranet.build import build
from extranet.deploy.run import deploy
from extranet.errors import SiteError

POST = "projects/passerelle-moulin/posts/2026-03-02-galvanisation.md"
CRASH = """
import os, signal, sys
from pathlib import Path
from extranet.deploy.run import deploy
seen = []
def observe(action, job, key):
    seen.append(key)
    if len(seen) >= int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)  # a crash: no clean-up of any kind runs
deploy(Path(sys.argv[1]), observe=observe)
"""


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    saved = {k: os.environ.get(k) for k in S3_ENV}
    os.environ.update(S3_ENV)  # the credentials, where boto3 and the deploy subprocesses look
    server = start_s3()
    try:
        yield server
    finally:
        stop_s3(server)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    return example_site(tmp_path_factory.mktemp("built"))


@pytest.fixture
def site(built: BuiltSite, tmp_path: Path, s3: S3Server) -> tuple[Path, str]:
    """A copy of the built site deploying its mixed zone to a new bucket: (root, bucket)."""
    root = tmp_path / "site"
    shutil.copytree(built.root, root, symlinks=True)
    build(root)
    bucket = f"projets-{uuid.uuid4().hex[:12]}"
    client(s3).create_bucket(Bucket=bucket)
    set_deploy(root, {"mixed": f"s3://{bucket}/site/"}, s3={"endpoint_url": s3.endpoint})
    return root, bucket


def client(s3: S3Server):
    return boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1")


def objects(s3: S3Server, bucket: str) -> dict[str, tuple[str, object]]:
    """key (without the prefix) -> (ETag, LastModified)."""
    out = {}
    for page in client(s3).get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", ()):
            out[obj["Key"]] = (obj["ETag"], obj["LastModified"])
    return out


def bucket_tree(s3: S3Server, bucket: str) -> dict[str, bytes]:
    c = client(s3)
    return {key.removeprefix("site/"): c.get_object(Bucket=bucket, Key=key)["Body"].read()
            for key in objects(s3, bucket)}


def run(root: Path, **kwargs) -> list[tuple[str, str, str]]:
    seen: list[tuple[str, str, str]] = []
    deploy(root, observe=lambda *event: seen.append(event), **kwargs)
    return seen


def expected_headers(key: str) -> tuple[str, str]:
    if key.endswith(".html"):
        return "text/html; charset=utf-8", "no-cache"
    if key == "keyring.json":
        return "application/json", "no-cache"
    if key.startswith("static/"):
        kind = {"css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8"}[key.rsplit(".", 1)[1]]
        return kind, "public, max-age=3600"
    assert key.endswith(".bin"), key  # encrypted attachments
    return "application/octet-stream", "no-cache"


def test_deploy_edit_remove_dry_run_with_headers_per_object(site, s3: S3Server) -> None:
    root, bucket = site
    mixed = root / "public" / "mixed"
    run(root)
    assert bucket_tree(s3, bucket) == visible_tree(mixed)
    c = client(s3)
    for key in objects(s3, bucket):
        head = c.head_object(Bucket=bucket, Key=key)
        assert (head["ContentType"], head["CacheControl"]) == expected_headers(key.removeprefix("site/")), key

    first = objects(s3, bucket)
    before = visible_tree(mixed)
    time.sleep(1.1)  # so that an object written again would show a later date
    edit_post(root, POST, "Les poutres de 18 m", "Les poutres de dix-huit mètres")
    changed = {k for k, v in visible_tree(mixed).items() if before.get(k) != v}
    assert changed and len(changed) < len(before)
    seen = run(root)
    assert {key for _, _, key in seen} == changed
    second = objects(s3, bucket)
    rewritten = {k.removeprefix("site/") for k in second if second[k][1] != first[k][1]}
    assert rewritten == changed, "only the changed objects move"
    assert all(second[k][0] == first[k][0] for k in second if k.removeprefix("site/") not in changed)
    assert bucket_tree(s3, bucket) == visible_tree(mixed)

    shutil.rmtree(root / "content" / "projects" / "verriere-lumiere")
    build(root)
    listing = objects(s3, bucket)
    dry = deploy(root, dry_run=True)
    assert objects(s3, bucket) == listing, "a dry run changes nothing"
    gone = set(bucket_tree(s3, bucket)) - set(visible_tree(mixed))
    assert gone and {line.split(": ", 1)[1] for line in dry.lines if line.startswith("delete")} == gone
    seen = run(root)
    actions = [a for a, _, _ in seen]
    assert actions == sorted(actions, key=lambda a: a == "delete"), "the removed project's objects go last"
    assert {k for a, _, k in seen if a == "delete"} == gone
    assert bucket_tree(s3, bucket) == visible_tree(mixed)


def test_a_crash_mid_deploy_then_a_new_deploy_leaves_a_consistent_bucket(site, s3: S3Server) -> None:
    root, bucket = site
    run(root)
    previous = bucket_tree(s3, bucket)
    edit_post(root, POST, "Les poutres de 18 m", "Les poutres de dix-huit mètres")
    shutil.rmtree(root / "content" / "projects" / "verriere-lumiere")
    build(root)
    crashed = subprocess.run([sys.executable, "-c", CRASH, str(root), "4"], capture_output=True, timeout=120)
    assert crashed.returncode == -9, crashed.stderr.decode()
    midway = bucket_tree(s3, bucket)
    assert set(previous) <= set(midway), "nothing deleted before every upload is done"
    assert midway != previous, "the crash happened after some uploads"
    seen = run(root)
    assert seen, "the new deploy finishes the work"
    assert bucket_tree(s3, bucket) == visible_tree(root / "public" / "mixed")
    c = client(s3)
    for key in objects(s3, bucket):
        head = c.head_object(Bucket=bucket, Key=key)
        assert (head["ContentType"], head["CacheControl"]) == expected_headers(key.removeprefix("site/")), key
    assert run(root) == [], "and its manifest is true: nothing left to do"


def test_a_lost_manifest_costs_no_upload_of_unchanged_objects(site, s3: S3Server) -> None:
    root, bucket = site
    run(root)
    for manifest in (root / ".extranet" / "deploy").glob("*.json"):
        manifest.unlink()  # another machine deploying, or .extranet/ restored from an old backup
    assert run(root) == [], "an ETag equal to the file's MD5 means the same bytes"


@pytest.mark.parametrize("text, message", [
    ('[deploy]\nmixed = "s3://AKIAX:secret@projets/"\n', "credentials come from the environment"),
    ('[deploy]\nmixed = "s3://projets/"\n[deploy.s3]\naws_secret_access_key = "x"\n', "unknown key 'aws_secret_access_key'"),
    ('[deploy]\nmixed = "rsync://user:pw@host/mod/"\n', "no password in the destination"),
    ('[deploy]\nmixed = "s3://projets/"\ninternal = "s3://projets/interne/"\n', "'internal' is inside 'mixed'"),
    ('[deploy]\nserver_auth = "s3://projets-auth/"\n', "never to object storage"),
    ('[deploy]\nmixed = "public/mixed"\n', "cannot be inside the site's public/"),
    ('[deploy]\nmixed = "-oProxyCommand=x:/www/"\n', "cannot start with '-'"),
    ('[deploy]\nmixed = "-e:/www/"\n', "cannot start with '-'"),
    ('[deploy]\nmixed = "rsync://-x/module/"\n', "cannot start with '-'"),
])
def test_destinations_and_credentials_are_checked_with_their_line(tmp_path: Path, text: str, message: str) -> None:
    root = tmp_path / "site"
    shutil.copytree(Path(__file__).parent / "sites" / "small", root)
    toml = root / "extranet.toml"
    lines_before = toml.read_text().count("\n")
    toml.write_text(toml.read_text() + text)
    with pytest.raises(SiteError) as err:
        config.load(root)
    [problem] = err.value.problems
    assert message in problem.message and problem.path == "extranet.toml"
    assert problem.line is not None and problem.line > lines_before
