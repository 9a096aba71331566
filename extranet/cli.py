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


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Keep loopback: the preview is not encrypted.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65534),
              help="Port of the internal site; the mixed site uses the next one.")
@click.option("--as", "as_person", metavar="ID",
              help="Preview the mixed site as person ID sees it: only their projects.")
@click.pass_obj
def serve(root: Path, host: str, port: int, as_person: str | None) -> None:
    """Build, serve both sites locally (unencrypted), rebuild on change, reload the browser."""
    import threading

    from .serve import Preview, is_loopback

    if not is_loopback(host):
        click.echo(f"warning: listening on {host}: anyone who can reach it reads the "
                   "unencrypted preview", err=True)
    preview = Preview(root, host=host, ports=(port, port + 1 if port else 0), person=as_person)
    preview.start()
    who = f" (as {as_person})" if as_person else ""
    click.echo(f"internal site: {preview.url('internal')}")
    click.echo(f"mixed site:    {preview.url('mixed')}{who}")
    click.echo("watching for changes; press Ctrl+C to stop")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        preview.stop()


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


# -- people ---------------------------------------------------------------------------------
@main.group()
def people() -> None:
    """Add, list, remove people, or reset a person's password."""


def _show_password(pid: str, password: str, password_file: Path | None) -> None:
    from .people import write_password_file

    if password_file:
        write_password_file(password_file, password)
        click.echo(f"password of {pid} written to {password_file} (mode 600); it is shown nowhere else")
    else:
        click.echo(f"password of {pid} (shown once, stored nowhere): {password}")
    click.echo("it takes effect at the next `extranet build`")


@people.command("add")
@click.argument("person_id")
@click.option("--name", required=True, help="Display name.")
@click.option("--email", required=True, help="Email address (also a login name).")
@click.option("--org", required=True, help="Organisation id (from people.toml).")
@click.option("--expires", type=click.DateTime(["%Y-%m-%d"]), help="Last day of access (YYYY-MM-DD).")
@click.option("--notify", type=click.Choice(["immediate", "digest", "none"]), default="immediate")
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the generated password there (mode 600) instead of showing it.")
@click.pass_obj
def people_add(root: Path, person_id: str, name: str, email: str, org: str, expires, notify: str,
               password_file: Path | None) -> None:
    """Add PERSON_ID to people.toml with a generated password."""
    from .people import add

    password = add(root, person_id, name, email, org, expires.date() if expires else None, notify)
    _show_password(person_id, password, password_file)


@people.command("reset")
@click.argument("person_id")
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the generated password there (mode 600) instead of showing it.")
@click.pass_obj
def people_reset(root: Path, person_id: str, password_file: Path | None) -> None:
    """Give PERSON_ID a new password (the old one stops working at the next build)."""
    from .people import reset

    _show_password(person_id, reset(root, person_id), password_file)


@people.command("remove")
@click.argument("person_id")
@click.pass_obj
def people_remove(root: Path, person_id: str) -> None:
    """Remove PERSON_ID; the next build rotates every key they could use."""
    from .people import remove

    click.echo(f"{remove(root, person_id)}; run `extranet build` to revoke their access")


@people.command("list")
@click.pass_obj
def people_list(root: Path) -> None:
    """List people with their organisation, role, access and password state."""
    import datetime as dt

    from .people import rows

    for r in rows(root, dt.date.today()):
        click.echo(f"{r.id:<14} {r.name:<24} {r.email:<32} {r.org:<24} {r.role:<9} {r.status:<18} "
                   f"{'password set' if r.password else 'no password'}")


# -- audit ----------------------------------------------------------------------------------
@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Output folder (default: public/).")
@click.pass_obj
def audit(root: Path, out: Path | None) -> None:
    """Prove that the built output holds nothing internal in the mixed zone, and that every
    person opens exactly their projects."""
    from .audit import audit_site

    problems = audit_site(root, out or root / "public")
    if problems:
        for p in problems:
            click.echo(f"error: {p}", err=True)
        raise ExtranetError(f"audit failed: {len(problems)} problem(s)")
    click.echo("audit passed: every page and file encrypted, nothing internal in the mixed zone, "
               "every person opens exactly their projects")


if __name__ == "__main__":  # pragma: no cover
    main()
