"""`ptfops lab up|status|down`: the disposable lab of Debian 12 hosts."""

from __future__ import annotations

from pathlib import Path

import click

from ops.lab import inventory, lifecycle
from ops.lab.state import LabPaths, cache_dir
from ops.lab.system import LabError


def _paths() -> LabPaths:
    return LabPaths(cache_dir())


def _say(line: str) -> None:
    click.echo(line)


def _fail(exc: LabError) -> SystemExit:
    click.echo(f"error: {exc}", err=True)
    return SystemExit(2)


@click.group()
def lab() -> None:
    """A lab of Debian 12 hosts (systemd-nspawn) to rehearse Ansible runs on."""


@lab.command("up")
@click.option("--hosts", "count", default=3, show_default=True, type=int,
              help="Number of hosts: one backup host, the others web hosts.")
@click.option("--inventory", "inventory_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Inventory to write (default: inventory/lab/hosts.yml).")
def lab_up(count: int, inventory_file: Path | None) -> None:
    """Build and boot the hosts, start their apt proxy, write the Ansible inventory."""
    try:
        lifecycle.up(_paths(), count, inventory_file or inventory.default_path(), _say)
    except LabError as exc:
        raise _fail(exc) from exc


@lab.command("status")
def lab_status() -> None:
    """Show each host and the apt proxy; exit 1 unless everything is up."""
    try:
        state, reports, proxy_up = lifecycle.status(_paths())
    except LabError as exc:
        raise _fail(exc) from exc
    if state is None:
        click.echo("no lab (start one with `ptfops lab up`)")
        raise SystemExit(1)
    for r in reports:
        click.echo(f"{r.name:8} {r.ip:12} {r.group:7} "
                   f"{'booted' if r.process else 'stopped':8} "
                   f"ssh {'up' if r.ssh else 'down':5} systemd {r.system_state}")
    click.echo(f"apt proxy {state.proxy_url}: {'up' if proxy_up else 'down'}")
    click.echo(f"inventory: {state.inventory_file or '(not written)'}")
    click.echo(f"key: {state.key_file}")
    if not proxy_up and not any(r.process for r in reports):
        click.echo("stale: nothing of this lab runs (an interrupted run or a reboot); "
                   "`ptfops lab up` replaces it, `ptfops lab down` clears it")
    if not (proxy_up and reports and all(r.healthy for r in reports)):
        raise SystemExit(1)


@lab.command("down")
def lab_down() -> None:
    """Stop the hosts and the proxy; remove mounts, namespaces, links and the lab's files."""
    try:
        removed = lifecycle.down(_paths(), _say)
    except LabError as exc:
        raise _fail(exc) from exc
    click.echo("lab down" if removed else "no lab to tear down")
