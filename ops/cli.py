"""The `ptfops` command line: the one place that wires the packages together."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ops.deploy_cli import deploy
from ops.iati_cli import iati
from ops.inventory import check_inventory
from ops.lab.cli import lab
from ops.portal_app import portal_app as _app
from ops.snapshots_cli import snapshots


@click.group()
@click.version_option(package_name="ptfops")
def main() -> None:
    """ptfops: IT operations and web publishing for the Pool Technique des PTF."""


@main.group()
def inventory() -> None:
    """Check the files of inventory/."""


@inventory.command("check")
@click.option("--dir", "inventory_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Inventory folder (default: $PTFOPS_INVENTORY or ./inventory).")
def inventory_check(inventory_dir: Path | None) -> None:
    """Validate every inventory file against its schema; print file:line: message."""
    issues = check_inventory(inventory_dir)
    for issue in issues:
        click.echo(str(issue), err=True)
    if issues:
        raise SystemExit(1)
    click.echo("inventory OK")


@main.group()
def db() -> None:
    """The portal's database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply schema migrations, then create/archive platforms from inventory/groups.yml."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    from sites.inventory_sync import sync_groups
    from sites.migrate import upgrade

    app = _app()
    try:
        upgrade(app)
    except OperationalError as exc:  # one line: driver messages span several
        click.echo(f"error: cannot reach the database: {' '.join(str(exc.orig).split())}",
                   err=True)
        raise SystemExit(2) from exc
    except DBAPIError as exc:  # e.g. DATABASE_URL names a file that is not a database
        click.echo(f"error: unusable database (check DATABASE_URL): "
                   f"{' '.join(str(exc.orig).split())}", err=True)
        raise SystemExit(2) from exc
    with app.app_context():
        report = sync_groups(app.extensions["ptfops.inventory"])
    click.echo("database schema up to date")
    for label, slugs in (("created", report.created), ("updated", report.updated),
                         ("archived", report.archived), ("restored", report.restored)):
        if slugs:
            click.echo(f"platforms {label}: {', '.join(slugs)}")


@main.command("seed-demo")
@click.option("--admin-email", default="admin@ptf-mali.local", show_default=True)
def seed_demo(admin_email: str) -> None:
    """Fill an empty portal with demo content and an administrator (password printed once)."""
    from sites.demo import seed

    app = _app()
    with app.app_context():
        result = seed(admin_email)
    if result.password:
        click.echo(f"administrator: {result.admin_email}  password: {result.password}")
        click.echo("(shown once: write it down, then change it from the site)")
    else:
        click.echo(f"demo content already present; administrator is {result.admin_email}")


@main.group()
def users() -> None:
    """Staff accounts of the portal."""


@users.command("add")
@click.argument("email")
@click.option("--name", required=True, help="Full name.")
@click.option("--role", type=click.Choice(["admin", "focal", "member"]), required=True)
@click.option("--group", "group_slug", help="Group slug (focal points and members).")
@click.option("--organisation", default="")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_add(email: str, name: str, role: str, group_slug: str | None, organisation: str,
              password_stdin: bool) -> None:
    """Create an account; prints the generated password unless --password-stdin."""
    from sites.accounts import AccountError, create_user
    from sites.extensions import db as database

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    if password is not None and len(password) < 12:
        raise click.UsageError("the password must have at least 12 characters")
    app = _app()
    with app.app_context():
        try:
            user, password = create_user(email, name, role, group_slug, organisation,
                                         password, actor="cli")
        except AccountError as exc:
            click.echo(f"error: {exc}", err=True)
            raise SystemExit(1) from exc
        database.session.commit()
        click.echo(f"created {user.email} ({role})")
        if not password_stdin:
            click.echo(f"password: {password}")


@users.command("list")
def users_list() -> None:
    """List accounts: e-mail, role, groups, state."""
    from sqlalchemy import select

    from sites.extensions import db as database
    from sites.models import User

    app = _app()
    with app.app_context():
        for user in database.session.scalars(select(User).order_by(User.email)):
            groups = ",".join(f"{m.group.slug}:{m.role.value}" for m in user.memberships)
            state = "active" if user.active else "disabled"
            click.echo(f"{user.email}\t{user.role_label}\t{groups or '-'}\t{state}")


def _account_or_exit(email: str):
    """The account with this address (inside an app context), or exit 1 saying so."""
    from sites.accounts import find_user

    user = find_user(email)
    if user is None:
        click.echo(f"error: no account {email}", err=True)
        raise SystemExit(1)
    return user


@users.command("disable")
@click.argument("email")
def users_disable(email: str) -> None:
    """Disable an account; its open sessions end at once."""
    from sites.accounts import set_active
    from sites.extensions import db as database

    app = _app()
    with app.app_context():
        user = _account_or_exit(email)
        set_active(user, False, actor="cli")
        database.session.commit()
        click.echo(f"disabled {user.email}")


@users.command("enable")
@click.argument("email")
def users_enable(email: str) -> None:
    """Re-enable a disabled account."""
    from sites.accounts import set_active
    from sites.extensions import db as database

    app = _app()
    with app.app_context():
        user = _account_or_exit(email)
        set_active(user, True, actor="cli")
        database.session.commit()
        click.echo(f"enabled {user.email}")


@users.command("reset-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
def users_reset_password(email: str, password_stdin: bool) -> None:
    """Give an account a new password (generated and printed unless --password-stdin)."""
    from sites.accounts import reset_password
    from sites.extensions import db as database

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    if password is not None and len(password) < 12:
        raise click.UsageError("the password must have at least 12 characters")
    app = _app()
    with app.app_context():
        user = _account_or_exit(email)
        password = reset_password(user, password, actor="cli")
        database.session.commit()
        click.echo(f"new password set for {user.email}; their open sessions are closed")
        if not password_stdin:
            click.echo(f"password: {password}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--dev", is_flag=True, help="Flask's reloading development server.")
def serve(host: str, port: int, workers: int, dev: bool) -> None:
    """Serve the portal (gunicorn; --dev for the Flask development server)."""
    app = _app()  # fail early, with a clear message, on a bad inventory or URL
    if dev:
        app.run(host=host, port=port, debug=True)
        return
    gunicorn = Path(sys.executable).with_name("gunicorn")
    click.echo(f"serving on http://{host}:{port}/")
    argv = [str(gunicorn), "--bind", f"{host}:{port}", "--workers", str(workers),
            "--access-logfile", "-", "sites.wsgi:app"]
    os.execv(argv[0], argv)  # noqa: S606 - fixed argv, no shell


main.add_command(iati)
main.add_command(lab)
main.add_command(deploy)
main.add_command(snapshots)
