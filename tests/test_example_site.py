"""The shipped example site builds with exactly its one deliberate warning and leaks nothing."""

import shutil
import subprocess
import sys
from pathlib import Path

import extranet

EXAMPLE = Path(extranet.__file__).parent / "example"


def _build(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    site = tmp_path / "site"
    shutil.copytree(EXAMPLE, site, ignore=shutil.ignore_patterns(".extranet", "public"))
    return subprocess.run([sys.executable, "-m", "extranet", "-C", str(site), "build", "--no-encrypt",
                           "--out", str(tmp_path / "out"), *args], capture_output=True, text=True, timeout=60)


def test_example_builds_with_one_deliberate_warning(tmp_path):
    run = _build(tmp_path)
    assert run.returncode == 0, run.stderr
    warnings = [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: projects/passerelle-moulin/posts/2026-03-02-galvanisation.md: link to "
                        "internal content '2026-02-05-budget-et-risques.md' removed from the mixed site"]


def test_example_mixed_site_holds_no_internal_text(tmp_path):
    assert _build(tmp_path).returncode == 0
    out = tmp_path / "out"
    mixed = "\n".join(f.read_text(errors="ignore") for f in (out / "mixed").rglob("*") if f.is_file())
    internal = "\n".join(f.read_text(errors="ignore") for f in (out / "internal").rglob("*") if f.is_file())
    for secret in ("96 400", "Budget et risques", "Caluire", "Astreinte", "raidir les poutres",
                   "Charte interne", "chiffrage-interne.csv", "devis-verrerie-v2.txt", "semaine du 3 août",
                   "Cordialement"):
        assert secret in internal, secret
        assert secret not in mixed, secret
    assert "Compte rendu de chantier" not in internal + mixed  # the draft is published nowhere
    assert not (out / "mixed/home/tgauthier.html").exists()
    assert (out / "mixed/home/hmorel.html").exists()
