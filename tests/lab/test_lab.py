"""The lab for real: two booted Debian 12 hosts (systemd-nspawn), built once for this module.

Root only; runs in the SQLite pytest run (the PostgreSQL run passes `-m "not lab"`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ops.lab import host as lab_host
from ops.lab import lifecycle, network
from ops.lab.image import cache_file
from ops.lab.state import HostState, LabPaths, LabState, cache_dir, load, save

REPO = Path(__file__).resolve().parents[2]
PTFOPS = Path(sys.executable).with_name("ptfops")
ANSIBLE = Path(sys.executable).with_name("ansible")

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0,
                       reason="the lab needs root (network namespaces, mounts, systemd-nspawn)"),
]


def ptfops(*args: str, timeout: float = 600, env: dict | None = None
           ) -> subprocess.CompletedProcess[str]:
    """Run the real `ptfops` command line."""
    return subprocess.run([str(PTFOPS), *args], capture_output=True, text=True, timeout=timeout,
                          cwd=REPO, env=env, stdin=subprocess.DEVNULL, check=False)


@dataclass
class Lab:
    """The lab under test: its folders and its saved state."""

    paths: LabPaths
    state: LabState

    def ssh(self, name: str, command: str, timeout: float = 120
            ) -> subprocess.CompletedProcess[str]:
        """Run a command as root on a host, with the lab's key."""
        ip = next(h.ip for h in self.state.hosts if h.name == name)
        return lab_host.ssh(self.state.key_file, ip, command, timeout=timeout)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    """`ptfops lab up --hosts 2` once for the module, `ptfops lab down` at the end."""
    paths = LabPaths(cache_dir())
    started = time.monotonic()
    done = ptfops("lab", "up", "--hosts", "2")
    if done.returncode != 0:  # a failed `up` cleans up itself; a lab already up is not ours
        pytest.fail(f"lab up failed:\n{done.stdout}\n{done.stderr}")
    try:
        state = load(paths)
        assert state is not None
        print(f"\nlab up --hosts 2: {time.monotonic() - started:.1f} s\n{done.stdout}")
        yield Lab(paths, state)
    finally:
        ptfops("lab", "down")


def test_status_calls_a_lab_left_by_a_crash_or_a_reboot_stale(tmp_path: Path) -> None:
    """Saved state with nothing running (a CI snapshot, a reboot) must not look like a live lab."""
    paths = LabPaths(tmp_path / "cache")
    save(paths, LabState(hosts=[HostState("web1", "web", "10.250.1.11", "ptflab-web1",
                                          "ptflab-web1", "/nonexistent", pid=None)],
                         gateway="10.250.1.1", proxy_url="http://10.250.1.1:3142",
                         key_file=str(paths.key_file)))
    done = ptfops("lab", "status", env={**os.environ, "PTFOPS_LAB_CACHE": str(paths.root)})
    assert done.returncode == 1
    assert "web1" in done.stdout and " stopped " in done.stdout and " booted " not in done.stdout
    assert "stale" in done.stdout and "`ptfops lab up` replaces it" in done.stdout


@pytest.mark.parametrize("command", ["up", "status", "down"])
def test_lab_commands_refuse_to_run_without_root(command: str) -> None:
    code = ("import os, sys; from ops.cli import main; os.seteuid(65534); "
            f"main(['lab', '{command}'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=REPO, check=False)
    assert done.returncode == 2
    assert "the lab needs root" in done.stderr


def test_lab_up_builds_web1_and_backup1_with_their_own_addresses(lab: Lab) -> None:
    assert [(h.name, h.group, h.ip) for h in lab.state.hosts] == [
        ("web1", "web", "10.250.1.11"), ("backup1", "backup", "10.250.1.12")]


def test_each_host_answers_ssh_as_root_with_the_lab_key(lab: Lab) -> None:
    for record in lab.state.hosts:
        done = lab.ssh(record.name, "id -un")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "root"


def test_a_host_refuses_ssh_without_the_lab_key(lab: Lab, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    done = subprocess.run(lab_host.ssh_argv(other, lab.state.hosts[0].ip, "true"),
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 255
    assert "Permission denied" in done.stderr


def test_each_host_runs_systemd_as_pid_1_and_finished_booting(lab: Lab) -> None:
    for record in lab.state.hosts:
        done = lab.ssh(record.name, "cat /proc/1/comm; systemctl is-system-running")
        pid1, system_state = done.stdout.split()
        assert pid1 == "systemd"
        assert system_state in ("running", "degraded"), record.name


def test_hosts_have_distinct_names_and_addresses_and_reach_each_other(lab: Lab) -> None:
    names, addresses = [], []
    for record in lab.state.hosts:
        done = lab.ssh(record.name, "hostname; ip -4 -o addr show dev eth0")
        hostname, address_line = done.stdout.splitlines()
        names.append(hostname)
        addresses.append(address_line.split()[3])
    assert names == ["web1", "backup1"]
    assert addresses == ["10.250.1.11/24", "10.250.1.12/24"]
    probe = ("python3 -c \"import socket; "
             "socket.create_connection(('{peer}', 22), timeout=5).close(); print('ok')\"")
    assert lab.ssh("web1", probe.format(peer="backup1")).stdout.strip() == "ok"
    assert lab.ssh("backup1", probe.format(peer="web1")).stdout.strip() == "ok"


def test_hosts_have_no_route_out_of_the_lab_and_no_dns(lab: Lab) -> None:
    done = lab.ssh("web1", "ip -4 route; getent hosts deb.debian.org || echo unresolved")
    routes = [line.strip() for line in done.stdout.splitlines() if line != "unresolved"]
    assert routes == ["10.250.1.0/24 dev eth0 proto kernel scope link src 10.250.1.11"]
    assert done.stdout.strip().endswith("unresolved")


def test_apt_get_update_works_inside_a_host_through_the_proxy(lab: Lab) -> None:
    log = lab.paths.proxy_dir / "log" / "apt-cacher.log"
    done = lab.ssh("backup1", "apt-get -o APT::Update::Error-Mode=any update", timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "bookworm InRelease" in done.stdout
    deadline = time.monotonic() + 10
    while "|10.250.1.12|deb.debian.org/" not in log.read_text():
        assert time.monotonic() < deadline, "the proxy logged no request from backup1"
        time.sleep(0.2)


def test_inventory_lists_the_groups_with_the_hosts_and_the_lab_key(lab: Lab) -> None:
    path = REPO / "inventory" / "lab" / "hosts.yml"
    data = yaml.safe_load(path.read_text())["all"]
    children = data["children"]
    assert children["web"]["hosts"] == {"web1": {"ansible_host": "10.250.1.11"}}
    assert children["backup"]["hosts"] == {"backup1": {"ansible_host": "10.250.1.12"}}
    assert "monitoring" in children and not children["monitoring"].get("hosts")
    assert data["vars"]["ansible_user"] == "root"
    assert "StrictHostKeyChecking=no" in data["vars"]["ansible_ssh_common_args"]
    key = Path(data["vars"]["ansible_ssh_private_key_file"])
    assert key.stat().st_mode & 0o077 == 0
    assert not key.is_relative_to(REPO), "the lab key must never sit in the repository"


def test_ansible_pings_every_host_of_the_inventory(lab: Lab) -> None:
    if not ANSIBLE.exists():
        pytest.skip("ansible is not installed (pip install -e '.[test]')")
    done = subprocess.run([str(ANSIBLE), "-i", "inventory/lab/hosts.yml", "all", "-m", "ping"],
                          capture_output=True, text=True, timeout=180, cwd=REPO, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count('"ping": "pong"') == 2


def test_lab_status_reports_every_host_booted_and_the_proxy_up(lab: Lab) -> None:
    done = ptfops("lab", "status")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:2] == ["web1", "10.250.1.11"] and "systemd" in lines[0]
    assert lines[1].split()[:2] == ["backup1", "10.250.1.12"]
    assert "apt proxy http://10.250.1.1:3142: up" in done.stdout


def test_a_second_lab_up_refuses_while_the_lab_runs(lab: Lab) -> None:
    done = ptfops("lab", "up", "--hosts", "2")
    assert done.returncode == 2
    assert "already up" in done.stderr
    assert ptfops("lab", "status").returncode == 0


def test_lab_up_names_the_debian_packages_of_missing_commands(lab: Lab, tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}
    done = ptfops("lab", "up", env=env)
    assert done.returncode == 2
    assert "systemd-nspawn" in done.stderr and "apt-get install" in done.stderr
    assert "systemd-container" in done.stderr


def test_lab_up_caches_the_base_image_outside_the_repository(lab: Lab) -> None:
    archive = cache_file(lab.paths.root)
    assert archive.is_file() and archive.stat().st_size > 50_000_000
    assert not archive.is_relative_to(REPO)


def test_lab_down_leaves_nothing_behind_and_can_run_twice(lab: Lab) -> None:
    inventory_file = REPO / "inventory" / "lab" / "hosts.yml"
    done = ptfops("lab", "down")
    assert done.returncode == 0, done.stderr
    processes = [argv for argv in map(_argv, _pids())
                 if argv and (Path(argv[0]).name == "systemd-nspawn"
                              or str(lab.paths.state_dir) in " ".join(argv))]
    assert processes == []
    assert "ptflab-" not in Path("/proc/self/mountinfo").read_text()
    assert not any(p.name.startswith("ptflab") for p in _netns())
    assert network.leftovers() == []
    assert lifecycle.leftovers(lab.paths) == []
    assert not lab.paths.state_dir.exists()
    assert not inventory_file.exists()
    assert ptfops("lab", "status").returncode == 1
    again = ptfops("lab", "down")
    assert again.returncode == 0 and "no lab to tear down" in again.stdout


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _argv(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _netns() -> list[Path]:
    root = Path("/run/netns")
    return list(root.iterdir()) if root.is_dir() else []
