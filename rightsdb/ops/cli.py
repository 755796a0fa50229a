"""The `rightsdb` console command."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlmodel import Session

from rightsdb import create_app
from rightsdb.codebook import CodebookError, load_codebook, summary
from rightsdb.config import ConfigError, Settings
from rightsdb.errors import DomainError


def _app(*, server: bool = False):
    """Create the app (development unless RIGHTSDB_ENV says otherwise), turning a bad codebook or configuration into a clear error."""
    try:
        return create_app(server=server, default_env="development")
    except CodebookError as exc:
        click.echo("The codebook is not valid; the application cannot start:", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(2)
    except ConfigError as exc:
        click.echo(f"The configuration is not valid; the application cannot start: {exc}", err=True)
        sys.exit(2)


@contextmanager
def _session(app) -> Iterator[Session]:
    """Open a session for one command and release the engine's connections when it ends."""
    engine = app.extensions["rightsdb.engine"]
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield session
    finally:
        engine.dispose()


@contextmanager
def _command_session(app) -> Iterator[Session]:
    """Open a command's session in the app's context; an action the domain refuses rolls back and ends the command with its message."""
    with app.app_context(), _session(app) as session:
        try:
            yield session
        except DomainError as exc:
            session.rollback()
            raise click.ClickException(str(exc)) from None


class _Commands(click.Group):
    """The command group: a database that is out of reach or has no rightsdb tables ends any command with one line."""

    def invoke(self, ctx: click.Context):
        from rightsdb.availability import DATABASE_ERRORS, url_problem

        try:
            return super().invoke(ctx)
        except DATABASE_ERRORS as exc:
            problem = url_problem(Settings.from_env().DATABASE_URL)
            if problem is None:
                raise  # not the database's state: a real failure, with its traceback
            raise click.ClickException(problem) from exc


@click.group(cls=_Commands)
def main() -> None:
    """rightsdb: the migrant rights legal coding database."""


@main.command("init-db")
def init_db() -> None:
    """Create or upgrade the database schema (Alembic) and load the ISO country list."""
    from rightsdb.ops.countries import load_iso_countries
    from rightsdb.ops.migrate import upgrade

    app = _app()
    upgrade(app.config["DATABASE_URL"])
    with app.app_context(), _session(app) as session:
        added = load_iso_countries(session=session)
        session.commit()
    click.echo(f"Database ready at {app.config['DATABASE_URL']} ({added} countries added).")


@main.command("demo")
@click.option("--force", is_flag=True, help="Load it outside development too (never beside real users).")
def demo(force: bool) -> None:
    """Load the synthetic demonstration data (idempotent) and print the demo logins."""
    from rightsdb.errors import DomainError
    from rightsdb.ops.demo import DEMO_PASSWORD, load_demo, refuse_unsafe_target
    from rightsdb.ops.migrate import upgrade

    app = _app()
    upgrade(app.config["DATABASE_URL"])
    with app.app_context(), _session(app) as session:
        try:
            refuse_unsafe_target(session=session, env=app.config["ENV"], force=force)
        except DomainError as exc:
            click.echo(str(exc), err=True)
            sys.exit(1)
        report = load_demo(session=session, codebook=app.extensions["rightsdb.codebook"], app_config=app.config, progress=click.echo)
        session.commit()
    click.echo(report.summary())
    click.echo("")
    click.echo("Demo logins (synthetic demonstration data), password for all: " + DEMO_PASSWORD)
    for email, role, name in report.logins:
        click.echo(f"  {role:<11} {email:<32} {name}")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the application with Flask's development server (use gunicorn in production)."""
    app = _app(server=True)
    click.echo(f"Serving rightsdb on http://{host}:{port} (Ctrl+C to stop)")
    app.run(host=host, port=port, debug=False, use_reloader=False)


@main.group("users")
def users() -> None:
    """Manage user accounts."""


@users.command("add")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["admin", "supervisor", "coder"]), required=True)
@click.password_option(prompt="Password")
def users_add(email: str, name: str, role: str, password: str) -> None:
    """Create a user account."""
    from rightsdb.accounts.users import create_user

    app = _app()
    with _command_session(app) as session:
        user = create_user(session=session, email=email, name=name, role=role, password=password)
        session.commit()
        click.echo(f"Created {user.role} {user.email} (id {user.id}).")


@main.group("codebook")
def codebook_group() -> None:
    """Inspect the codebook."""


@codebook_group.command("check")
@click.argument("path", required=False)
def codebook_check(path: str | None) -> None:
    """Validate a codebook file (default: the configured one) and print counts per category."""
    path = path or Settings.from_env().CODEBOOK_PATH
    try:
        book = load_codebook(path)
    except CodebookError as exc:
        click.echo(f"{path}: {len(exc.problems)} problem(s):", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    rows = summary(book)
    click.echo(f"{path}: codebook {book.codebook.id} version {book.version} is valid.")
    for category_id, name, count in rows:
        click.echo(f"  {category_id:<6} {name:<45} {count:>3}")
    click.echo(f"  {len(rows)} categories, {len(book.indicators)} indicators, schemes: {', '.join(book.schemes_by_id)}")


def _echo_database_state(state: dict) -> None:
    """Print a backup manifest or restore report: kind, revision, time and rows per table."""
    click.echo(f"  database kind:    {state['kind']}")
    click.echo(f"  alembic revision: {state['alembic_revision']}")
    for key in ("created_at", "restored_at"):
        if state.get(key):
            click.echo(f"  time:             {state[key]}")
    if state.get("fingerprint"):
        click.echo(f"  fingerprint:      {state['fingerprint']}")
    for table, count in sorted(state["tables"].items()):
        click.echo(f"  {table:<28} {'?' if count is None else count:>9}")


@contextmanager
def _backup_errors() -> Iterator[None]:
    """Report a backup or restore that cannot be done as a clean error message (exit status 1)."""
    from rightsdb.ops.backup_manifest import BackupError

    try:
        yield
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None


@main.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
def backup(path: str, force: bool) -> None:
    """Back up the whole database to PATH (and a manifest to PATH.json)."""
    from rightsdb.ops.backup import backup_database
    from rightsdb.ops.backup_manifest import manifest_path

    with _backup_errors():
        manifest = backup_database(url=Settings.from_env().DATABASE_URL, path=path, force=force)
    click.echo(f"Backed up {manifest['database']} to {path}")
    _echo_database_state(manifest)
    click.echo(f"Manifest written to {manifest_path(path)}")


@main.command("restore")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Restore a backup that has no manifest beside it, unverified.")
def restore(path: str, yes: bool, force: bool) -> None:
    """Replace the whole database with the backup at PATH."""
    from sqlalchemy.engine import make_url

    from rightsdb.ops.backup import inspect_backup, require_manifest, restore_database

    url = Settings.from_env().DATABASE_URL
    shown_url = make_url(url).render_as_string(hide_password=True)
    with _backup_errors():
        click.echo(f"Backup {path} holds:")
        _echo_database_state(inspect_backup(url=url, path=path))
        require_manifest(path, force=force)
        if not yes:
            click.confirm(f"Replace ALL data in {shown_url} with this backup?", abort=True)
        report = restore_database(url=url, path=path, force=force)
    click.echo(f"Restored {shown_url} from {path}:")
    _echo_database_state(report)
    if report["verified"] is False:
        extra = f" Tables not in the backup, left as they were: {', '.join(report['extra_tables'])}." if report["extra_tables"] else ""
        raise click.ClickException("The restored content does not match the fingerprint in the backup's manifest." + extra)
    click.echo(
        "Verified: the content matches the backup's manifest."
        if report["verified"]
        else "No manifest next to the backup (--force): the content is not verified."
    )


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--round", "round_name", required=True, help="Name of the coding round (it must exist).")
@click.option("--as-submission", is_flag=True, help="Fill the coder's own in-progress assignments.")
@click.option("--as-final", is_flag=True, help="Record final values of country-rounds not coded in the system.")
@click.option("--coder", help="Email of the importing coder (with --as-submission).")
@click.option("--reason", help="Reason recorded with every final decision (with --as-final).")
@click.option("--supervisor", help="Email of the deciding supervisor (with --as-final; default: the only active one).")
@click.option("--sheet", help="Sheet of an Excel workbook (default: the first).")
@click.option("--dry-run", is_flag=True, help="Check the file and report, without writing anything.")
def import_file(file, round_name, as_submission, as_final, coder, reason, supervisor, sheet, dry_run) -> None:
    """Import a coded dataset (CSV or .xlsx), all or nothing; the columns are in the README."""
    from rightsdb.errors import InvalidInput
    from rightsdb.importing.importer import import_codings
    from rightsdb.importing.limits import ImportLimits

    if as_submission == as_final:
        raise click.UsageError("Choose one of --as-submission or --as-final.")
    if as_submission and (not coder or reason or supervisor):
        raise click.UsageError("--as-submission needs --coder EMAIL and takes no --reason or --supervisor.")
    if as_final and (coder or not reason):
        raise click.UsageError("--as-final needs --reason TEXT (and optionally --supervisor EMAIL), not --coder.")

    def progress(stage: str, done: int, total: int) -> None:
        click.echo(f"{stage} {done}/{total} rows", err=True)

    app = _app()
    try:
        with app.app_context(), _session(app) as session:
            try:
                report = import_codings(
                    session=session,
                    codebook=app.extensions["rightsdb.codebook"],
                    path=file,
                    round_name=round_name,
                    mode="submission" if as_submission else "final",
                    user_email=coder if as_submission else supervisor,
                    reason=reason or "",
                    sheet=sheet,
                    dry_run=dry_run,
                    progress=progress,
                    limits=ImportLimits.from_config(app.config),
                )
            except InvalidInput as exc:
                session.rollback()
                click.echo(str(exc), err=True)
                for where, message in exc.problems:
                    click.echo(f"  {where}: {message}", err=True)
                sys.exit(1)
            if dry_run:
                session.rollback()
            else:
                session.commit()  # the only commit: an interrupted import leaves nothing behind
    finally:
        app.extensions["rightsdb.engine"].dispose()
    for line in report.lines():
        click.echo(line)


@main.group("release")
def release_group() -> None:
    """Publish, verify and list releases."""


@release_group.command("build")
@click.argument("version")
@click.option("--title", default="", help="Title of the release.")
@click.option("--notes", default="", help="Notes for researchers.")
@click.option("--date", "release_date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="Release date (default: today).")
@click.option("--synthetic", is_flag=True, help="Release the synthetic demonstration countries instead of the real ones.")
def release_build(version: str, title: str, notes: str, release_date, synthetic: bool) -> None:
    """Snapshot every final country-round into release VERSION and write its files."""
    from datetime import date as date_type

    from rightsdb.publishing.publish import discard_release_files, publish_release

    app = _app()
    exports_dir = app.config["EXPORTS_DIR"]
    with _command_session(app) as session:
        release = publish_release(
            session=session,
            codebook=app.extensions["rightsdb.codebook"],
            exports_dir=exports_dir,
            version=version,
            title=title,
            notes=notes,
            release_date=release_date.date() if release_date else date_type.today(),
            synthetic=synthetic,
            progress=click.echo,
        )
        try:
            session.commit()
        except Exception:
            session.rollback()
            discard_release_files(exports_dir=exports_dir, version=version)
            raise
        click.echo(f"Release {release.version} written to {exports_dir}/{release.version} (SHA256SUMS {release.sha256}).")
        if release.synthetic:
            click.echo("This release contains synthetic demonstration data.")
        click.echo(release.changelog)


@release_group.command("verify")
@click.argument("version")
def release_verify(version: str) -> None:
    """Check every file of release VERSION against SHA256SUMS and a rebuild from its snapshot; name each that differs."""
    from rightsdb.errors import DomainError
    from rightsdb.publishing.publish import get_release
    from rightsdb.publishing.verify import PREFIXES, split_report, verify_release

    app = _app()
    with _command_session(app) as session:
        try:
            release = get_release(session=session, version=version)
            note, problems = split_report(
                verify_release(
                    session=session, codebook=app.extensions["rightsdb.codebook"], exports_dir=app.config["EXPORTS_DIR"], release=release
                )
            )
        except DomainError as exc:  # no such release, its files gone, or a format this version does not know
            click.echo(str(exc), err=True)
            sys.exit(1)
    if note:
        click.echo(note)
    if problems:
        for name in problems:
            click.echo(name if name.startswith(PREFIXES) else f"checksum differs: {name}", err=True)
        click.echo(f"Release {version} does not verify: {len(problems)} {'problem' if len(problems) == 1 else 'problems'} above.", err=True)
        sys.exit(1)
    click.echo(f"Release {version} verified.")


@release_group.command("list")
def release_list() -> None:
    """List the published releases, newest first (and remove the temporary folders of builds that were killed)."""
    from rightsdb.publishing.publish import list_releases
    from rightsdb.publishing.staging import remove_stale_builds

    app = _app()
    for name in remove_stale_builds(app.config["EXPORTS_DIR"]):
        click.echo(f"Removed {name}, left by a release build that did not finish.", err=True)
    with app.app_context(), _session(app) as session:
        items = list_releases(session=session)
    if not items:
        click.echo("No release is published yet.")
    for r in items:
        kind = "synthetic demonstration data" if r.synthetic else "real"
        click.echo(f"{r.version:<12} {r.release_date.isoformat()}  {kind:<30} {r.title}")


if __name__ == "__main__":  # pragma: no cover
    main()
