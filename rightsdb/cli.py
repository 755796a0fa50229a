"""The `rightsdb` console command."""

from __future__ import annotations

import sys

import click
from sqlmodel import Session

from . import create_app
from .codebook import CodebookError, load_codebook, summary
from .config import Settings


def _app():
    """Create the app, turning a bad codebook into a clear error instead of a traceback."""
    try:
        return create_app()
    except CodebookError as exc:
        click.echo("The codebook is not valid; the application cannot start:", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(2)


def _session(app) -> Session:
    return Session(app.extensions["rightsdb.engine"], expire_on_commit=False)


@click.group()
def main() -> None:
    """rightsdb: the migrant rights legal coding database."""


@main.command("init-db")
def init_db() -> None:
    """Create or upgrade the database schema (Alembic) and load the ISO country list."""
    from .countries import load_iso_countries
    from .migrate import upgrade

    app = _app()
    upgrade(app.config["DATABASE_URL"])
    with app.app_context(), _session(app) as session:
        added = load_iso_countries(session=session)
        session.commit()
    click.echo(f"Database ready at {app.config['DATABASE_URL']} ({added} countries added).")


@main.command("demo")
def demo() -> None:
    """Load the synthetic demonstration data (idempotent) and print the demo logins."""
    from .demo import DEMO_PASSWORD, load_demo
    from .migrate import upgrade

    app = _app()
    upgrade(app.config["DATABASE_URL"])
    with app.app_context(), _session(app) as session:
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
    app = _app()
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
    from .accounts import create_user
    from .errors import DomainError

    app = _app()
    with app.app_context(), _session(app) as session:
        try:
            user = create_user(session=session, email=email, name=name, role=role, password=password)
        except DomainError as exc:
            raise click.ClickException(str(exc)) from None
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


if __name__ == "__main__":  # pragma: no cover
    main()
