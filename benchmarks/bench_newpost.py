"""Time `build()` in one process after adding one reply post to a generated site.

    python benchmarks/bench_newpost.py --posts 10000 -n 5
    python benchmarks/bench_newpost.py --posts 10000 -n 3 --profile   # cProfile of the last one (BENCH_SORT=tottime to sort by own time)
    python benchmarks/bench_newpost.py --posts 10000 -n 5 --warm      # state kept in memory (the gateway)

Generates the corpus once (benchmarks/.work/corpus-N, as run.py does), copies its extranet
site to benchmarks/.work/newpost-N, builds it (cold, then once more), then repeatedly writes
one reply (shared, by email) to the last post of a project and times the rebuild. Prints
each time, p50 and max. No process start-up included.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import datetime as dt
import pstats
import shutil
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

NOW = dt.datetime(2030, 1, 1)


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=10000)
    parser.add_argument("-n", type=int, default=5, help="new posts to time")
    parser.add_argument("--profile", action="store_true", help="cProfile the last rebuild")
    parser.add_argument("--again", action="store_true", help="keep the site built by the last run")
    parser.add_argument("--warm", action="store_true",
                        help="keep the build state in memory between rebuilds, as the gateway does")
    args = parser.parse_args()
    from extranet.build import build

    corpus = WORK / f"corpus-{args.posts}" / "extranet"
    if not corpus.exists():
        from corpus import generate

        generate(args.posts, WORK / f"corpus-{args.posts}")
    site = WORK / f"newpost-{args.posts}"
    if not (args.again and site.exists()):
        shutil.rmtree(site, ignore_errors=True)
        shutil.copytree(corpus, site, ignore=shutil.ignore_patterns("public", "cache"))
        started = time.perf_counter()
        build(site, now=NOW)
        print(f"cold build {time.perf_counter() - started:.2f} s", flush=True)
    warm = None
    if args.warm:
        from extranet.build import BuildState

        warm = BuildState()
    build(site, now=NOW, state=warm)  # settles the hash cache of the inputs (and fills `warm`)
    projects = sorted((site / "content" / "projects").iterdir())
    times = []
    for i in range(args.n):
        folder = projects[(i * 7) % len(projects)] / "posts"
        last = sorted(folder.glob("*.md"))[-1].stem
        n = time.time_ns()  # a new name on every run (--again keeps the earlier replies)
        (folder / f"2030-01-01-re-by-email-{n}.md").write_text(
            f"---\ntitle: Re by email {n}\nvisibility: mixed\nin_reply_to: {last}\nsource: email\n---\n"
            f"Bien reçu, merci : la livraison de lundi nous convient (message {i}).\n", encoding="utf-8")
        profiler = cProfile.Profile() if args.profile and i == args.n - 1 else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        marks: list[tuple[str, float]] = [("start", time.perf_counter())]
        result = build(site, now=NOW, state=warm, progress=lambda stage: marks.append((stage, time.perf_counter())))
        marks.append(("end", time.perf_counter()))
        if profiler:
            profiler.disable()
        times.append(time.perf_counter() - started)
        print(f"new post {i + 1}: {times[-1]:.2f} s ({folder.parent.name}; {result.summary()})", flush=True)
        print("   " + ", ".join(f"{a} {t2 - t1:.2f}" for (a, t1), (_, t2) in zip(marks, marks[1:])))
        if result.unchanged:
            raise SystemExit("the build saw no change: not a new-post measurement")
        if profiler:
            stats = pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_SORT", "cumulative"))
            stats.print_stats(45)
    print(f"p50 {statistics.median(times):.2f} s, max {max(times):.2f} s over {len(times)}")


if __name__ == "__main__":
    main()
