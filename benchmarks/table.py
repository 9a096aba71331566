"""Print the results of run.py as the Markdown tables of docs/benchmarks.md (times, ratios).

    python benchmarks/table.py [benchmarks/.work/results.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAMES = {"extranet": "extranet", "pelican": "Pelican 4.12", "mkdocs": "MkDocs 1.6 + encryptcontent",
         "hugo": "Hugo 0.168"}
CASES = {"cold": "cold", "no change": "no change", "new post": "one new post"}


def main() -> None:
    """Command line."""
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / ".work" / "results.json"
    rows = json.loads(path.read_text())
    by = {(r["posts"], r["tool"], r["case"]): r for r in rows}
    print("| posts | tool | case | seconds (median) | runs | peak MB (process tree) |")
    print("|---:|---|---|---:|---|---:|")
    for r in sorted(rows, key=lambda r: (r["posts"], list(NAMES).index(r["tool"]), list(CASES).index(r["case"]))):
        runs = ", ".join(f"{s:.2f}" for s in r.get("runs", [r["seconds"]]))
        peak = (f"{r['peak_mb']:.0f}" if r["peak_mb"] >= 1  # a run shorter than one sample: its largest RSS
                else f"{r.get('maxrss_mb', 0):.0f} (RSS)")
        print(f"| {r['posts']:,} | {NAMES[r['tool']]} | {CASES[r['case']]} | {r['seconds']:.2f} | {runs} | {peak} |")
    print()

    def t(posts: int, tool: str, case: str = "cold") -> float | None:
        r = by.get((posts, tool, case))
        return r["seconds"] if r else None

    print("| target | measured | met? |")
    print("|---|---|---|")
    e2, p2, m2 = t(2000, "extranet"), t(2000, "pelican"), t(2000, "mkdocs")
    if e2 and p2:
        print(f"| cold 2,000 ≤ 0.5 × Pelican | {e2:.2f} / {p2:.2f} = {e2 / p2:.2f} | {'yes' if e2 / p2 <= 0.5 else 'no'} |")
    if e2 and m2:
        print(f"| cold 2,000 ≤ 0.1 × MkDocs + encryptcontent | {e2:.2f} / {m2:.2f} = {e2 / m2:.3f} | "
              f"{'yes' if e2 / m2 <= 0.1 else 'no'} |")
    e10 = t(10000, "extranet")
    if e2 and e10:
        a, b = e2 / 2000 * 1000, e10 / 10000 * 1000
        print(f"| time per post at 10,000 within 20 % of 2,000 | {b:.2f} ms vs {a:.2f} ms ({(b / a - 1) * 100:+.0f} %) | "
              f"{'yes' if b <= a * 1.2 else 'no'} |")
    r10 = by.get((10000, "extranet", "cold"))
    if r10:
        print(f"| peak memory at 10,000 < 500 MB | {r10['peak_mb']:.0f} MB (all processes; largest one "
              f"{r10.get('maxrss_mb', 0):.0f} MB) | {'yes' if r10['peak_mb'] < 500 else 'no'} |")
    n10, h10 = t(10000, "extranet", "new post"), t(10000, "hugo")
    if n10 and h10:
        print(f"| one new post at 10,000 < 1 s and < Hugo's full build | {n10:.2f} s; Hugo {h10:.2f} s "
              f"(ratio {n10 / h10:.2f}) | {'yes' if n10 < 1 and n10 < h10 else 'under Hugo, not under 1 s' if n10 < h10 else 'no'} |")
    c10 = t(10000, "extranet", "no change")
    if c10:
        print(f"| no change at 10,000 < 0.5 s | {c10:.2f} s (process start and imports included) | "
              f"{'yes' if c10 < 0.5 else 'no'} |")


if __name__ == "__main__":
    main()
