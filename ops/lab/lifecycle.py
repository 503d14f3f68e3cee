"""Bring the lab up, report on it, tear it down: the steps in order, and nothing left behind."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ops.lab import aptproxy, host, image, inventory, network
from ops.lab.state import HostState, LabPaths, LabState, load, locked, save
from ops.lab.system import (
    LabError,
    cmdline,
    find_processes,
    pid_alive,
    require_root,
    require_tools,
    run,
)

Say = Callable[[str], None]
UP_TOOLS = ("systemd-nspawn", "ip", "mount", "umount", "ssh", "ssh-keygen", "apt-cacher-ng",
            "tar", "zstd")
MAX_HOSTS = 20
INVENTORY_MARK = "ptfops lab up"


def up(paths: LabPaths, count: int, inventory_file: Path, say: Say) -> LabState:
    """Build and boot `count` hosts, start the apt proxy, write the inventory."""
    if not 1 <= count <= MAX_HOSTS:
        raise LabError(f"--hosts must be between 1 and {MAX_HOSTS}")
    require_root()
    require_tools(UP_TOOLS)
    with locked(paths):
        if host.running(paths.state_dir):
            raise LabError("a lab is already up (`ptfops lab status`); "
                           "run `ptfops lab down` first")
        _teardown(paths, load(paths), say=lambda _: None)  # leftovers of a crashed lab
        network.check_free()
        previous_handler = signal.signal(signal.SIGTERM, _interrupted)
        try:
            return _build(paths, count, inventory_file, say)
        except BaseException:
            say("lab up failed: tearing down what was built")
            try:
                _teardown(paths, load(paths), say=lambda _: None)
            except LabError as cleanup:
                say(f"cleanup incomplete ({cleanup}): run `ptfops lab down`")
            raise
        finally:
            signal.signal(signal.SIGTERM, previous_handler)


def _interrupted(signum: int, frame: object) -> None:
    """SIGTERM during `up`: stop building and tear down what exists."""
    raise LabError("lab up interrupted (SIGTERM)")


def _build(paths: LabPaths, count: int, inventory_file: Path, say: Say) -> LabState:
    """The steps of `up`, saving the state after each so `down` can undo a partial lab."""
    started = time.monotonic()
    state = LabState(bridge=network.BRIDGE, gateway=network.GATEWAY, created=time.time(),
                     key_file=str(paths.key_file), proxy_url=aptproxy.url(network.GATEWAY))
    paths.key_file.parent.mkdir(parents=True, exist_ok=True)
    save(paths, state)
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ptfops-lab",
         "-f", paths.key_file])
    state.base = image.ensure_base(paths.base_dir, paths.root, say)
    image.customize(paths.base_dir, paths.key_file.with_suffix(".pub").read_text(),
                    state.proxy_url)

    network.create_bridge()
    save(paths, state)
    config = aptproxy.write_config(paths.proxy_dir, paths.apt_cache_dir, network.GATEWAY)
    state.proxy_pid = aptproxy.start(config.parent, network.GATEWAY)
    save(paths, state)
    say(f"apt proxy: {state.proxy_url} (apt-cacher-ng, PID {state.proxy_pid})")

    names = inventory.host_names(count)
    peers = [(name, network.host_ip(i)) for i, (name, _) in enumerate(names)]
    for (name, group), (_, ip) in zip(names, peers, strict=True):
        network.add_host(name, ip)
        host_dir = paths.host_dir(name)
        merged = host.mount_overlay(paths.base_dir, host_dir, name)
        record = HostState(name=name, group=group, ip=ip, netns=network.netns_name(name),
                           veth=network.veth_name(name), merged=str(merged))
        state.hosts.append(record)
        save(paths, state)
        host.personalize(merged, name, peers)
        record.pid = host.boot(merged, name, host_dir / "console.log")
        save(paths, state)
    for record in state.hosts:
        record.system_state = host.wait_ready(record.pid or 0, record.ip, paths.key_file,
                                              paths.host_dir(record.name) / "console.log")
        say(f"{record.name:8} {record.ip:12} {record.group:7} systemd {record.system_state}")
    state.inventory_file = str(inventory.write(
        inventory_file, [(h.name, h.group, h.ip) for h in state.hosts], paths.key_file))
    save(paths, state)
    say(f"inventory: {state.inventory_file}")
    say(f"ssh: ssh -i {paths.key_file} root@{state.hosts[0].ip}")
    say(f"lab up: {len(state.hosts)} host(s) in {time.monotonic() - started:.1f} s")
    return state


@dataclass
class HostReport:
    """What `status` found about one host."""

    name: str
    ip: str
    group: str
    process: bool
    ssh: bool
    system_state: str

    @property
    def healthy(self) -> bool:
        return self.process and self.ssh and self.system_state in ("running", "degraded")


def status(paths: LabPaths) -> tuple[LabState | None, list[HostReport], bool]:
    """The saved lab, a report per host, and whether the apt proxy answers."""
    require_root()
    state = load(paths)
    if state is None:
        return None, [], False
    reports = []
    for record in state.hosts:
        alive = bool(record.pid) and pid_alive(record.pid or 0)
        reachable = alive and host.port_open(record.ip)
        system_state = "-"
        if reachable:
            try:
                done = host.ssh(state.key_file, record.ip, "systemctl is-system-running",
                                timeout=10)
                system_state = done.stdout.strip() or "unknown"
            except subprocess.TimeoutExpired:  # a hung host is reported, not raised
                system_state = "no answer"
        reports.append(HostReport(record.name, record.ip, record.group, alive, reachable,
                                  system_state))
    return state, reports, aptproxy.is_up(state.proxy_pid, state.gateway)


def down(paths: LabPaths, say: Say) -> list[str]:
    """Stop and remove everything of the lab; safe to run twice or after a crash."""
    require_root()
    with locked(paths):
        return _teardown(paths, load(paths), say)


def _teardown(paths: LabPaths, state: LabState | None, say: Say) -> list[str]:
    """Hosts, proxy, mounts, links, state folder, inventory: each found even without state."""
    removed: list[str] = []
    pids = host.stop_all(paths.state_dir)
    if pids:
        removed.append(f"hosts stopped (nspawn PIDs {', '.join(map(str, pids))})")
    pids = aptproxy.stop_all(paths.state_dir)
    if pids:
        removed.append(f"apt proxy stopped (PID {', '.join(map(str, pids))})")
    mounts = host.unmount_all()
    removed += [f"unmounted {point}" for point in mounts]
    removed += [f"deleted {link}" for link in network.sweep()]
    if state and state.inventory_file:
        inv = Path(state.inventory_file)
        if inv.is_file() and INVENTORY_MARK in inv.read_text():
            inv.unlink()
            removed.append(f"removed {inv}")
    if paths.state_dir.exists():
        if any(p.startswith(str(paths.state_dir)) for p in _mount_points()):
            raise LabError(f"something is still mounted under {paths.state_dir}: "
                           "unmount it, then run `ptfops lab down` again")
        shutil.rmtree(paths.state_dir)
        removed.append(f"removed {paths.state_dir}")
    for line in removed:
        say(line)
    left = leftovers(paths)
    if left:
        raise LabError("could not remove: " + "; ".join(left))
    return removed


def _mount_points() -> list[str]:
    """Every mount point of this mount namespace."""
    with open("/proc/self/mountinfo") as handle:
        return [line.split()[4] for line in handle]


def leftovers(paths: LabPaths) -> list[str]:
    """Whatever of a lab still exists on the machine (empty after a clean `down`)."""
    marks = (str(paths.state_dir), f"{network.NETNS_DIR}/{network.PREFIX}-")
    pids = find_processes(lambda argv: Path(argv[0]).name in ("systemd-nspawn", "apt-cacher-ng")
                          and any(mark in arg for arg in argv for mark in marks))
    found = [f"process {pid} ({' '.join(cmdline(pid))[:60]})" for pid in pids]
    found += [f"mount {point}" for point in host.lab_mounts()]
    found += network.leftovers()
    if paths.state_dir.exists():
        found.append(str(paths.state_dir))
    return found
