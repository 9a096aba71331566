"""What the audit of the output costs, against a cold build of the same corpus.

    python benchmarks/bench_audit.py 2000 10000 [--repeat 3]

For each size, cold builds (`build(cache=False)`, each in a fresh process, after one unmeasured
build that derives the user-name tags) taking turns: with the audit as the build runs it, and
with the audit switched off (extranet.audit.Audit replaced by one that does nothing). The
audit's cost is the difference of the medians, its share that difference over the median cold
build; the time the build waits for it once the output is staged (Audit.check) is shown too:
the audit derives what the sources allow in its own process while the build encrypts. Then,
in this process and one after the other (best of --repeat), its parts: deriving what the
sources allow (expect), reading, decrypting and putting in normal form every file (read, in
worker processes), and judging them. Budget: 15 % of the cold build.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpus import generate  # noqa: E402

BUILD = r"""
import json, sys, time
from pathlib import Path
import extranet.audit as audit
import extranet.build as build

spent = []
Audit = audit.Audit


class Timed(Audit):
    def __init__(self, *args, **kwargs):
        if sys.argv[2] == "on":
            super().__init__(*args, **kwargs)

    def early(self, *args, **kwargs):
        return super().early(*args, **kwargs) if sys.argv[2] == "on" else None

    def check(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return super().check(*args, **kwargs) if sys.argv[2] == "on" else None
        finally:
            spent.append(time.perf_counter() - started)


audit.Audit = Timed  # (the build imports it from extranet.audit when it has work)
started = time.perf_counter()
build.build(Path(sys.argv[1]), cache=False)
print(json.dumps({"build": time.perf_counter() - started, "audit": spent[0]}))
"""


def cold_builds(root: Path, repeat: int) -> dict[str, list[dict]]:
    """Cold builds with and without the audit, taking turns."""
    runs: dict[str, list[dict]] = {"on": [], "off": []}
    subprocess.run([sys.executable, "-c", BUILD, str(root), "on"], check=True, capture_output=True)  # (warm-up)
    for _ in range(repeat):
        for mode in runs:
            out = subprocess.run([sys.executable, "-c", BUILD, str(root), mode], check=True, capture_output=True,
                                 text=True).stdout
            runs[mode].append(json.loads(out.strip().splitlines()[-1]))
    return runs


def parts(root: Path, repeat: int) -> dict:
    """The audit's parts, one after the other, best of `repeat`."""
    from extranet import config
    from extranet.audit.check import MixedReading, check_internal, check_mixed
    from extranet.audit.expect import expect_internal, expect_mixed
    from extranet.content.loader import load_site
    from extranet.protect.homes import home_path, name_secret
    from extranet.protect.secrets import Secrets
    from extranet.site.urls import urls_for
    from extranet.textmatch import Memo

    settings, people = config.load(root)
    site = load_site(settings, people)
    secrets = Secrets.load(settings.state_dir)
    urls = urls_for(settings, True)
    folders = {zone: root / "public" / zone for zone in ("internal", "mixed")}
    emails = {p.id: p.email for p in people.people.values()}
    zs = secrets.zone("mixed")
    homes = {pid: sorted({home_path(name_secret(zs, n)) for n in (pid, emails.get(pid, "")) if n})
             for pid in secrets.people}
    best: dict[str, float] = {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        exp = expect_mixed(site, dt.datetime.now(), urls["mixed"], homes, Memo())
        t1 = time.perf_counter()
        reading = MixedReading(folders["mixed"], secrets, internal=folders["internal"])
        reading.readings()
        opened = reading.internal_files()
        t2 = time.perf_counter()
        assert check_mixed(folders["mixed"], exp, secrets, emails, reading=reading) == []
        assert check_internal(folders["internal"], expect_internal(site, dt.datetime.now()), secrets, emails,
                              opened) == []
        t3 = time.perf_counter()
        for name, value in (("expect", t1 - t0), ("read", t2 - t1), ("judge", t3 - t2)):
            best[name] = min(best.get(name, value), value)
    files = sum(1 for f in folders["mixed"].rglob("*") if f.is_file())
    return {"mixed files": files, "passages": len(exp.canaries.secrets), **best}


def measure(posts: int, repeat: int) -> dict:
    """Everything measured for one corpus size."""
    root = generate(posts, HERE / ".work" / f"audit-{posts}")["extranet"]
    runs = cold_builds(root, repeat)
    on = statistics.median(r["build"] for r in runs["on"])
    off = statistics.median(r["build"] for r in runs["off"])
    wait = statistics.median(r["audit"] for r in runs["on"])
    return {"posts": posts, "cold build": on, "without audit": off, "audit": on - off, "wait": wait,
            "share": (on - off) / on,
            "runs": runs, **parts(root, repeat)}


def main() -> None:
    """Command line: bench_audit.py SIZES... [--repeat N]."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sizes", type=int, nargs="+")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for posts in args.sizes:
        r = measure(posts, args.repeat)
        print(f"{r['posts']:>6} posts: cold build {r['cold build']:.2f} s (median; without the audit "
              f"{r['without audit']:.2f} s): the audit costs {r['audit']:.2f} s = {100 * r['share']:.1f} % "
              f"(the build waits {r['wait']:.2f} s for it once the output is staged)")
        print(f"        runs with: {[round(x['build'], 2) for x in r['runs']['on']]} "
              f"(waits {[round(x['audit'], 2) for x in r['runs']['on']]}), "
              f"without: {[round(x['build'], 2) for x in r['runs']['off']]}")
        print(f"        parts, one after the other: expect {r['expect']:.2f} s ({r['passages']} passages), "
              f"read {r['read']:.2f} s ({r['mixed files']} mixed files, and the internal ones; two workers), "
              f"judge {r['judge']:.2f} s")


if __name__ == "__main__":
    main()
