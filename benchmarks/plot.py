"""Draw build time against number of posts for each tool, as an SVG (no plotting library).

    python benchmarks/plot.py [results.json] [docs/benchmarks.svg]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLOURS = {"extranet cold": "#1f6feb", "extranet new post": "#2da44e", "extranet no change": "#8250df",
           "pelican cold": "#d1242f", "mkdocs cold": "#bf8700", "hugo cold": "#57606a"}


def svg(results: list[dict], width: int = 640, height: int = 400) -> str:
    """Log-scale seconds (y) against posts (x), one line per tool and case."""
    import math

    series: dict[str, list[tuple[int, float]]] = {}
    for r in results:
        if r.get("rc") == 0:
            series.setdefault(f"{r['tool']} {r['case']}", []).append((r["posts"], r["seconds"]))
    xs = sorted({x for s in series.values() for x, _ in s}) or [1]
    lo = math.floor(math.log10(min(y for s in series.values() for _, y in s)))
    hi = math.ceil(math.log10(max(y for s in series.values() for _, y in s)))
    left, right, top, bottom = 60, 180, 20, 40
    pw, ph = width - left - right, height - top - bottom

    def px(x: int) -> float:
        return left + (pw * (x - 0) / max(xs))

    def py(y: float) -> float:
        return top + ph * (hi - math.log10(y)) / max(1, hi - lo)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
           'font-size="12">', f'<rect width="{width}" height="{height}" fill="white"/>']
    for e in range(lo, hi + 1):
        y = py(10 ** e)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{10 ** e:g} s</text>')
    for x in xs:
        out.append(f'<text x="{px(x):.1f}" y="{top + ph + 18}" text-anchor="middle">{x}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 4}" text-anchor="middle">posts</text>')
    for i, (name, points) in enumerate(sorted(series.items())):
        colour = COLOURS.get(name, "#000")
        pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in sorted(points))
        out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>')
        out += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>' for x, y in points]
        ly = top + 14 + i * 18
        out.append(f'<line x1="{width - right + 10}" x2="{width - right + 30}" y1="{ly - 4}" y2="{ly - 4}" '
                   f'stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{width - right + 36}" y="{ly}">{name}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> None:
    """Command line."""
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / ".work" / "results.json"
    dest = Path(sys.argv[2]) if len(sys.argv) > 2 else HERE.parent / "docs" / "benchmarks.svg"
    dest.write_text(svg(json.loads(src.read_text())), encoding="utf-8")
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
