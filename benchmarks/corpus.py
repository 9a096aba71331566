"""Generate a benchmark corpus: one extranet site, and the same posts for Pelican, MkDocs and Hugo.

    python benchmarks/corpus.py 2000 benchmarks/.work/c2000      # 2,000 posts, 20 projects
    python benchmarks/corpus.py 10000 DEST --projects 100

Deterministic (seeded): the same size always gives the same bytes. Posts are spread over
projects (100 posts each by default); about 60 % are shared (mixed), some carry an internal
passage, a third answer an earlier post, and each links to its predecessor. People get
credentials (cheap PBKDF2 settings: the benchmark measures builds, not logins).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
from pathlib import Path

WORDS = ("acier poutre garde-corps passerelle galvanisation culée platelage soudure boulon grue "
         "planning devis chantier réunion livraison plan coupe détail note calcul charge portée "
         "verrière vitrage escalier limon marche palier rampe façade ancrage tirant lisse").split()


def sentence(rng: random.Random, n: int = 14) -> str:
    """A pseudo-French sentence of about n words."""
    words = [rng.choice(WORDS) for _ in range(n)]
    return " ".join(words).capitalize() + f" n°{rng.randrange(10**6)}."


def paragraph(rng: random.Random, sentences: int = 4) -> str:
    """A paragraph."""
    return " ".join(sentence(rng) for _ in range(sentences))


def post_body(rng: random.Random, previous: str | None, internal: bool) -> str:
    """Markdown of one post: paragraphs, a list, a link to the previous post, maybe an internal passage."""
    parts = [paragraph(rng), "## " + sentence(rng, 4).rstrip("."),
             "\n".join(f"- {sentence(rng, 6)}" for _ in range(4)), paragraph(rng, 3)]
    if previous:
        parts.append(f"Voir aussi [le message précédent]({previous}.md).")
    if internal:
        parts.append("::: internal\n" + paragraph(rng, 2) + "\n:::")
    return "\n\n".join(parts) + "\n"


def generate(posts: int, dest: Path, projects: int | None = None, seed: int = 8) -> dict[str, Path]:
    """Write the corpus under dest/: extranet/, pelican/, mkdocs/, hugo/ (returns their roots)."""
    rng = random.Random(seed)
    projects = projects or max(1, posts // 100)
    if dest.exists():
        shutil.rmtree(dest)
    roots = {name: dest / name for name in ("extranet", "pelican", "mkdocs", "hugo")}
    site = roots["extranet"]
    (site / "content" / "pages").mkdir(parents=True)
    (site / "extranet.toml").write_text(
        'title = "Bench"\nlanguage = "fr"\norg = "studio"\n\n[protect]\nencrypt = true\n', encoding="utf-8")
    people = ['[orgs.studio]\nname = "Studio"\n']
    staff = [f"staff{i}" for i in range(5)]
    for s in staff:
        people.append(f'[people.{s}]\nname = "Staff {s}"\nemail = "{s}@studio.example"\norg = "studio"\n')
    orgs = [f"client{i}" for i in range(max(2, projects // 2))]
    for o in orgs:
        people.append(f'[orgs.{o}]\nname = "Client {o}"\nkind = "client"\n')
        for k in range(2):
            people.append(f'[people.{o}-p{k}]\nname = "Person {k} of {o}"\nemail = "p{k}@{o}.example"\norg = "{o}"\n')
    (site / "people.toml").write_text("\n".join(people), encoding="utf-8")
    (site / "content" / "pages" / "welcome.md").write_text(
        "---\ntitle: Welcome\nvisibility: mixed\n---\n" + paragraph(rng) + "\n", encoding="utf-8")
    start = dt.date(2020, 1, 1)
    mk_nav = []
    for p in range(projects):
        pid = f"project-{p:03d}"
        folder = site / "content" / "projects" / pid
        (folder / "posts").mkdir(parents=True)
        (folder / "index.md").write_text(
            f"---\ntitle: Project {p} {sentence(rng, 3)}\nsummary: {sentence(rng)}\n"
            f"orgs: [{orgs[p % len(orgs)]}]\nvisibility: mixed\n---\n{paragraph(rng)}\n\n"
            f"::: internal\n{paragraph(rng, 2)}\n:::\n", encoding="utf-8")
        count = posts // projects + (1 if p < posts % projects else 0)
        ids: list[str] = []
        for i in range(count):
            day = start + dt.timedelta(days=(i * 3 + p) % 2000)
            pid_post = f"{day.isoformat()}-post-{p:03d}-{i:04d}"
            mixed = rng.random() < 0.6
            reply = ids[-1] if ids and rng.random() < 0.33 else None
            title = f"Post {p}.{i} {sentence(rng, 4).rstrip('.')}"
            body = post_body(rng, ids[-1] if ids else None, rng.random() < 0.3)
            fm = [f"title: \"{title}\"", f"author: {rng.choice(staff)}",
                  f"visibility: {'mixed' if mixed else 'internal'}", f"tags: [{rng.choice(WORDS)}]"]
            if reply:
                fm.append(f"in_reply_to: {reply}")
            (folder / "posts" / f"{pid_post}.md").write_text("---\n" + "\n".join(fm) + "\n---\n" + body,
                                                            encoding="utf-8")
            ids.append(pid_post)
            plain = body.replace("::: internal\n", "").replace("\n:::", "")
            _peer_post(roots, pid, pid_post, title, day, plain)
            mk_nav.append(f"{pid}/{pid_post}.md")
    _peer_configs(roots)
    _credentials(site, staff + [f"{o}-p{k}" for o in orgs for k in range(2)])
    return roots


def _peer_post(roots: dict[str, Path], pid: str, post_id: str, title: str, day: dt.date, body: str) -> None:
    """The same post for Pelican, MkDocs and Hugo."""
    body = body.replace("](", "](../").replace("(../http", "(http")
    pel = roots["pelican"] / "content" / pid
    pel.mkdir(parents=True, exist_ok=True)
    (pel / f"{post_id}.md").write_text(
        f"Title: {title}\nDate: {day.isoformat()}\nCategory: {pid}\nSlug: {post_id}\n\n{body}", encoding="utf-8")
    mk = roots["mkdocs"] / "docs" / pid
    mk.mkdir(parents=True, exist_ok=True)
    (mk / f"{post_id}.md").write_text(f"# {title}\n\n{body}", encoding="utf-8")
    hu = roots["hugo"] / "content" / "posts" / pid
    hu.mkdir(parents=True, exist_ok=True)
    (hu / f"{post_id}.md").write_text(f"---\ntitle: \"{title}\"\ndate: {day.isoformat()}\n---\n{body}",
                                      encoding="utf-8")


def _peer_configs(roots: dict[str, Path]) -> None:
    """Minimal configurations: Pelican's default theme, MkDocs with encryptcontent, Hugo with a tiny layout."""
    (roots["pelican"] / "pelicanconf.py").write_text(
        'AUTHOR = "bench"\nSITENAME = "Bench"\nPATH = "content"\nTIMEZONE = "UTC"\nDEFAULT_LANG = "fr"\n'
        "FEED_ALL_ATOM = None\nCATEGORY_FEED_ATOM = None\nRELATIVE_URLS = True\nDEFAULT_PAGINATION = 10\n"
        "LOAD_CONTENT_CACHE = False\n", encoding="utf-8")
    (roots["mkdocs"] / "docs" / "index.md").write_text("# Bench\n", encoding="utf-8")
    (roots["mkdocs"] / "mkdocs.yml").write_text(
        "site_name: Bench\nuse_directory_urls: false\nplugins:\n  - search\n  - encryptcontent:\n"
        "      global_password: 'bench-password'\n", encoding="utf-8")
    hugo = roots["hugo"]
    (hugo / "hugo.toml").write_text('baseURL = "/"\ntitle = "Bench"\ndisableKinds = ["RSS", "sitemap"]\n',
                                    encoding="utf-8")
    layouts = hugo / "layouts" / "_default"
    layouts.mkdir(parents=True)
    (layouts / "single.html").write_text(
        "<!doctype html><title>{{ .Title }}</title><h1>{{ .Title }}</h1>{{ .Content }}\n", encoding="utf-8")
    (layouts / "list.html").write_text(
        "<!doctype html><title>{{ .Title }}</title><ul>{{ range .Pages }}<li><a href=\"{{ .RelPermalink }}\">"
        "{{ .Title }}</a></li>{{ end }}</ul>\n", encoding="utf-8")


def _credentials(site: Path, ids: list[str]) -> None:
    """Give everyone a password (cheap PBKDF2/bcrypt costs: builds are measured, not logins)."""
    from extranet.protect.credentials import set_password
    from extranet.protect.secrets import Secrets

    secrets = Secrets.load(site / ".extranet", create=True)
    for pid in ids:
        set_password(secrets, pid, "", "bench-password", iterations=1000, bcrypt_cost=4)
    secrets.save()


def main() -> None:
    """Command line: corpus.py POSTS DEST [--projects N]."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("posts", type=int)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--projects", type=int, default=None)
    args = parser.parse_args()
    roots = generate(args.posts, args.dest, args.projects)
    print(f"wrote {args.posts} posts under {args.dest} ({', '.join(roots)})")


if __name__ == "__main__":
    main()
