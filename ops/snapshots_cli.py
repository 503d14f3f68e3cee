"""`ptfops snapshots refresh|watch`: keep nginx's static snapshots on the current content."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from pathlib import Path

import click
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from ops.portal_app import portal_app

log = logging.getLogger("ptfops.snapshots")


def _root(app: Flask) -> Path:
    """SNAPSHOT_DIR, or a clean exit when snapshots are off."""
    root = app.config.get("SNAPSHOT_DIR")
    if not root:
        raise click.ClickException("snapshots are off: set PTFOPS_SNAPSHOT_DIR "
                                   "(see docs/performance.md)")
    path = Path(root)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(f"cannot create {path}: {exc.strerror}") from exc
    return path


def refresh_once(app: Flask, root: Path) -> str | None:
    """Switch `current` to the content's generation; the new name when it changed."""
    from sites import snapshots
    from sites.extensions import db
    from sites.stamp import content_stamp

    with app.app_context():
        try:
            stamp = content_stamp()
        finally:
            db.session.remove()
            # No connection kept between two looks: a restore replaces the SQLite file, and
            # a kept connection would read the replaced one for ever.
            db.engine.dispose()
    if snapshots.refresh(root, stamp):
        return snapshots.current_generation(root)
    return None


@click.group()
def snapshots() -> None:
    """Static snapshots of public pages, served by nginx (PTFOPS_SNAPSHOT_DIR)."""


@snapshots.command("refresh")
def snapshots_refresh() -> None:
    """Point the snapshots at the current content once (after a restore, say)."""
    app = portal_app()
    root = _root(app)
    changed = refresh_once(app, root)
    click.echo(f"snapshots: now {changed}" if changed else "snapshots: already current")


@snapshots.command("watch")
@click.option("--interval", default=1.0, show_default=True, type=click.FloatRange(0.1, 60),
              help="Seconds between two looks at the content version.")
def snapshots_watch(interval: float) -> None:
    """Follow publishes and scheduled items: a new generation within INTERVAL seconds."""
    app = portal_app()
    root = _root(app)
    stop = _stop_on_signals()
    click.echo(f"snapshots: watching {root} every {interval:g} s")
    failing = False
    while not stop():
        try:
            changed = refresh_once(app, root)
            if failing:
                log.warning("snapshots: database reachable again")
                failing = False
            if changed:
                click.echo(f"snapshots: now {changed}")
        except (SQLAlchemyError, OSError) as exc:
            if not failing:  # said once, not every second while the database is down
                log.error("snapshots: cannot refresh (%s); nginx keeps the last pages", exc)
                failing = True
        time.sleep(interval)


def _stop_on_signals() -> Callable[[], bool]:
    """A flag SIGTERM/SIGINT raise, so systemd stops the loop between two looks."""
    stopped = {"yes": False}

    def handler(signum: int, frame: object) -> None:
        stopped["yes"] = True

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return lambda: stopped["yes"]
