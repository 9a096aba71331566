"""Time from a reply accepted over SMTP (the 250) to its page on the rebuilt site.

    python benchmarks/bench_gateway.py                      # the example site, 20 replies
    python benchmarks/bench_gateway.py --posts 10000 -n 5   # a generated 10,000-post site

Runs the real gateway (SMTP listener on loopback, durable spool, post writer, rebuild with
encryption) on a copy of the site under benchmarks/.work/, sends one reply at a time with
smtplib and waits for the rebuild that publishes it. Prints p50, p95 and max.
"""

from __future__ import annotations

import argparse
import shutil
import smtplib
import socket
import statistics
import sys
import threading
import time
from email.message import EmailMessage
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
sys.path.insert(0, str(HERE.parent))


def prepare(posts: int | None) -> tuple[Path, str, str]:
    """A site copy with mail settings: (root, replying person id, post key replied to)."""
    from extranet.protect.credentials import set_password
    from extranet.protect.secrets import Secrets

    if posts is None:
        root = WORK / "gw-example"
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(HERE.parent / "extranet" / "example", root,
                        ignore=shutil.ignore_patterns(".extranet", "public"))
        person, key = "blemoine", "projects/passerelle-moulin/posts/2026-02-10-plan-implantation.md"
        secrets = Secrets.load(root / ".extranet", create=True)
        for pid in ("blemoine", "cdurand"):
            set_password(secrets, pid, "", "bench-password", iterations=1000, bcrypt_cost=4)
        secrets.save()
    else:
        from corpus import generate

        root = generate(posts, WORK / f"gw-{posts}")["extranet"]
        with open(root / "extranet.toml", "a", encoding="utf-8") as f:
            f.write('\n[mail]\nreply_domain = "projets.bench.example"\nfrom = "extranet@bench.example"\n')
        posts_dir = root / "content/projects/project-000/posts"
        mixed = next(p for p in sorted(posts_dir.glob("*.md")) if "visibility: mixed" in p.read_text())
        person, key = "client0-p0", f"projects/project-000/posts/{mixed.name}"
    return root, person, key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=None, help="generated site size (default: the example site)")
    parser.add_argument("-n", type=int, default=20, help="replies to send")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))

    from extranet import config
    from extranet.build import build
    from extranet.cli import setup_logging

    setup_logging(False)  # messages shown as `extranet gateway` shows them
    from extranet.mail.daemon import Transports, run_gateway
    from extranet.mail.reply_keys import reply_address, site_token_keys
    from extranet.mail.site_mail import SiteMail

    root, person, key = prepare(args.posts)
    started = time.perf_counter()
    build(root)
    print(f"site ready: first build {time.perf_counter() - started:.2f} s")
    settings, people = config.load(root)
    address = reply_address(settings, site_token_keys(settings), person, key, "reply")
    site_mail = SiteMail(root)
    done = threading.Event()

    def after(outcomes):
        site_mail.batch(outcomes)
        done.set()

    started = time.perf_counter()
    site_mail.batch.start()  # as `extranet gateway` does when it starts
    print(f"gateway warmed up in {time.perf_counter() - started:.2f} s")
    port = free_port()
    stop = threading.Event()
    thread = threading.Thread(target=run_gateway, args=(site_mail.gateway, Transports(("127.0.0.1", port)), stop),
                              kwargs={"interval": 0.5, "after": after}, daemon=True)
    thread.start()
    time.sleep(1.0)
    times = []
    for i in range(args.n):
        msg = EmailMessage()
        msg["From"] = people.people[person].email
        msg["To"] = address
        msg["Subject"] = "Re: bench"
        msg["Message-ID"] = f"<bench-{time.time_ns()}-{i}@bench.example>"
        msg.set_content(f"Reply number {i} of the benchmark.\n\nCordialement,\nBench\n")
        done.clear()
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.sendmail(msg["From"], [address], bytes(msg).replace(b"\n", b"\r\n"))
        accepted = time.perf_counter()
        if not done.wait(300):
            raise SystemExit("the reply was not published within 300 s")
        times.append(time.perf_counter() - accepted)
        print(f"reply {i + 1}: {times[-1]:.3f} s", flush=True)
    stop.set()
    thread.join(30)
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    label = "example site" if args.posts is None else f"{args.posts}-post site"
    print(f"{label}: accepted (250) -> page rebuilt: p50 {statistics.median(times):.3f} s, "
          f"p95 {p95:.3f} s, max {times[-1]:.3f} s over {len(times)} replies")
    with open("/proc/self/status", encoding="ascii") as f:  # the gateway keeps the site in memory
        rss = {k: v.strip() for k, v in (line.split(":", 1) for line in f) if k in ("VmRSS", "VmHWM")}
    print(f"gateway process memory: now {rss.get('VmRSS')}, peak {rss.get('VmHWM')} (the first build included)")


if __name__ == "__main__":
    main()
