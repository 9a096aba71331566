"""`extranet service`: the systemd units are valid for systemd and their commands run this site.

systemd-analyze checks the written units (keys, sections, calendar, the executable); then the
very command lines of ExecStart are run on the site: the digest job sends, the gateway starts,
listens, and stops cleanly on SIGTERM as systemd stops it.
"""

from __future__ import annotations

import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dovecot import free_port
from helpers import copy_site


def cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "extranet", "-C", str(root), *args],
                          capture_output=True, text=True, timeout=120)


def exec_start(unit: str) -> list[str]:
    [line] = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart="))


def test_units_are_valid_and_their_commands_run_the_site(tmp_path: Path) -> None:
    root = copy_site("small", tmp_path)
    port = free_port()
    toml = root / "extranet.toml"
    toml.write_text(toml.read_text() + f'[mail.smtp]\nlisten = "127.0.0.1:{port}"\n'
                    f'[deploy]\nmixed = "{tmp_path}/www/projets/"\n')
    units = tmp_path / "units"
    made = cli(root, "service", "--write", str(units), "--name", "smallco", "--user", "root", "--digest-at", "06:30")
    assert made.returncode == 0, made.stderr
    assert sorted(p.name for p in units.iterdir()) == ["smallco-digest.service", "smallco-digest.timer",
                                                        "smallco-gateway.service"]
    assert "systemctl enable --now smallco-gateway.service smallco-digest.timer" in made.stdout
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is required (Debian package systemd)"
    verified = subprocess.run([analyze, "verify", *map(str, sorted(units.iterdir()))], capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr
    gateway = (units / "smallco-gateway.service").read_text()
    assert f"WorkingDirectory={root}\n" in gateway and "Restart=on-failure" in gateway
    assert f"ReadWritePaths={root} {tmp_path}/www/projets\n" in gateway, "the deploy folder is writable too"
    assert "EnvironmentFile=-/etc/extranet/smallco.env" in gateway and "PASSWORD" not in gateway
    assert "OnCalendar=*-*-* 06:30:00" in (units / "smallco-digest.timer").read_text()

    digest = subprocess.run(exec_start((units / "smallco-digest.service").read_text()), capture_output=True,
                            text=True, timeout=120)
    assert digest.returncode == 0, digest.stderr
    proc = subprocess.Popen(exec_start(gateway), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read().decode()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                    assert s.recv(100).startswith(b"220")
                break
            except OSError:
                assert time.monotonic() < deadline, "the gateway does not listen"
                time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)  # what systemctl stop sends
        out = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 0 and "stopped" in out, out


def test_printed_units_and_bad_options(tmp_path: Path) -> None:
    root = copy_site("small", tmp_path)
    printed = cli(root, "service", "--user", "root")
    assert printed.returncode == 0
    assert "# extranet-gateway.service" in printed.stdout and "notify --digest" in printed.stdout
    bad = cli(root, "service", "--digest-at", "25:00")
    assert bad.returncode == 1 and bad.stderr.strip() == "error: digest time '25:00': write HH:MM (24 h)"


@pytest.mark.parametrize("name", ["Extranet", "a b", "../x"])
def test_unit_names_are_checked(tmp_path: Path, name: str) -> None:
    root = copy_site("small", tmp_path)
    result = cli(root, "service", "--name", name)
    assert result.returncode == 1 and result.stderr.startswith("error: unit name")
