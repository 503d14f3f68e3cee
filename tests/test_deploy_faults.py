"""Faults of a deployment that need no lab, with the real ansible-playbook and the real roles.

A missing or wrong vault password, a required role variable left out (meta/argument_specs.yml)
and an unreachable host must each stop `ptfops deploy` and plain `ansible-playbook` with a
message naming what to fix. No host is ever touched: every inventory here points at 127.0.0.1
on a closed port, facts are not gathered where the check comes first, and nothing runs locally.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PLAYBOOKS = REPO / "playbooks"
PRODUCTION = REPO / "inventory" / "production" / "hosts.yml"
VAULT = REPO / "inventory" / "production" / "group_vars" / "all" / "vault.yml"


@pytest.fixture
def closed_port() -> int:
    """A port of 127.0.0.1 nothing listens on (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment(**more: str) -> dict[str, str]:
    """This process's environment without any vault password, plus `more`."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"ANSIBLE_VAULT_PASSWORD_FILE", "ANSIBLE_VAULT_IDENTITY_LIST"}}
    return env | {"ANSIBLE_CONFIG": str(PLAYBOOKS / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"} | more


def ptfops_deploy(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`ptfops deploy ARGS` (no terminal: a vault password cannot be asked for)."""
    return subprocess.run([str(BIN / "ptfops"), "deploy", *args], capture_output=True,
                          text=True, timeout=120, cwd=REPO, stdin=subprocess.DEVNULL,
                          env=environment(**env), check=False)


def ansible_playbook(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Plain `ansible-playbook ARGS` from playbooks/, as docs/deployment.md shows it."""
    return subprocess.run([str(BIN / "ansible-playbook"), *args], capture_output=True,
                          text=True, timeout=120, cwd=PLAYBOOKS, stdin=subprocess.DEVNULL,
                          env=environment(**env), check=False)


def one_web_host(tmp_path: Path, port: int) -> Path:
    """An inventory of one web host at 127.0.0.1 on a closed port (any SSH attempt fails)."""
    hosts = tmp_path / "hosts.yml"
    hosts.write_text(yaml.safe_dump({"all": {"children": {
        "web": {"hosts": {"ghost1": {"ansible_host": "127.0.0.1", "ansible_port": port,
                                     "ansible_user": "nobody"}}},
        "backup": {}}}}))
    return hosts


def no_task_ran(output: str) -> bool:
    """True when the run stopped before its first task (facts included)."""
    return "TASK [" not in output


def test_the_example_vault_is_encrypted() -> None:
    assert VAULT.read_text().startswith("$ANSIBLE_VAULT;1.1;AES256")


def test_ptfops_deploy_without_vault_password_stops_before_ansible_and_says_what_to_do() -> None:
    done = ptfops_deploy("--inventory", "production", "--playbook", "deploy", "--check")
    assert done.returncode == 1
    assert "ansible-playbook" not in done.stderr  # stopped before running it
    assert str(VAULT) in done.stderr
    assert "--vault-password-file FILE or set ANSIBLE_VAULT_PASSWORD_FILE" in done.stderr


def test_ptfops_deploy_with_a_wrong_vault_password_names_the_vault_and_the_fix(
        tmp_path: Path, closed_port: int) -> None:
    wrong = tmp_path / "vault-password"
    wrong.write_text("not the password\n")
    # The overrides send any connection to a closed local port, should the vault ever open.
    done = ptfops_deploy("--inventory", "production", "--playbook", "deploy", "--check",
                         "--vault-password-file", str(wrong), "-e", "ansible_host=127.0.0.1",
                         "-e", f"ansible_port={closed_port}")
    assert done.returncode != 0
    assert no_task_ran(done.stdout)
    assert "Decryption failed" in done.stdout  # ansible's own words, copied through
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: the vault password given does not open {VAULT}: use the right "
                      "one (--vault-password-file FILE or ANSIBLE_VAULT_PASSWORD_FILE; "
                      "docs/deployment.md, section 5)"]
    assert done.stderr.splitlines()[-1].startswith("deploy.yml on production: failed (")


def test_the_vault_password_from_the_environment_is_used(tmp_path: Path,
                                                         closed_port: int) -> None:
    wrong = tmp_path / "vault-password"
    wrong.write_text("not the password either\n")
    done = ptfops_deploy("--inventory", "production", "--playbook", "deploy", "--check",
                         "-e", "ansible_host=127.0.0.1", "-e", f"ansible_port={closed_port}",
                         ANSIBLE_VAULT_PASSWORD_FILE=str(wrong))
    assert done.returncode != 0
    assert no_task_ran(done.stdout)
    assert "error: the vault password given does not open" in done.stderr


@pytest.mark.parametrize(("password", "message"), [
    (False, "Attempting to decrypt but no vault secrets found"),
    (True, "Decryption failed"),
])
def test_plain_ansible_playbook_stops_on_the_vault_before_any_task(
        tmp_path: Path, closed_port: int, password: bool, message: str) -> None:
    wrong = tmp_path / "vault-password"
    wrong.write_text("wrong\n")
    args = ["--vault-password-file", str(wrong)] if password else []
    done = ansible_playbook("-i", str(PRODUCTION), *args, "--check", "-e",
                            "ansible_host=127.0.0.1", "-e", f"ansible_port={closed_port}",
                            "deploy.yml")
    assert done.returncode != 0
    assert message in done.stderr
    assert no_task_ran(done.stdout)


def test_a_missing_required_variable_is_named_before_anything_runs(tmp_path: Path,
                                                                   closed_port: int) -> None:
    hosts = one_web_host(tmp_path, closed_port)
    # No facts: the roles' argument check is the first task, run on this machine only.
    done = ptfops_deploy("--inventory", str(hosts), "--playbook", "deploy", "--check",
                         ANSIBLE_GATHERING="explicit")
    assert done.returncode == 2
    assert "UNREACHABLE" not in done.stdout  # the check needs no connection
    assert "missing required arguments: portal_secret_key" in done.stdout
    assert ("error: ghost1: role portal needs portal_secret_key (missing required arguments): "
            "set it in the inventory's group_vars or its vault "
            "(playbooks/roles/portal/README.md)") in done.stderr.splitlines()

    plain = ansible_playbook("-i", str(hosts), "--check", "deploy.yml",
                             ANSIBLE_GATHERING="explicit")
    assert plain.returncode == 2
    assert "missing required arguments: portal_secret_key" in plain.stderr


def test_a_required_variable_of_the_wrong_type_is_named(tmp_path: Path,
                                                        closed_port: int) -> None:
    hosts = one_web_host(tmp_path, closed_port)
    done = ptfops_deploy("--inventory", str(hosts), "--playbook", "deploy", "--check",
                         "-e", "portal_secret_key=x", "-e", "portal_port=eighty",
                         ANSIBLE_GATHERING="explicit")
    assert done.returncode == 2
    error = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(error) == 1
    assert error[0].startswith("error: ghost1: wrong settings for role portal: ")
    assert "argument 'portal_port' is of type str" in error[0]


def test_an_unreachable_host_is_named_with_the_reason(tmp_path: Path, closed_port: int) -> None:
    hosts = one_web_host(tmp_path, closed_port)
    done = ptfops_deploy("--inventory", str(hosts), "--playbook", "deploy",
                         "-e", "portal_secret_key=x")
    assert done.returncode == 4  # ansible-playbook's code for unreachable hosts
    assert "changed=0" in done.stdout and "unreachable=1" in done.stdout
    assert (f"error: ghost1 is unreachable: Failed to connect to the host via ssh: ssh: connect "
            f"to host 127.0.0.1 port {closed_port}: Connection refused") in done.stderr.splitlines()
    assert done.stderr.splitlines()[-1].startswith(f"deploy.yml on {hosts}: failed (4) in ")

    plain = ansible_playbook("-i", str(hosts), "-e", "portal_secret_key=x", "deploy.yml")
    assert plain.returncode == 4
    assert "fatal: [ghost1]: UNREACHABLE!" in plain.stdout + plain.stderr
    assert f"port {closed_port}: Connection refused" in plain.stderr
