"""The deployed mixed site, read by Chromium from a bucket: a client logs in and reads her project.

`extranet deploy` writes the mixed zone to moto's S3 server on loopback; a small HTTP server in
front of the bucket (what a CDN or the provider's website endpoint does) serves each object
with the Content-Type and Cache-Control it was stored with, plus the recommended CSP. Nothing
is read from public/: what the browser gets is only what the deploy put in the bucket.
"""

from __future__ import annotations

import http.server
import re
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from playwright.sync_api import expect

from deploy_support import S3_ENV, example_site, set_deploy, start_s3, stop_s3
from extranet.deploy.run import deploy
from extranet.protect.server import CSP
from test_protect_browser import browser, login, playwright, watch  # noqa: F401  (fixtures)


@pytest.fixture
def bucket_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, dict[str, str], list[str]]]:
    """(base URL of the HTTP server in front of the bucket, passwords, paths it served)."""
    for k, v in S3_ENV.items():
        monkeypatch.setenv(k, v)
    s3 = start_s3()
    try:
        site = example_site(tmp_path)
        bucket = f"projets-{uuid.uuid4().hex[:12]}"
        client = boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1")
        client.create_bucket(Bucket=bucket)
        set_deploy(site.root, {"mixed": f"s3://{bucket}/"}, s3={"endpoint_url": s3.endpoint})
        deploy(site.root)
        shutil.rmtree(site.root / "public")  # the browser must get everything from the bucket
        served: list[str] = []

        class FromBucket(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                key = self.path.split("?", 1)[0].split("#", 1)[0].lstrip("/") or "index.html"
                try:
                    obj = client.get_object(Bucket=bucket, Key=key)
                except ClientError:
                    self.send_error(404)
                    return
                body = obj["Body"].read()
                served.append(key)
                self.send_response(200)
                self.send_header("Content-Type", obj["ContentType"])
                self.send_header("Cache-Control", obj["CacheControl"])
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Content-Security-Policy", CSP)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FromBucket)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/", site.passwords, served
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
    finally:
        stop_s3(s3)


def test_a_client_logs_in_on_the_deployed_site_and_reads_only_her_project(bucket_site, browser) -> None:  # noqa: F811
    base, passwords, served = bucket_site
    context = browser.new_context()
    problems = watch(context)
    page = context.new_page()
    page.goto(base)
    expect(page).to_have_url(re.compile(r"/login\.html"))
    login(page, "b.lemoine@villebois.example", passwords["blemoine"])
    expect(page.locator("body")).to_contain_text("Passerelle piétonne du Moulin", timeout=20_000)
    assert "Verrière" not in page.locator("body").inner_text()
    page.get_by_role("link", name=re.compile("Passerelle piétonne du Moulin")).first.click()
    expect(page.locator("body")).to_contain_text("Galvanisation", timeout=10_000)
    assert "Marché remporté" not in page.content()  # the internal block of the project page
    assert problems == []
    assert "keyring.json" in served and any(k.startswith("p/") for k in served)
    context.close()
