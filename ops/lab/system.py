"""Running host commands and finding processes, with errors that say what to do."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

# The Debian package that provides each command the lab runs.
TOOL_PACKAGES = {
    "debootstrap": "debootstrap",
    "systemd-nspawn": "systemd-container",
    "apt-cacher-ng": "apt-cacher-ng",
    "zstd": "zstd",
    "tar": "tar",
    "ip": "iproute2",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "mount": "mount",
    "umount": "mount",
}


class LabError(Exception):
    """The lab cannot do what was asked; the message says why and what to do."""


def require_root() -> None:
    """Stop unless running as root (namespaces, mounts and nspawn need it)."""
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, mounts, systemd-nspawn): "
                       "run it as root, e.g. with sudo")


def require_tools(names: Sequence[str]) -> None:
    """Stop when a command is missing, naming the Debian packages to install."""
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        packages = sorted({TOOL_PACKAGES.get(name, name) for name in missing})
        raise LabError(f"missing command(s): {', '.join(missing)}; install them with "
                       f"`apt-get install {' '.join(packages)}`")


def run(argv: Sequence[str | Path], *, check: bool = True, timeout: float = 120,
        input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command without a shell; on failure raise LabError with its stderr."""
    args = [str(a) for a in argv]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                              input=input_text, stdin=None if input_text else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"`{' '.join(args)}` did not finish in {timeout:.0f} s") from exc
    if check and done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise LabError(f"`{' '.join(args)}` failed (exit {done.returncode}): "
                       f"{detail[-1] if detail else 'no output'}")
    return done


def pid_alive(pid: int) -> bool:
    """True when the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def cmdline(pid: int) -> list[str]:
    """The argv of a process ([] when it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def find_processes(match: Callable[[list[str]], bool]) -> list[int]:
    """PIDs of the live processes whose argv satisfies `match`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            pid = int(entry.name)
            argv = cmdline(pid)
            if argv and match(argv) and pid_alive(pid):
                found.append(pid)
    return sorted(found)


def terminate(pid: int, timeout: float = 20) -> None:
    """SIGTERM a process, wait for it, SIGKILL it if it lingers; no error if already gone."""
    terminate_many([pid], timeout)


def terminate_many(pids: Sequence[int], timeout: float = 20) -> None:
    """SIGTERM all processes at once, wait for them, SIGKILL those that linger."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        living = [pid for pid in pids if pid_alive(pid)]
        for pid in living:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while living and time.monotonic() < deadline:
            time.sleep(0.1)
            for pid in living:
                _reap(pid)
            living = [pid for pid in living if pid_alive(pid)]
        if not living:
            return
    raise LabError(f"process(es) {', '.join(map(str, living))} survived SIGKILL")


def _reap(pid: int) -> None:
    """Collect the exit status of our own child, so it does not stay a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
