"""The portal application for CLI commands, or a clean exit naming what is wrong."""

from __future__ import annotations

import click
from flask import Flask

from ops.inventory import InventoryError


def portal_app() -> Flask:
    """The portal application, or a clean exit naming what is wrong."""
    from sites import create_app
    from sites.config import ConfigError

    try:
        return create_app()
    except InventoryError as exc:
        for issue in exc.issues:
            click.echo(str(issue), err=True)
        raise SystemExit(2) from exc
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from exc
