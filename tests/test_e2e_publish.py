"""End to end, as in production: a client's reply reaches the site in the bucket.

`extranet gateway` runs as its own process on a site folder that is a git work tree, with
`[deploy] after_build = true` to moto's S3 server. The client answers a notification over
SMTP; the post is committed (author: the client), the site rebuilt and deployed; the bucket
then holds the new encrypted page, which the client's password opens with the keyring read
from that same bucket.
"""

from __future__ import annotations

import os
import smtplib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path

import boto3
import pytest

from deploy_support import S3_ENV, S3Server, set_deploy, start_s3, stop_s3
from dovecot import free_port
from extranet.mail.demo_reply import reply_to
from extranet.protect.crypto import ContentKey, ProtectError
from extranet.protect.keyring import open_keyring
from extranet.protect.zone import decrypt_file
from helpers import copy_site
from test_gateway_publish import STAFF, announce, git, wait
from test_gateway_site import cli, notification

REPLY = "Les poutres arrivent mardi, merci. Carl"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    for k, v in S3_ENV.items():
        monkeypatch.setenv(k, v)
    server = start_s3()
    try:
        yield server
    finally:
        stop_s3(server)


def listing(client, bucket: str) -> dict[str, str]:
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", ()):
            out[obj["Key"]] = obj["ETag"]
    return out


def test_a_reply_is_committed_rebuilt_deployed_and_readable_in_the_bucket(tmp_path: Path, s3: S3Server) -> None:
    root = copy_site("small", tmp_path)
    toml = root / "extranet.toml"
    port = free_port()
    toml.write_text(toml.read_text().replace("encrypt = false", "encrypt = true")
                    + f'[mail.smtp]\nlisten = "127.0.0.1:{port}"\n')
    pw_file = tmp_path / "carl.pw"
    assert cli(root, "people", "reset", "carl", "--password-file", str(pw_file)).returncode == 0
    assert cli(root, "people", "reset", "alice", "--password-file", str(tmp_path / "alice.pw")).returncode == 0
    (root / ".gitignore").write_text(".extranet/\npublic/\n")
    git(root, "init", "--quiet", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "the site")
    announce(root)
    bucket = f"projets-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    set_deploy(root, {"mixed": f"s3://{bucket}/", "after_build": True}, s3={"endpoint_url": s3.endpoint})

    env = {**os.environ, **S3_ENV}
    for name in STAFF:
        env.pop(name, None)
    gateway = subprocess.Popen([sys.executable, "-m", "extranet", "-C", str(root), "gateway", "--no-imap"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        wait(lambda: "keyring.json" in listing(client, bucket), timeout=60, what="the deploy at start")
        before = listing(client, bucket)
        raw = reply_to(notification(root, "carl@acme.example"), REPLY)
        to = str(BytesParser(policy=policy.default).parsebytes(raw)["To"])
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.sendmail("carl@acme.example", [to], raw.replace(b"\n", b"\r\n"))
        wait(lambda: "Carl Client" in git(root, "log", "-1", "--format=%an"), timeout=60, what="the commit")
        wait(lambda: listing(client, bucket) != before, timeout=60, what="the deploy after the rebuild")
        time.sleep(1)  # the deploy's last objects
    finally:
        gateway.terminate()
        log = gateway.communicate(timeout=30)[0].decode()
    assert gateway.returncode == 0, log
    commit = git(root, "log", "-1", "--format=%an <%ae>|%s|%b")
    assert commit.startswith("Carl Client <carl@acme.example>|Email post: ")
    [post] = [line for line in git(root, "show", "--name-only", "--format=", "HEAD").split() if line.endswith(".md")]
    assert REPLY.split(",")[0] in (root / post).read_text()

    after = listing(client, bucket)
    changed = [k for k in after if before.get(k) != after[k]]
    keyring = client.get_object(Bucket=bucket, Key="keyring.json")["Body"].read()
    secrets = open_keyring(keyring, "carl", pw_file.read_text().strip())
    assert secrets, "carl's password opens the deployed keyring"
    keys = [ContentKey.from_secret(s) for s in secrets]
    pages = {}
    for key in changed:
        if key.endswith(".html") and key != "login.html":
            data = client.get_object(Bucket=bucket, Key=key)["Body"].read()
            assert REPLY.split(",")[0].encode() not in data, "encrypted in the bucket"
            try:
                pages[key] = decrypt_file(key, data, keys).decode()
            except ProtectError:
                assert key.startswith("home/"), key  # another person's home page
    assert any(REPLY.split(",")[0] in text for text in pages.values()), sorted(pages)
    assert "deployed in" in log and "mixed -> s3://" in log
