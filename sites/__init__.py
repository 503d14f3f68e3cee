"""The publishing portal: the public site and every GT/SGT platform."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask

from ops.inventory import load_groups
from sites.config import build_config


def create_app(test_config: dict[str, Any] | None = None,
               instance_path: str | None = None) -> Flask:
    """Build the portal; refuses to start on an invalid inventory or database URL."""
    instance = instance_path or os.environ.get("PTFOPS_INSTANCE") or None
    app = Flask(__name__, instance_path=instance and str(Path(instance).resolve()),
                instance_relative_config=True)
    app.config.from_mapping(build_config(Path(app.instance_path)))
    if test_config:
        app.config.from_mapping(test_config)
    inventory_dir = Path(app.config["INVENTORY_DIR"]) if app.config["INVENTORY_DIR"] else None
    app.extensions["ptfops.inventory"] = load_groups(inventory_dir)
    if app.config["PROXY_COUNT"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    _init_logging(app)
    _init_extensions(app)
    _register_blueprints(app)
    return app


def _init_logging(app: Flask) -> None:
    if not logging.getLogger("ptfops").handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger("ptfops").addHandler(handler)
        logging.getLogger("ptfops").setLevel(logging.INFO)


def _init_extensions(app: Flask) -> None:
    from sites import changes, security, snapshots
    from sites.extensions import babel, csrf, db, limiter, login_manager
    from sites.i18n import select_locale
    from sites.templating import init_templating

    snapshots.init_app(app)  # first registered: its after_request hook runs last
    db.init_app(app)
    with app.app_context():
        changes.install(db.session.session_factory)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories="translations")
    limiter.init_app(app)
    login_manager.init_app(app)
    security.init_app(app)
    init_templating(app)


def _register_blueprints(app: Flask) -> None:
    from sites import i18n
    from sites.activities import bp as activities_bp
    from sites.activity_map import bp as activity_map_bp
    from sites.admin import bp as admin_bp
    from sites.auth import bp as auth_bp
    from sites.documents import bp as documents_bp
    from sites.errors import init_errors
    from sites.feeds import bp as feeds_bp
    from sites.groups import bp as groups_bp
    from sites.iati_files import bp as iati_files_bp
    from sites.main import bp as main_bp
    from sites.news import bp as news_bp
    from sites.pages import bp as pages_bp

    for blueprint in (main_bp, pages_bp, groups_bp, news_bp, documents_bp, feeds_bp,
                      auth_bp, admin_bp, i18n.bp, activities_bp, iati_files_bp, activity_map_bp):
        app.register_blueprint(blueprint)
    init_errors(app)
