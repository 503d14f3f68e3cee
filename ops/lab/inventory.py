"""The Ansible inventory of the lab: `inventory/lab/hosts.yml`, groups as in production."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from ops.inventory import default_inventory_dir

GROUPS = ("web", "backup", "monitoring")
# Lab hosts are rebuilt with new host keys each time: never prompt, never remember them.
SSH_COMMON_ARGS = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"


def default_path() -> Path:
    """`inventory/lab/hosts.yml` in the inventory folder ($PTFOPS_INVENTORY or ./inventory)."""
    return default_inventory_dir() / "lab" / "hosts.yml"


def host_names(count: int) -> list[tuple[str, str]]:
    """(name, group) of each host: one backup host, the others web (web1 alone for 1)."""
    if count == 1:
        return [("web1", "web")]
    return [(f"web{i}", "web") for i in range(1, count)] + [("backup1", "backup")]


def render(hosts: Sequence[tuple[str, str, str]], key_file: Path) -> str:
    """The YAML inventory for hosts given as (name, group, ip)."""
    children: dict[str, dict] = {}
    for group in GROUPS:
        members = {name: {"ansible_host": ip} for name, grp, ip in hosts if grp == group}
        children[group] = {"hosts": members} if members else {}
    data = {"all": {
        "vars": {
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(key_file),
            "ansible_ssh_common_args": SSH_COMMON_ARGS,
            "ansible_python_interpreter": "/usr/bin/python3",
        },
        "children": children,
    }}
    header = ("# Written by `ptfops lab up` for the disposable lab; removed by `ptfops lab down`.\n"
              "# Do not edit: the next `lab up` rewrites it.\n")
    return header + yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def write(path: Path, hosts: Sequence[tuple[str, str, str]], key_file: Path) -> Path:
    """Write the inventory file (creating inventory/lab/) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(hosts, key_file))
    return path
