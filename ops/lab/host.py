"""One lab host: an overlay over the shared base, booted by systemd-nspawn."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from ops.lab.network import NETNS_DIR, PREFIX, netns_name
from ops.lab.system import LabError, find_processes, pid_alive, run, terminate_many

SSH_OPTIONS = ("-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
               "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes")


def mount_source(name: str) -> str:
    """The overlay's source name in the mount table, how `lab down` finds it after a crash."""
    return f"{PREFIX}-{name}"


def mount_overlay(base: Path, host_dir: Path, name: str) -> Path:
    """Mount a fresh writable overlay of `base` at host_dir/merged and return it."""
    merged = host_dir / "merged"
    for sub in ("upper", "work", "merged"):
        (host_dir / sub).mkdir(parents=True, exist_ok=True)
    run(["mount", "-t", "overlay", mount_source(name), "-o",
         f"lowerdir={base},upperdir={host_dir / 'upper'},workdir={host_dir / 'work'}", merged])
    return merged


def personalize(merged: Path, name: str, peers: Sequence[tuple[str, str]]) -> None:
    """Give the host its own name, machine id, SSH host keys and the lab's /etc/hosts."""
    (merged / "etc/hostname").write_text(f"{name}\n")
    (merged / "etc/machine-id").write_text(uuid.uuid4().hex + "\n")
    lines = ["127.0.0.1\tlocalhost", f"127.0.1.1\t{name}", "::1\tlocalhost ip6-localhost",
             "# lab hosts (ptfops lab)"]
    lines += [f"{ip}\t{peer}" for peer, ip in peers]
    (merged / "etc/hosts").write_text("\n".join(lines) + "\n")
    run(["ssh-keygen", "-A", "-f", merged])


def boot(merged: Path, name: str, console_log: Path) -> int:
    """Boot the host with systemd as PID 1 in its network namespace; return nspawn's PID."""
    netns = NETNS_DIR / netns_name(name)
    argv = ["systemd-nspawn", "-D", str(merged), "--boot", "--register=no", "--keep-unit",
            "-M", name, f"--hostname={name}", f"--network-namespace-path={netns}",
            # like a real server: its own resolv.conf (no DNS) and time zone, not the machine's
            "--resolv-conf=off", "--timezone=off",
            # its own firewall (nftables) in its own network namespace, as on a real server
            "--capability=CAP_NET_ADMIN"]
    with console_log.open("ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True)
    return proc.pid


def ssh_argv(key: Path | str, ip: str, command: str, timeout: int = 5) -> list[str]:
    """The ssh command line that runs `command` as root on a lab host with the lab's key."""
    return ["ssh", *SSH_OPTIONS, "-o", f"ConnectTimeout={timeout}", "-i", str(key),
            f"root@{ip}", command]


def ssh(key: Path | str, ip: str, command: str, timeout: float = 30
        ) -> subprocess.CompletedProcess[str]:
    """Run `command` on a lab host; returns the finished process (no check)."""
    return subprocess.run(ssh_argv(key, ip, command), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, check=False)


def port_open(ip: str, port: int = 22, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections at ip:port."""
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_ready(pid: int, ip: str, key: Path, console_log: Path, timeout: float = 120) -> str:
    """Wait for sshd, then for the end of boot; returns `running` or `degraded`."""
    deadline = time.monotonic() + timeout
    while not port_open(ip):
        if not pid_alive(pid):
            raise LabError(f"systemd-nspawn for {ip} exited during boot:\n{_tail(console_log)}")
        if time.monotonic() > deadline:
            raise LabError(f"sshd on {ip} did not answer within {timeout:.0f} s:\n"
                           f"{_tail(console_log)}")
        time.sleep(0.2)
    remaining = max(5.0, deadline - time.monotonic())
    try:
        done = ssh(key, ip, "systemctl is-system-running --wait", timeout=remaining)
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{ip} did not finish booting within {timeout:.0f} s") from exc
    state = done.stdout.strip()
    if state not in ("running", "degraded"):
        raise LabError(f"{ip} booted into state {state or done.stderr.strip()!r}")
    return state


def running(state_root: Path) -> list[int]:
    """PIDs of the lab's systemd-nspawn processes (root under `state_root`, or a lab netns)."""
    marks = (str(state_root), f"--network-namespace-path={NETNS_DIR}/{PREFIX}-")
    return find_processes(lambda argv: Path(argv[0]).name == "systemd-nspawn"
                          and any(arg.startswith(marks) for arg in argv))


def stop_all(state_root: Path) -> list[int]:
    """Shut every lab host down cleanly (SIGTERM to nspawn), killing those that hang."""
    pids = running(state_root)
    terminate_many(pids)
    return pids


def lab_mounts() -> list[str]:
    """Mount points of the lab (overlays, then the base's tmpfs), in unmounting order."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        sep = fields.index("-")
        fstype, source = fields[sep + 1], fields[sep + 2]
        if source.startswith(f"{PREFIX}-"):
            point = fields[4].encode().decode("unicode_escape")
            points.append((fstype != "overlay", -len(point), point))
    return [point for *_, point in sorted(points)]


def unmount_all() -> list[str]:
    """Unmount every mount of the lab (lazily if a straggler still holds one)."""
    points = lab_mounts()
    for point in points:
        if run(["umount", point], check=False).returncode != 0:
            run(["umount", "--lazy", point])
    return points


def _tail(path: Path, lines: int = 15) -> str:
    """The last lines of a console log, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no console log)"
