"""Command line: parses arguments, calls the library, turns errors into one clear line."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import click

from . import __version__
from .errors import ExtranetError, SiteError

EXAMPLE = Path(__file__).resolve().parent / "example"


class _Handler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"{record.levelname.lower()}: {record.getMessage()}", err=True)


def setup_logging(verbose: bool) -> None:
    """Messages of the "extranet" logger to standard error, as "level: message" (every command)."""
    log = logging.getLogger("extranet")
    log.handlers[:] = [_Handler()]
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False


def locked(command):
    """Run a command holding the site lock: commands that write the output or the secrets
    run one at a time (ingest and gateway take it around their rebuilds)."""
    import functools

    @functools.wraps(command)
    def wrapper(root: Path, *args, **kwargs):
        from .lock import site_lock

        with site_lock(root):
            return command(root, *args, **kwargs)

    return wrapper


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
    setup_logging(verbose)
    ctx.obj = site.resolve()
    if ctx.invoked_subcommand != "init" and (ctx.obj / "extranet.toml").is_file():
        from .leftovers import clean_leftovers

        clean_leftovers(ctx.obj)  # what a crashed command left (staging trees, temporary files)


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
@click.option("--no-cache", is_flag=True, help="Ignore .extranet/cache/ and do everything again.")
@click.option("--jobs", type=click.IntRange(1, 64), default=None,
              help="Processes for Markdown and pages on a big build (default: all cores).")
@click.pass_obj
@locked
def build(root: Path, strict: bool, out: Path | None, no_encrypt: bool, no_cache: bool, jobs: int | None) -> None:
    """Build both zones into public/internal and public/mixed (then notify, with [build] notify)."""
    _build(root, strict=strict, out=out, encrypt=False if no_encrypt else None, cache=not no_cache, jobs=jobs,
           progress=lambda m: click.echo(f"… {m}", err=True))


def _build(root: Path, *, out: Path | None = None, encrypt: bool | None = None,
           progress: Callable[[str], None] | None = None, **options) -> None:
    """Build, show the summary, then notify when [build] notify is on and the output is the
    site's own: after the build, once its output is written, so that every link in a message works."""
    import datetime as dt

    from . import config
    from .build import build as run_build

    now = dt.datetime.now().replace(microsecond=0)
    result = run_build(root, out=out, now=now, encrypt=encrypt, progress=progress, **options)
    click.echo(result.summary())
    if config.load(root)[0].notify_on_build and out is None:
        from .mail.outbound.notifications import notify_site

        if progress:
            progress("notifying")
        report = notify_site(root, site=result.site, now=now, encrypt=encrypt, progress=progress)
        for line in report.problems():
            click.echo(f"warning: {line}", err=True)
        click.echo(report.summary())


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
    click.echo("this preview is not encrypted and needs no login; a person's own view of the mixed "
               "site: extranet serve --as ID (ids: extranet people list)")
    click.echo("the real, encrypted sites: extranet people reset ID (prints the password), then "
               "extranet build; log in at <zone>/login.html with the id or email address")
    click.echo("watching for changes; press Ctrl+C to stop")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        preview.stop()


# -- deploy, service, doctor (issue 19: from a laptop to production) ------------------------

@main.command()
@click.option("--dry-run", is_flag=True, help="Show what would be uploaded and deleted; change nothing.")
@click.option("--max-deletes", type=click.IntRange(0), default=None, metavar="N",
              help="Change nothing when more than N files would be deleted (default: [deploy] max_deletes).")
@click.pass_obj
def deploy(root: Path, dry_run: bool, max_deletes: int | None) -> None:
    """Publish the built zones to the destinations of [deploy]: only what changed, files before
    the pages pointing to them, stale files deleted last."""
    from .deploy.run import deploy as run_deploy

    listed = logging.getLogger("extranet").isEnabledFor(logging.DEBUG)
    report = run_deploy(root, dry_run=dry_run, max_deletes=max_deletes,
                        progress=lambda m: click.echo(f"… {m}", err=True),
                        observe=(lambda action, job, key: click.echo(f"{action} {job}: {key}", err=True))
                        if listed else None)
    for line in report.lines:
        click.echo(line)
    click.echo(report.summary())


@main.command()
@click.option("--write", "write_dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Write the unit files into DIR (e.g. /etc/systemd/system) instead of printing them.")
@click.option("--name", default="extranet", show_default=True, help="Prefix of the unit names (one per site).")
@click.option("--user", help="User running the units (default: the owner of the site folder).")
@click.option("--digest-at", default="07:00", show_default=True, metavar="HH:MM", help="Time of the daily digest.")
@click.pass_obj
def service(root: Path, write_dir: Path | None, name: str, user: str | None, digest_at: str) -> None:
    """Print (or write) systemd units for this site folder: the gateway and the daily digest."""
    import grp
    import pwd

    from . import config
    from .output import atomic_write
    from .service import ServiceOptions, next_steps, units

    settings, _ = config.load(root)
    owner = pwd.getpwuid(root.stat().st_uid)
    user = user or owner.pw_name
    try:
        group = grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name
    except KeyError:
        group = user
    exe = Path(sys.executable).with_name("extranet")
    command = (str(exe),) if exe.exists() else (sys.executable, "-m", "extranet")
    options = ServiceOptions(name=name, user=user, group=group, command=command, digest_at=digest_at)
    try:
        files = units(settings, options)
    except ValueError as e:
        raise ExtranetError(str(e)) from e
    if user == "root":
        click.echo("warning: the units run as root; give the gateway its own user: useradd --system "
                   "--home-dir /srv/extranet extranet && chown -R extranet: <site folder> (docs/deploy.md)", err=True)
    if write_dir is None:
        for file_name, text in files.items():
            click.echo(f"# {file_name}\n{text}")
        click.echo("# " + next_steps(options, None).replace("\n", "\n# "))
        return
    for file_name, text in files.items():
        atomic_write(write_dir / file_name, text.encode())
        click.echo(f"wrote {write_dir / file_name}")
    click.echo(next_steps(options, write_dir))


@main.command()
@click.option("--probe", is_flag=True,
              help="Also send a message to a reply+ and a note+ address and wait for them in the mailbox.")
@click.option("--probe-wait", default=60, show_default=True, type=click.IntRange(1, 3600), metavar="SECONDS",
              help="How long to wait for the probe messages.")
@click.pass_obj
def doctor(root: Path, probe: bool, probe_wait: int) -> None:
    """Check the site for production: URLs, secrets, relay, mailbox, deploy destinations, git, DNS."""
    from .doctor import check_site

    findings = check_site(root, probe=probe, probe_wait=float(probe_wait),
                          report=lambda f: click.echo(f.line()))
    problems = [f for f in findings if f.level == "problem"]
    click.echo(f"{len(problems)} problem(s)" if problems else "no problem found")
    if problems:
        sys.exit(1)


# -- notify (issue 4: email notifications of new posts) -------------------------------------

@main.command()
@click.option("--all", "send_all", is_flag=True,
              help="First run only: mail every published post instead of recording them as already announced.")
@click.option("--digest", is_flag=True,
              help="Also send the digests of days before today (run it daily, e.g. from cron).")
@click.pass_obj
def notify(root: Path, send_all: bool, digest: bool) -> None:
    """Mail the posts not yet sent (and resume an interrupted run)."""
    from .mail.outbound.notifications import notify_site

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
@locked
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
@locked
def people_reset(root: Path, person_id: str, password_file: Path | None) -> None:
    """Give PERSON_ID a new password (the old one stops working at the next build)."""
    from .people import reset

    _show_password(person_id, reset(root, person_id), password_file)


@people.command("remove")
@click.argument("person_id")
@click.pass_obj
@locked
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
@locked
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


# -- email in -------------------------------------------------------------------------------
@main.command()
@click.option("--extract-only", is_flag=True, help="Print the reply text that would be posted; write nothing.")
@click.option("--recipient", help="Envelope recipient, when the MTA passes it (Postfix ${recipient}).")
@click.option("--sender", help="Envelope sender, when the MTA passes it (Postfix ${sender}).")
@click.pass_obj
def ingest(root: Path, extract_only: bool, recipient: str | None, sender: str | None) -> None:
    """Take one message on standard input (for an MTA pipe). Exit 75 asks the MTA to retry."""
    if extract_only:
        from .mail.inbound.extract import extract

        result = extract(sys.stdin.buffer.read())
        click.echo(result.text)
        if not result.confident:
            click.echo(f"(not confident: {'; '.join(result.reasons)}; this post would wait for moderation)", err=True)
        return
    from .mail.inbound.stdin import EX_TEMPFAIL, ingest as ingest_stdin
    from .mail.site_mail import SiteMail

    try:
        site_mail = SiteMail(root)
    except ExtranetError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EX_TEMPFAIL)
    sys.exit(ingest_stdin(sys.stdin.buffer, site_mail.gateway, recipient=recipient, sender=sender,
                          after=site_mail.batch))


@main.command()
@click.option("--smtp/--no-smtp", default=True, help="Run the SMTP listener ([mail.smtp] listen).")
@click.option("--imap/--no-imap", default=True, help="Watch the IMAP mailbox, when [mail.imap] is set.")
@click.pass_obj
def gateway(root: Path, smtp: bool, imap: bool) -> None:
    """Run the inbound mail gateway: SMTP listener and/or IMAP mailbox, until Ctrl+C."""
    import signal
    import threading

    from .mail.daemon import Transports
    from .mail.inbound.imap import imap_settings as config_imap
    from .mail.inbound.smtp import parse_listen
    from .mail.site_mail import SiteMail

    site_mail = SiteMail(root)
    mail = site_mail.settings.mail
    imap_settings = config_imap(mail) if imap and mail.imap is not None else None
    listen = parse_listen(mail.smtp_listen) if smtp and mail.smtp_listen else None
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    site_mail.publishing.start(stop, site_mail.batch.rebuild)  # deploys and git pulls, in threads
    if listen:
        click.echo(f"SMTP listening on {listen[0]}:{listen[1]}")
    if imap_settings:
        click.echo(f"IMAP watching {imap_settings.user}@{imap_settings.host}/{imap_settings.folder}")
    # the transports accept mail at once; the first build and the backlog follow in the processor
    site_mail.run(Transports(smtp=listen, imap=imap_settings), stop)
    click.echo("stopped")


@main.group()
def moderate() -> None:
    """List, approve or reject email posts waiting for a staff approval."""


@moderate.command("list")
@click.pass_obj
def moderate_list(root: Path) -> None:
    """Posts waiting for moderation (shown on the internal site only)."""
    from .moderation import pending

    waiting = pending(root)
    for w in waiting:
        click.echo(f"{w.ref}  {w.date}  {w.author or '?'}  {w.title}\n    {w.excerpt}")
        if w.held:
            click.echo(f"    held, internal only: it {w.held}")
        elif w.reason:
            click.echo(f"    held: {w.reason}")
    if not waiting:
        click.echo("nothing waits for moderation")


@moderate.command("approve")
@click.argument("ref")
@click.pass_obj
@locked
def moderate_approve(root: Path, ref: str) -> None:
    """Publish REF (<project>/<post id>), rebuild, and notify (with [build] notify)."""
    from .moderation import approve

    click.echo(approve(root, ref))
    _build(root)


@moderate.command("reject")
@click.argument("ref")
@click.pass_obj
@locked
def moderate_reject(root: Path, ref: str) -> None:
    """Take REF off the site (kept in .extranet/rejected/), and rebuild."""
    from .moderation import reject

    kept = reject(root, ref)
    click.echo(f"rejected {ref} (kept in {kept})")
    _build(root)


def run() -> None:
    """The console script: the command line, then a quick exit. After a big build Python would
    spend about half a second freeing, one by one, objects nobody needs any more; everything
    is written, flushed and closed by then (the background deletion of the previous output is
    a separate process and goes on)."""
    try:
        main()
        code: object = 0
    except SystemExit as e:
        code = e.code
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)


if __name__ == "__main__":  # pragma: no cover
    run()
