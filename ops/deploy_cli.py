"""`ptfops deploy`: the common runs of the playbooks (ansible-playbook underneath)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import click

from ops.deploy_errors import explain, vault_files
from ops.inventory import default_inventory_dir

PLAYBOOKS = ("site", "hosting", "deploy", "rollback", "backup", "restore")
VAULT_SOURCES = ("ANSIBLE_VAULT_PASSWORD_FILE", "ANSIBLE_VAULT_IDENTITY_LIST")


def checkout() -> Path:
    """The project's folder (holding playbooks/ and inventory/)."""
    return Path(__file__).resolve().parents[1]


def ansible_playbook() -> str:
    """ansible-playbook of this virtual environment, else the one on PATH."""
    local = Path(sys.executable).with_name("ansible-playbook")
    if local.is_file():
        return str(local)
    found = shutil.which("ansible-playbook")
    if not found:
        raise click.ClickException("ansible-playbook not found: pip install -e '.[test]' "
                                   "(or the `ansible` package)")
    return found


def inventory_path(inventory: str) -> Path:
    """The hosts file (or folder) an --inventory value names."""
    if inventory == "lab":
        return default_inventory_dir() / "lab" / "hosts.yml"
    if inventory == "production":
        return default_inventory_dir() / "production" / "hosts.yml"
    return Path(inventory)


def inventory_args(inventory: str, vault_password_file: Path | None) -> list[str]:
    """-i (and, for the lab, its settings; for an inventory with a vault, the password)."""
    root = checkout()
    path = inventory_path(inventory)
    if inventory == "lab":
        if not path.is_file():
            raise click.ClickException(f"no lab inventory ({path}): run `ptfops lab up` first")
        return ["-i", str(path), "-e", f"@{root / 'playbooks' / 'vars' / 'lab.yml'}"]
    if not path.exists():
        raise click.ClickException(f"no inventory at {path}")
    args = ["-i", str(path)]
    if vault_password_file is not None:
        args += ["--vault-password-file", str(vault_password_file)]
    elif not any(os.environ.get(name) for name in VAULT_SOURCES) and vault_files(path):
        if not sys.stdin.isatty():
            encrypted = ", ".join(str(p) for p in vault_files(path))
            raise click.ClickException(
                f"the secrets of this inventory are vault-encrypted ({encrypted}): pass "
                "--vault-password-file FILE or set ANSIBLE_VAULT_PASSWORD_FILE "
                "(docs/deployment.md, section 5)")
        args.append("--ask-vault-pass")
    return args


def run_and_copy(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run a command, copying its output (stderr merged) to ours as it comes; code and output."""
    seen: list[str] = []
    with subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace") as process:
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            seen.append(line)
    return process.returncode, "".join(seen)


@click.command("deploy")
@click.option("--inventory", "inventory", default="lab", show_default=True,
              help="lab, production, or the path of another inventory.")
@click.option("--playbook", type=click.Choice(PLAYBOOKS), default="site", show_default=True,
              help="site: everything; deploy: a new release; rollback: the previous release; "
                   "backup: a backup now; restore: the latest backup.")
@click.option("--check", is_flag=True, help="Dry run: show what would change (--check --diff).")
@click.option("--limit", help="Only these hosts or groups (ansible --limit).")
@click.option("-e", "--extra-vars", "extra_vars", multiple=True,
              help="More variables, e.g. -e backup_restore_source=web1 (repeatable).")
@click.option("--vault-password-file", type=click.Path(exists=True, dir_okay=False,
                                                       path_type=Path),
              help="File holding the vault password (production).")
@click.option("-v", "--verbose", count=True, help="More output from ansible-playbook.")
def deploy(inventory: str, playbook: str, check: bool, limit: str | None,
           extra_vars: tuple[str, ...], vault_password_file: Path | None, verbose: int) -> None:
    """Run a playbook of playbooks/ on the lab or production (ansible-playbook underneath)."""
    root = checkout()
    argv = [ansible_playbook(), *inventory_args(inventory, vault_password_file)]
    if check:
        argv += ["--check", "--diff"]
    if limit:
        argv += ["--limit", limit]
    for value in extra_vars:
        argv += ["-e", value]
    if verbose:
        argv.append("-" + "v" * verbose)
    argv.append(str(root / "playbooks" / f"{playbook}.yml"))
    env = dict(os.environ, ANSIBLE_CONFIG=str(root / "playbooks" / "ansible.cfg"))
    if sys.stdout.isatty():  # ansible colours only a terminal; its output goes through us
        env.setdefault("ANSIBLE_FORCE_COLOR", "1")
    click.echo("$ " + " ".join(argv), err=True)
    started = time.monotonic()
    code, output = run_and_copy(argv, env, root / "playbooks")
    if code != 0:
        for reason in explain(output, vault_files(inventory_path(inventory))):
            click.echo(f"error: {reason}", err=True)
    click.echo(f"{playbook}.yml on {inventory}: {'ok' if code == 0 else f'failed ({code})'} "
               f"in {time.monotonic() - started:.0f} s", err=True)
    raise SystemExit(code)
