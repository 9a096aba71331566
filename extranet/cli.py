"""Command line: parses arguments, calls the library, turns errors into one clear line."""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

import click

from . import __version__
from .errors import ExtranetError, SiteError

EXAMPLE = Path(__file__).resolve().parent / "example"


class _Handler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"{record.levelname.lower()}: {record.getMessage()}", err=True)


def _setup_logging(verbose: bool) -> None:
    log = logging.getLogger("extranet")
    log.handlers[:] = [_Handler()]
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False


def _fail(error: Exception) -> None:
    """Print an error as one line per problem and exit non-zero."""
    if isinstance(error, SiteError):
        for problem in error.problems:
            click.echo(f"error: {problem}", err=True)
        click.echo(f"error: {len(error.problems)} problem(s), nothing written", err=True)
    else:
        click.echo(f"error: {error}", err=True)
    sys.exit(1)


class Root(click.Group):
    """Turns library errors into one clear line instead of a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ExtranetError as e:
            _fail(e)
        except OSError as e:
            _fail(ExtranetError(f"{e.filename or ''}: {e.strerror}" if e.filename else str(e)))


@click.group(cls=Root, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--site", "-C", type=click.Path(file_okay=False, path_type=Path), default=".",
              help="The site's folder (where extranet.toml is). Default: the current folder.")
@click.option("--verbose", "-v", is_flag=True, help="Say more.")
@click.version_option(__version__)
@click.pass_context
def main(ctx: click.Context, site: Path, verbose: bool) -> None:
    """extranet: build the internal and the mixed project sites, and run their email gateway."""
    _setup_logging(verbose)
    ctx.obj = site.resolve()


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def init(directory: Path) -> None:
    """Create a new site in DIRECTORY from the example site."""
    if directory.exists() and any(directory.iterdir()):
        raise ExtranetError(f"{directory}: folder exists and is not empty")
    shutil.copytree(EXAMPLE, directory, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".extranet", "public", "__pycache__"))
    click.echo(f"new site in {directory}; next: cd {directory} && extranet build")


@main.command()
@click.option("--strict", is_flag=True, help="Fail on any warning (e.g. a shared page linking to internal content).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Output folder (default: public/).")
@click.option("--no-encrypt", is_flag=True, help="Write plain pages (for a trusted intranet or a test).")
@click.pass_obj
def build(root: Path, strict: bool, out: Path | None, no_encrypt: bool) -> None:
    """Build both zones into public/internal and public/mixed."""
    from .build import build as run_build

    result = run_build(root, strict=strict, out=out, encrypt=False if no_encrypt else None,
                       progress=lambda m: click.echo(f"… {m}", err=True))
    click.echo(result.summary())


# -- notify (issue 4: email notifications of new posts) -------------------------------------

@main.command()
@click.option("--all", "send_all", is_flag=True,
              help="First run only: mail every published post instead of recording them as already announced.")
@click.option("--digest", is_flag=True,
              help="Also send the digests of days before today (run it daily, e.g. from cron).")
@click.pass_obj
def notify(root: Path, send_all: bool, digest: bool) -> None:
    """Mail the posts not yet sent (and resume an interrupted run)."""
    from .mail.notify import notify_site

    report = notify_site(root, send_all=send_all, digest=digest,
                         progress=lambda m: click.echo(f"… {m}", err=True))
    for line in report.problems():
        click.echo(f"warning: {line}", err=True)
    click.echo(report.summary())
    if report.failed:
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
