"""Shared fixtures: the app on SQLite or PostgreSQL (`--db`), clients and users."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from sqlalchemy import create_engine, text

from tests.support import postgres

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PASSWORD = "correct horse battery staple"
TRANSLATIONS = REPO / "sites" / "translations"


def _stale_catalogs() -> list[Path]:
    """The .po files whose compiled .mo is missing or older."""
    stale = []
    for po in sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            stale.append(po)
    return stale


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogs() -> Iterator[None]:
    """Compile the catalogs when their .mo is missing or stale (the .mo files are not in git).

    Same result as `make translations`; written atomically so parallel workers do not clash.
    """
    stale = _stale_catalogs()
    for po in stale:
        with open(po, "rb") as source:
            catalog = read_po(source)
        fd, tmp = tempfile.mkstemp(dir=po.parent, suffix=".mo.tmp")
        with os.fdopen(fd, "wb") as target:
            write_mo(target, catalog, use_fuzzy=True)
        os.replace(tmp, po.with_suffix(".mo"))
    if stale:
        # Flask-Babel caches loaded catalogs on the shared Babel object: forget the old ones.
        from sites.extensions import babel
        domain = vars(babel).get("domain_instance")  # a cached_property: set once loaded
        if domain is not None:
            domain.cache.clear()
    yield


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--db", choices=["sqlite", "postgresql"], default="sqlite",
                     help="database backend the app fixtures use")


@pytest.fixture(scope="session")
def db_backend(request: pytest.FixtureRequest) -> str:
    """'sqlite' or 'postgresql', from --db."""
    return request.config.getoption("--db")


@pytest.fixture(scope="session")
def pg_cluster(db_backend: str) -> Iterator[postgres.PostgresCluster | None]:
    """A PostgreSQL cluster for this test session (only with --db=postgresql)."""
    if db_backend != "postgresql":
        yield None
        return
    reason = postgres.available()
    if reason:
        pytest.fail(f"--db=postgresql asked, but {reason}")
    cluster = postgres.start_cluster()
    yield cluster
    cluster.stop()


def _migrate(url: str, instance: Path) -> None:
    from sites import create_app
    from sites.extensions import db
    from sites.inventory_sync import sync_groups
    from sites.migrate import upgrade

    app = create_app({"SQLALCHEMY_DATABASE_URI": url}, instance_path=str(instance))
    upgrade(app)
    with app.app_context():
        sync_groups(app.extensions["ptfops.inventory"])
        db.engine.dispose()


@pytest.fixture(scope="session")
def template_db(db_backend: str, pg_cluster, tmp_path_factory) -> str:
    """A migrated, inventory-synced database that each test's database is copied from."""
    instance = tmp_path_factory.mktemp("template-instance")
    if pg_cluster is None:
        path = tmp_path_factory.mktemp("template") / "template.sqlite3"
        _migrate(f"sqlite:///{path}", instance)
        return str(path)
    admin = create_engine(pg_cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE ptfops_template"))
    admin.dispose()
    _migrate(pg_cluster.url("ptfops_template"), instance)
    return "ptfops_template"


@pytest.fixture
def database_url(db_backend: str, pg_cluster, template_db: str, tmp_path: Path) -> Iterator[str]:
    """A fresh database for one test, copied from the template."""
    if pg_cluster is None:
        target = tmp_path / "test.sqlite3"
        shutil.copyfile(template_db, target)
        yield f"sqlite:///{target}"
        return
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE {template_db}'))
    yield pg_cluster.url(name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def app(database_url: str, tmp_path: Path, request: pytest.FixtureRequest):
    """The portal on a fresh database, with its own instance and upload folders.

    CSRF checks are off unless the test is marked `@pytest.mark.csrf`.
    """
    from sites import create_app
    from sites.extensions import db

    instance = tmp_path / "instance"
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "RATELIMIT_ENABLED": request.node.get_closest_marker("ratelimit") is not None,
        "WTF_CSRF_ENABLED": request.node.get_closest_marker("csrf") is not None,
        "SERVER_NAME": "portail.test",
    }, instance_path=str(instance))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    """A test client of the portal."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner bound to the app."""
    return app.test_cli_runner()


@dataclass
class Account:
    """A user created for a test, with its plain password."""

    id: int
    email: str
    password: str


@pytest.fixture
def make_user(app):
    """Create an account: make_user('focal', 'gt-sante') or make_user('admin')."""
    from sites.accounts import create_user
    from sites.extensions import db

    def make(role: str, group: str | None = None, email: str | None = None) -> Account:
        email = email or f"{role}-{group or 'all'}-{uuid.uuid4().hex[:6]}@example.org"
        with app.app_context():
            user, _ = create_user(email, f"{role.title()} {group or ''}".strip(), role, group,
                                  password=PASSWORD, actor="test")
            db.session.commit()
            return Account(user.id, email, PASSWORD)

    return make


class AuthActions:
    """Log a test client in and out through the real login form."""

    def __init__(self, client) -> None:
        self.client = client

    def login(self, account: Account) -> None:
        """Sign in as `account` (asserts the login worked)."""
        response = self.client.post("/connexion", data={
            "email": account.email, "password": account.password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]

    def logout(self) -> None:
        """Sign out."""
        self.client.post("/deconnexion")


@pytest.fixture
def auth(client) -> AuthActions:
    """Login helper for `client`."""
    return AuthActions(client)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB tmpfs, unmounted afterwards."""
    mountpoint = tmp_path / "tiny-disk"
    mountpoint.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (mount -t tmpfs is not permitted here)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs",
                           str(mountpoint)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        if re.search(r"permission denied|not permitted|only root", done.stderr, re.I):
            pytest.skip(f"mount -t tmpfs is not permitted here: {done.stderr.strip()}")
        pytest.fail(f"mount -t tmpfs failed: {done.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)
