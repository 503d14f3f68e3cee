"""The `ptfops` command line, on an empty database of each backend."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text

from ops.cli import main
from tests.conftest import REPO

EXPECTED_PLATFORMS = 18  # 13 GTs and 5 SGTs in inventory/groups.yml


@dataclass
class Cli:
    """Runs `ptfops` against one instance folder and one database."""

    instance: Path
    database_url: str
    env: dict[str, str | None]

    def __call__(self, *args: str, input: str | None = None,
                 env: dict[str, str | None] | None = None) -> Result:
        """Invoke the CLI like a shell would."""
        return CliRunner().invoke(main, list(args), input=input, env={**self.env, **(env or {})},
                                  catch_exceptions=False)

    def app(self):
        """The portal on the same database, for checks through the web."""
        from sites import create_app

        return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": self.database_url,
                           "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False},
                          instance_path=str(self.instance))


@pytest.fixture
def cli(tmp_path: Path, pg_cluster, template_db: str) -> Iterator[Cli]:
    """`ptfops` on a new, empty database (SQLite in the instance folder, or PostgreSQL).

    `template_db` is asked for so that the app's log handler is set up outside the runner.
    """
    instance = tmp_path / "instance"
    env: dict[str, str | None] = {"PTFOPS_INSTANCE": str(instance), "PTFOPS_INVENTORY": None,
                                  "PTFOPS_UPLOAD_DIR": None, "SECRET_KEY": None}
    if pg_cluster is None:
        env["DATABASE_URL"] = None  # the default: SQLite in the instance folder
        yield Cli(instance, f"sqlite:///{instance / 'ptfops.sqlite3'}", env)
        return
    name = f"cli_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    env["DATABASE_URL"] = pg_cluster.url(name)
    yield Cli(instance, pg_cluster.url(name), env)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def upgraded(cli: Cli) -> Cli:
    """`ptfops` on a migrated database with every platform."""
    assert cli("db", "upgrade").exit_code == 0
    return cli


def _broken_inventory(tmp_path: Path) -> tuple[Path, int]:
    source = (REPO / "inventory" / "groups.yml").read_text("utf-8")
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "groups.yml").write_text(source.replace("    parent: gt-education\n",
                                                      "    parent: gt-inconnu\n"))
    line = source.splitlines().index("    parent: gt-education") + 1
    return folder, line


def test_db_upgrade_creates_every_platform_once(cli):
    first = cli("db", "upgrade")
    assert first.exit_code == 0, first.output
    created = re.search(r"^platforms created: (.+)$", first.stdout, re.M)
    assert created, first.stdout
    slugs = created[1].split(", ")
    assert len(slugs) == EXPECTED_PLATFORMS and "gt-sante" in slugs and "sgt-nutrition" in slugs
    again = cli("db", "upgrade")
    assert again.exit_code == 0
    assert again.stdout.strip() == "database schema up to date"


def test_db_upgrade_refuses_to_start_on_a_broken_inventory(cli, tmp_path):
    folder, line = _broken_inventory(tmp_path)
    result = cli("db", "upgrade", env={"PTFOPS_INVENTORY": str(folder)})
    assert result.exit_code == 2
    assert f"{folder / 'groups.yml'}:{line}: " in result.stderr
    assert "gt-inconnu" in result.stderr


def test_seed_demo_prints_a_password_once_that_signs_in(upgraded):
    first = upgraded("seed-demo")
    assert first.exit_code == 0, first.output
    found = re.search(r"administrator: (\S+)  password: (\S+)", first.stdout)
    assert found, first.stdout
    email, password = found[1], found[2]
    assert email == "admin@ptf-mali.local" and len(password) >= 16
    again = upgraded("seed-demo")
    assert again.exit_code == 0
    assert "already present" in again.stdout and password not in again.output

    from sites.extensions import db

    app = upgraded.app()
    try:
        client = app.test_client()
        response = client.post("/connexion", data={"email": email, "password": password})
        assert response.status_code == 302 and response.headers["Location"].endswith("/admin/")
        assert client.get("/admin/utilisateurs").status_code == 200
        public = app.test_client()
        news = public.get("/groupes/gt-sante/actualites").get_data(as_text=True)
        assert news.count("– GT Santé</a>") == 3
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_two_fresh_instances_get_different_admin_passwords(cli, tmp_path):
    passwords = []
    for run in ("a", "b"):  # two SQLite instances, whatever the backend under test
        env: dict[str, str | None] = {"PTFOPS_INSTANCE": str(tmp_path / run),
                                      "DATABASE_URL": None}
        assert cli("db", "upgrade", env=env).exit_code == 0
        result = cli("seed-demo", env=env)
        passwords.append(re.search(r"password: (\S+)", result.stdout)[1])
    assert passwords[0] != passwords[1]


@pytest.mark.parametrize(("role", "group", "listed"), [
    ("admin", None, "admin\t-\tactive"),
    ("focal", "gt-sante", "focal\tgt-sante:focal\tactive"),
    ("member", "sgt-nutrition", "member\tsgt-nutrition:member\tactive"),
])
def test_users_add_creates_each_role_with_a_printed_password(upgraded, role, group, listed):
    args = ["users", "add", "Fatou.Diarra@Example.org", "--name", "Fatou Diarra",
            "--role", role] + (["--group", group] if group else [])
    result = upgraded(*args)
    assert result.exit_code == 0, result.output
    assert f"created fatou.diarra@example.org ({role})" in result.stdout
    password = re.search(r"^password: (\S+)$", result.stdout, re.M)[1]
    listing = upgraded("users", "list")
    assert listing.exit_code == 0
    assert f"fatou.diarra@example.org\t{listed}" in listing.stdout.splitlines()
    assert password not in listing.output

    from sites.extensions import db

    app = upgraded.app()
    try:
        client = app.test_client()
        response = client.post("/connexion", data={"email": "fatou.diarra@example.org",
                                                   "password": password})
        assert response.status_code == 302
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.mark.parametrize(("group", "fragment"), [
    (None, None),
    ("gt-inconnu", "gt-inconnu"),
], ids=["missing-group", "unknown-group"])
def test_users_add_refuses_a_missing_or_unknown_group(upgraded, group, fragment):
    args = ["--group", group] if group else []
    result = upgraded("users", "add", "awa@example.org", "--name", "Awa", "--role", "focal",
                      *args)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and (fragment or "") in result.stderr
    assert "awa@example.org" not in upgraded("users", "list").stdout


@pytest.mark.parametrize("email", ["pas-une-adresse", "a b@example.org", "awa@example"])
def test_users_add_refuses_a_bad_email(upgraded, email):
    result = upgraded("users", "add", email, "--name", "Awa", "--role", "admin")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert upgraded("users", "list").stdout == ""


def test_users_add_refuses_an_email_already_used(upgraded):
    assert upgraded("users", "add", "awa@example.org", "--name", "Awa",
                    "--role", "admin").exit_code == 0
    again = upgraded("users", "add", "AWA@example.org", "--name", "Awa bis", "--role", "admin")
    assert again.exit_code == 1 and "awa@example.org" in again.stderr
    assert len(upgraded("users", "list").stdout.splitlines()) == 1


def test_users_add_reads_the_password_from_stdin(upgraded):
    result = upgraded("users", "add", "awa@example.org", "--name", "Awa", "--role", "focal",
                      "--group", "gt-sante", "--password-stdin",
                      input="un mot de passe assez long\n")
    assert result.exit_code == 0, result.output
    assert "password" not in result.stdout.replace("created", "")
    short = upgraded("users", "add", "moussa@example.org", "--name", "Moussa", "--role",
                     "admin", "--password-stdin", input="court\n")
    assert short.exit_code == 2
    assert upgraded("users", "list").stdout.count("@") == 1

    from sites.extensions import db

    app = upgraded.app()
    try:
        client = app.test_client()
        assert client.post("/connexion", data={
            "email": "awa@example.org",
            "password": "un mot de passe assez long"}).status_code == 302
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_users_list_shows_role_groups_and_state(upgraded):
    upgraded("users", "add", "b@example.org", "--name", "B", "--role", "member",
             "--group", "gt-sante")
    upgraded("users", "add", "a@example.org", "--name", "A", "--role", "admin")
    upgraded("users", "disable", "b@example.org")
    assert upgraded("users", "list").stdout.splitlines() == [
        "a@example.org\tadmin\t-\tactive",
        "b@example.org\tmember\tgt-sante:member\tdisabled",
    ]


def test_users_disable_blocks_login(upgraded):
    upgraded("users", "add", "awa@example.org", "--name", "Awa", "--role", "admin",
             "--password-stdin", input="un mot de passe assez long\n")
    result = upgraded("users", "disable", "AWA@example.org")
    assert result.exit_code == 0 and "disabled awa@example.org" in result.stdout
    unknown = upgraded("users", "disable", "personne@example.org")
    assert unknown.exit_code == 1 and "personne@example.org" in unknown.stderr

    from sites.extensions import db

    app = upgraded.app()
    try:
        response = app.test_client().post("/connexion", data={
            "email": "awa@example.org", "password": "un mot de passe assez long"})
        assert response.status_code == 200
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_inventory_check_passes_on_the_real_inventory(cli):
    result = cli("inventory", "check", "--dir", str(REPO / "inventory"))
    assert result.exit_code == 0
    assert result.stdout == "inventory OK\n" and result.stderr == ""
    assert cli("inventory", "check").stdout == "inventory OK\n"


def test_inventory_check_reports_file_and_line_on_a_broken_inventory(cli, tmp_path):
    folder, line = _broken_inventory(tmp_path)
    result = cli("inventory", "check", "--dir", str(folder))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (f"{folder / 'groups.yml'}:{line}: groups.6.parent: "
                             "unknown group 'gt-inconnu'\n")
