"""`ptfops users enable` and `users reset-password` on a real database."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from ops.cli import main


@pytest.fixture
def cli_env(database_url: str, tmp_path) -> dict[str, str]:
    """Environment pointing the CLI at the test database."""
    return {"PTFOPS_INSTANCE": str(tmp_path / "instance"), "DATABASE_URL": database_url}


def test_reset_password_prints_a_new_password_that_signs_in(app, client, auth, make_user,
                                                             cli_env):
    account = make_user("focal", "gt-sante")
    result = CliRunner().invoke(main, ["users", "reset-password", account.email], env=cli_env)
    assert result.exit_code == 0, result.output
    new_password = result.output.split("password: ")[-1].strip()
    assert client.post("/connexion", data={"email": account.email,
                                           "password": account.password}).status_code == 200
    assert client.post("/connexion", data={"email": account.email,
                                           "password": new_password}).status_code == 302


def test_reset_password_of_an_unknown_account_fails_cleanly(cli_env):
    result = CliRunner().invoke(main, ["users", "reset-password", "nobody@example.org"],
                                env=cli_env)
    assert result.exit_code == 1 and "no account" in result.output


def test_enable_brings_back_a_disabled_account(client, make_user, cli_env):
    account = make_user("member", "gt-sante")
    runner = CliRunner()
    assert runner.invoke(main, ["users", "disable", account.email], env=cli_env).exit_code == 0
    login = {"email": account.email, "password": account.password}
    assert client.post("/connexion", data=login).status_code == 200  # refused: form again
    assert runner.invoke(main, ["users", "enable", account.email], env=cli_env).exit_code == 0
    assert client.post("/connexion", data=login).status_code == 302
