"""Run extranet, Pelican, MkDocs (+ encryptcontent) and Hugo side by side on the same corpus.

    python benchmarks/run.py 2000 10000 [--peers pelican,mkdocs,hugo] [--repeat 3] [--limit mkdocs=2000]

Peers live in their own virtual environment (benchmarks/.work/venv, git-ignored). Each run
is a fresh child process; its time is wall-clock and its memory the peak of the summed PSS
(proportional set size: shared pages counted once) of the child and all its descendants,
sampled every 200 ms by a fresh wrapper process (every 50 ms slowed multi-process builds by up
to 15 %: reading a process's memory map stalls it) (`maxrss_mb`, the largest single process,
is kept too). With --repeat N every cold build is run N times, the tools taking turns, and
the median is kept (the machine is shared: its speed drifts by ±20 % within minutes).
Results are appended to benchmarks/.work/results.json; plot.py draws them.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
VENV = WORK / "venv"
PEERS = {"pelican": ["pelican==4.12.*", "markdown"], "mkdocs": ["mkdocs==1.6.*", "mkdocs-encryptcontent-plugin"],
         "hugo": ["hugo"]}
WRAPPER = """
import json, os, resource, select, subprocess, sys, time

def tree(root):
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out

def pss_mb(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
        except (OSError, StopIteration):
            pass
    return total / 1024

t = time.perf_counter()
child = subprocess.Popen(sys.argv[2:], cwd=sys.argv[1], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
peak = 0.0
deadline = t + float(TIMEOUT)
rc = None
ended = os.pidfd_open(child.pid)  # readable the moment the child ends
while rc is None and time.perf_counter() < deadline:
    peak = max(peak, pss_mb(tree(child.pid)))
    if select.select([ended], [], [], 0.2)[0]:  # sampling costs the measured processes: not more often
        rc = child.wait()
seconds = time.perf_counter() - t
if rc is None:
    child.kill()
    child.wait()
    rc = "timeout"
maxrss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak, "maxrss_mb": maxrss, "rc": rc}))
"""


def ensure_peers(names: list[str]) -> dict[str, str]:
    """Install the peer tools in their venv; returns name -> problem for those that cannot be had."""
    problems = {}
    if not (VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    for name in names:
        exe = VENV / "bin" / name
        if exe.exists():
            continue
        done = subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", *PEERS[name]], capture_output=True, text=True)
        if done.returncode != 0 or not exe.exists():
            problems[name] = (done.stderr.strip().splitlines() or ["not installed"])[-1]
    return problems


def measure(cwd: Path, cmd: list[str], timeout: float) -> dict:
    """Time one command in a fresh wrapper process (peak RSS of its process tree).

    What earlier runs wrote is flushed to disk first, outside the timed window: the kernel
    writing back the 4,500–22,000 files of the previous build while the next one runs cost
    that one up to a second (measured: 2,000 posts, 3.7–4.4 s after a sync, 4.5–5.5 s right
    after the previous build), which a build run on its own never pays."""
    os.sync()
    time.sleep(1)
    out = subprocess.run([sys.executable, "-c", WRAPPER.replace("TIMEOUT", str(timeout)), str(cwd), *cmd],
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def extranet_cmd(extra: str = "") -> list[str]:
    """A build of the corpus site by extranet, in a fresh interpreter."""
    code = ("import datetime as dt, os, sys; from pathlib import Path; from extranet.build import build; "
            f"r = build(Path('.'), now=dt.datetime(2030, 1, 1){extra}); print(r.summary(), file=sys.stderr); "
            "sys.stderr.flush(); os._exit(0)")  # the quick exit of the console script (cli.run)
    return [sys.executable, "-c", code]


def trash(path: Path) -> None:
    """Put `path` aside, to be deleted once every measurement is done.

    Deleting thousands of files just before a measured build slows the build's own file
    creation on ext4 (inodes deleted within the last minute, or five while their inode table
    is dirty, are skipped one by one by the inode allocator): measured here, writing 4,500
    files went from 0.3 s to 3 s. No tool is measured right after a mass deletion."""
    if path.exists():
        (WORK / "trash").mkdir(exist_ok=True)
        path.rename(WORK / "trash" / f"{path.name}-{os.getpid()}-{len(os.listdir(WORK / 'trash'))}")


WARM_UP = 2  # new posts built before the measured ones


def run_size(posts: int, peers: list[str], timeout: float, repeat: int = 1) -> list[dict]:
    """Every measurement for one corpus size (cold builds `repeat` times, median kept)."""
    sys.path.insert(0, str(HERE))
    from corpus import generate

    trash(WORK / f"corpus-{posts}")
    roots = generate(posts, WORK / f"corpus-{posts}")
    site = roots["extranet"]
    rows = []

    def row(tool: str, case: str, results: list[dict]) -> None:
        result = sorted(results, key=lambda r: r["seconds"])[len(results) // 2]
        rows.append({"tool": tool, "case": case, "posts": posts, "runs": [r["seconds"] for r in results], **result})
        runs = " ".join(f"{r['seconds']:.2f}" for r in results) if len(results) > 1 else ""
        print(f"{posts:>6} {tool:<22} {case:<12} {result['seconds']:8.2f} s {result['peak_mb']:7.0f} MB "
              f"rc={result['rc']} {runs}", flush=True)

    measure(site, extranet_cmd(), timeout)  # derives the user-name tags once (kept in the secrets)
    commands = {"pelican": (roots["pelican"], [str(VENV / "bin" / "pelican"), "content", "-o", "out", "-s",
                                              "pelicanconf.py", "-q"]),
                "mkdocs": (roots["mkdocs"], [str(VENV / "bin" / "mkdocs"), "build", "-q", "-d", "out"]),
                "hugo": (roots["hugo"], [str(VENV / "bin" / "hugo"), "--quiet", "-d", "out"])}
    cold: dict[str, list[dict]] = {name: [] for name in ["extranet", *peers]}
    for _ in range(repeat):  # the tools take turns: a drift of the machine's speed hits them all
        trash(site / "public")
        trash(site / ".extranet" / "cache")
        cold["extranet"].append(measure(site, extranet_cmd(), timeout))
        for name in peers:
            cwd, cmd = commands[name]
            trash(cwd / "out")
            cold[name].append(measure(cwd, cmd, timeout))
    row("extranet", "cold", cold["extranet"])
    row("extranet", "no change", [measure(site, extranet_cmd(), timeout) for _ in range(repeat)])
    added, times = [], []
    # A reply in another project each time. The first WARM_UP are built but not kept: a site in
    # use, not one just built from nothing (the first build after a cold one stages a fresh tree,
    # and the audit records what it read only once the files are RACY_NS old; see docs/architecture.md).
    for i, folder in enumerate(sorted((site / "content" / "projects").iterdir())[:WARM_UP + repeat]):
        posts_dir = folder / "posts"
        last = sorted(posts_dir.glob("*.md"))[-1].stem
        post = posts_dir / "2030-01-01-re-by-email.md"
        post.write_text(f"---\ntitle: Re by email\nvisibility: mixed\nin_reply_to: {last}\nsource: email\n---\n"
                        "Bien reçu, merci : la livraison de lundi nous convient.\n", encoding="utf-8")
        added.append(post)
        result = measure(site, extranet_cmd(), timeout)
        if i < WARM_UP:
            print(f"{posts:>6} {'extranet':<22} {'new post':<12} {result['seconds']:8.2f} s (warm-up, not kept)")
        else:
            times.append(result)
    row("extranet", "new post", times)
    for post in added:
        post.unlink()
    for name in peers:
        row(name, "cold", cold[name])
    return rows


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sizes", type=int, nargs="+")
    parser.add_argument("--peers", default="pelican,mkdocs,hugo")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--repeat", type=int, default=1, help="cold builds per tool (median kept)")
    parser.add_argument("--limit", action="append", default=[], metavar="PEER=POSTS",
                        help="measure PEER only up to POSTS posts (e.g. mkdocs=2000: it takes minutes)")
    args = parser.parse_args()
    peers = [p for p in args.peers.split(",") if p]
    os.environ["PYTHONPATH"] = str(HERE.parent)  # measure this checkout's extranet
    # as installed: byte-compiled like the peers' packages (pip compiles; PYTHONDONTWRITEBYTECODE may be set)
    compileall.compile_dir(str(HERE.parent / "extranet"), quiet=1)
    WORK.mkdir(exist_ok=True)
    missing = ensure_peers(peers)
    for name, why in missing.items():
        print(f"{name}: cannot be installed ({why}); not measured")
    results_file = WORK / "results.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else []
    limits = {name: int(n) for name, n in (item.split("=", 1) for item in args.limit)}
    for posts in args.sizes:
        here = [p for p in peers if p not in missing and posts <= limits.get(p, posts)]
        rows = run_size(posts, here, args.timeout, args.repeat)
        results = [r for r in results if not (r["posts"] == posts and (r["tool"], r["case"]) in
                                              {(x["tool"], x["case"]) for x in rows})] + rows
        results_file.write_text(json.dumps(results, indent=1))
    shutil.rmtree(WORK / "trash", ignore_errors=True)


if __name__ == "__main__":
    main()
