"""One login, not two: the generated nginx snippet in front of a real nginx, used by Chromium.

The server adds its own layer (basic auth from the same people file) on top of the encrypted
pages. A reader must still log in once: a first visit without credentials goes to the login
page (a redirect, never the browser's password popup), the login page's script sends the id
and password the server checks, and every page of the zone opens after that without asking
again. The server really checks: without credentials or with a wrong password, nothing but
the login page, its script and its style is served.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from dovecot import free_port, stop_process
from extranet import config
from extranet.site.urls import urls_for
from test_protect_browser import browser, login, playwright, watch  # noqa: F401  (fixtures)
from test_server_auth import built  # noqa: F401  (fixture: the small site, encrypted, alice and carl)

NGINX_CONF = """\
{user}
worker_processes 1;
daemon off;
pid {run}/nginx.pid;
error_log {run}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {run}/access.log;
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    types {{ text/html html; application/json json; text/css css; text/javascript js; }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {zone};
        include {snippet};
    }}
}}
"""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str, user: str | None = None, password: str | None = None) -> tuple[int, str]:
    """(status, Location) of a GET, redirects not followed."""
    request = urllib.request.Request(url)
    if user is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=10) as response:
            return response.status, ""
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Location", "")


@pytest.fixture
def nginx(built) -> Iterator[tuple[str, Path, dict[str, str]]]:  # noqa: F811
    """nginx serving the mixed zone with the generated snippet: (base URL, site, passwords)."""
    root, passwords = built
    binary = next((p for p in ("/usr/sbin/nginx", "/usr/bin/nginx") if os.path.exists(p)), None)
    if binary is None:
        pytest.fail("nginx is not installed: this test needs it (apt-get install nginx)")
    run = Path(tempfile.mkdtemp(prefix="extranet-nginx-"))
    server = root / ".extranet" / "server"
    snippet = run / "mixed.conf"
    snippet.write_text((server / "nginx" / "mixed.conf").read_text().replace("/etc/extranet/", f"{server}/"))
    port = free_port()
    user = "user root root;" if os.geteuid() == 0 else ""  # workers must read the test's private folders
    conf = run / "nginx.conf"
    conf.write_text(NGINX_CONF.format(user=user, run=run, port=port, zone=root / "public" / "mixed", snippet=snippet))
    proc = subprocess.Popen([binary, "-c", str(conf), "-p", str(run)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                pytest.fail(f"nginx exited: {(run / 'error.log').read_text()[-2000:]}")
            try:
                fetch(base + "login.html")
                break
            except OSError:
                assert time.monotonic() < deadline, "nginx does not answer"
                time.sleep(0.1)
        yield base, root, passwords
    finally:
        stop_process(proc)
        import shutil

        shutil.rmtree(run, ignore_errors=True)


def test_the_server_layer_holds(nginx) -> None:
    base, root, passwords = nginx
    settings, _ = config.load(root)
    alpha = urls_for(settings, True)["mixed"].project_dir("alpha")
    page = f"{base}{alpha}/index.html"
    assert fetch(base + "login.html")[0] == 200 and fetch(base + "static/extranet.js")[0] == 200
    status, location = fetch(page)
    assert status == 302 and location.endswith(f"/login.html#why=server&next=/{alpha}/index.html")
    assert fetch(base + "keyring.json")[0] == 401, "the keyring only for the zone's people"
    assert fetch(page, "carl", "wrong password")[0] == 401
    assert fetch(page, "carl", passwords["carl"])[0] == 200
    assert fetch(page, "carl@acme.example", passwords["carl"])[0] == 200
    assert fetch(base + "keyring.json", "carl", passwords["carl"])[0] == 200


def test_a_client_logs_in_once_and_is_never_asked_again(nginx, browser) -> None:  # noqa: F811
    base, root, passwords = nginx
    settings, _ = config.load(root)
    alpha = urls_for(settings, True)["mixed"].project_dir("alpha")
    context = browser.new_context()
    problems = watch(context)
    page = context.new_page()
    documents: list[tuple[int, str]] = []
    page.on("response", lambda r: documents.append((r.status, r.url))
            if r.request.resource_type == "document" else None)
    page.goto(f"{base}{alpha}/index.html")  # a link from a notification, first visit
    expect(page).to_have_url(re.compile(r"/login\.html#why=server&next="))
    login(page, "carl", passwords["carl"])
    expect(page.locator("body")).to_contain_text("The project page body is shared.", timeout=20_000)
    assert page.url == f"{base}{alpha}/index.html"
    page.goto(base)  # the zone's home, then back into the project by its link
    expect(page.locator("body")).to_contain_text("Alpha Bridge Renovation", timeout=10_000)
    page.get_by_role("link", name=re.compile("Alpha Bridge Renovation")).first.click()
    expect(page.locator("body")).to_contain_text("The project page body is shared.", timeout=10_000)
    assert not [d for d in documents if d[0] == 401], documents  # no password popup, ever
    assert problems == []
    context.close()
