"""What the audit of the output costs, against a cold build of the same corpus.

    python benchmarks/bench_audit.py 2000 10000 [--repeat 3]

For each size: a cold build (`extranet build --no-cache`, a fresh process, wall-clock), then
the audit as the build runs it (extranet.audit.audit_output on the built output), timed on
its own in this process, the best of --repeat runs: the part deriving what the sources allow
and the part reading, decrypting and searching every file. Budget: 15 % of the cold build.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpus import generate  # noqa: E402


def measure(posts: int, repeat: int) -> dict:
    from extranet import config
    from extranet.audit import audit_output
    from extranet.audit.check import check_internal, check_mixed
    from extranet.audit.expect import expect_internal, expect_mixed
    from extranet.site.urls import urls_for
    from extranet.content.loader import load_site
    from extranet.protect.homes import home_path, name_secret
    from extranet.protect.secrets import Secrets

    root = generate(posts, HERE / ".work" / f"audit-{posts}")["extranet"]
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "extranet", "-C", str(root), "build", "--no-cache"], check=True,
                   capture_output=True)
    cold = time.perf_counter() - started
    settings, people = config.load(root)
    site = load_site(settings, people)
    secrets = Secrets.load(settings.state_dir)
    urls = urls_for(settings, True)
    folders = {zone: root / "public" / zone for zone in ("internal", "mixed")}
    now = dt.datetime.now()
    emails = {p.id: p.email for p in people.people.values()}
    best: dict[str, float] = {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        assert audit_output(site, now, folders, urls, secrets) == []
        t1 = time.perf_counter()
        zs = secrets.zone("mixed")
        homes = {pid: sorted({home_path(name_secret(zs, n)) for n in (pid, emails.get(pid, "")) if n})
                 for pid in secrets.people}
        exp = expect_mixed(site, now, urls["mixed"], homes)
        t2 = time.perf_counter()
        check_mixed(folders["mixed"], exp, secrets, emails)
        t3 = time.perf_counter()
        check_internal(folders["internal"], expect_internal(site, now), secrets, emails)
        t4 = time.perf_counter()
        for name, value in (("audit", t1 - t0), ("expect", t2 - t1), ("check mixed", t3 - t2),
                            ("check internal", t4 - t3)):
            best[name] = min(best.get(name, value), value)
    files = sum(1 for f in folders["mixed"].rglob("*") if f.is_file())
    return {"posts": posts, "cold build": cold, "mixed files": files, "canaries": len(exp.canaries), **best,
            "share": best["audit"] / cold}


def main() -> None:
    """Command line: bench_audit.py SIZES... [--repeat N]."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sizes", type=int, nargs="+")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for posts in args.sizes:
        r = measure(posts, args.repeat)
        print(f"{r['posts']:>6} posts: cold build {r['cold build']:.2f} s; audit {r['audit']:.3f} s = "
              f"{100 * r['share']:.1f} % (expect {r['expect']:.3f} s, {r['canaries']} passages; "
              f"mixed {r['check mixed']:.3f} s over {r['mixed files']} files; internal {r['check internal']:.3f} s)")


if __name__ == "__main__":
    main()
