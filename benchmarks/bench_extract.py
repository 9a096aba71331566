"""Time ``extranet.mail.inbound.extract.extract`` on 1 MB messages of several shapes.

Usage: ``python benchmarks/bench_extract.py [--runs N]``. Prints, for each shape, the size
of the message and the median and worst time of N runs. The target is < 200 ms per
1 MB message. Nothing is asserted: this is a figure to read, not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from extranet.mail.inbound.extract import extract  # noqa: E402

MB = 1_000_000
PARA = ("Bonjour Jean,\n\nVoici le compte rendu de la réunion de lancement du 12 mars. Les points abordés sont le "
        "planning, le budget et la répartition des lots entre les équipes.\nMerci de valider avant vendredi.\n\n"
        "Cordialement,\nL'équipe projet\n")


def _msg(plain: str | None, html: str | None = None, attachment: bytes | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Jean Dupont <jean.dupont@acme.example>"
    msg["To"] = "reply+7f3a9c@extranet.example"
    msg["Subject"] = "Re: Compte rendu de réunion"
    msg["Date"] = "Thu, 12 Mar 2026 11:02:00 +0100"
    if plain is not None:
        msg.set_content(plain)
        if html is not None:
            msg.add_alternative(html, subtype="html")
    else:
        msg.set_content(html or "", subtype="html")
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="pdf", filename="plan.pdf")
    return msg.as_bytes(policy=SMTP)


def _thread(size: int) -> str:
    """A reply on top of a long history: each older message quoted one level deeper."""
    parts, level, total = ["Merci, c'est validé.\n\nCordialement,\nJean\n"], 1, 0
    while total < size:
        prefix = "> " * min(level, 30)
        header = f"{prefix[:-2]}Le jeu. {level % 28 + 1} mars 2026 à 10:15, Personne {level} <p{level}@acme.example> a écrit :\n"
        body = "".join(prefix + ln + "\n" for ln in PARA.split("\n"))
        parts.append(header + body)
        total += len(header) + len(body)
        level += 1
    return "\n".join(parts)


def shapes() -> dict[str, bytes]:
    """The 1 MB messages to time, by name."""
    thread = _thread(MB)
    html_thread = ("<div>Merci, c'est validé.</div><div>Jean</div><div class=\"gmail_quote\">"
                   + "".join(f"<blockquote><div>Le {i} mars, X a écrit :</div>" + "".join(
                       f"<div>{ln}</div>" for ln in PARA.split("\n")) for i in range(1, 2400))
                   + "</blockquote>" * 2399 + "</div>")
    return {
        "plain thread (nested quotes)": _msg(thread),
        "plain + html alternative": _msg(_thread(MB // 2), html_thread[: MB // 2] + "</div>"),
        "html only (deep blockquotes)": _msg(None, html_thread),
        "html only, no quote container": _msg(None, "<html><body>" + "".join(
            f"<p>{PARA}</p><div>ligne <b>gras</b> <a href='https://x.example/{i}'>lien</a></div>" for i in range(3300))
            + "</body></html>"),
        "short reply + 1 MB attachment": _msg("Ci-joint le plan.\n\nJean\n", attachment=os.urandom(740_000)),
        "one 1 MB line": _msg("Le 12 mars, " + "x" * MB),
        "1 MB of header-like lines": _msg("Le 12 mars 2026 à 10:15, Jean <j@acme.example>\n" * (MB // 50)),
        "1 MB of '>' lines": _msg(("> " * 40 + "texte\n") * (MB // 86)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    print(f"{'shape':34} {'size':>9} {'median ms':>10} {'worst ms':>9}")
    for name, raw in shapes().items():
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            extract(raw)
            times.append((time.perf_counter() - t0) * 1000)
        print(f"{name:34} {len(raw) / MB:8.2f}M {statistics.median(times):10.1f} {max(times):9.1f}")


if __name__ == "__main__":
    main()
