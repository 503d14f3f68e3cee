"""apt-cacher-ng on the bridge address: the lab hosts' only way to Debian's packages."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from ops.lab.system import LabError, find_processes, pid_alive, terminate, terminate_many

PORT = 3142
CONFIG_NAME = "acng.conf"


def url(address: str) -> str:
    """The proxy URL the hosts' apt uses."""
    return f"http://{address}:{PORT}"


def write_config(config_dir: Path, cache_dir: Path, address: str) -> Path:
    """A self-contained configuration: no Debian remap (its mirror list fails here)."""
    for sub in ("log", "run"):
        (config_dir / sub).mkdir(parents=True, exist_ok=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    config = config_dir / CONFIG_NAME
    config.write_text("\n".join([
        "# Written by `ptfops lab up`: a plain caching proxy for the lab hosts.",
        f"CacheDir: {cache_dir}",
        f"LogDir: {config_dir / 'log'}",
        f"PidFile: {config_dir / 'run' / 'pid'}",
        f"SocketPath: {config_dir / 'run' / 'socket'}",
        "SupportDir: /usr/lib/apt-cacher-ng",
        f"BindAddress: {address}",
        f"Port: {PORT}",
        "ForeGround: 1",
        "ReportPage: acng-report.html",
        "ExThreshold: 4",
        "",
    ]))
    return config


def check_port_free(address: str) -> None:
    """Stop when something already listens on the proxy's port (e.g. a stock apt-cacher-ng)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # ignore TIME-WAIT
        try:
            probe.bind((address, PORT))
        except OSError as exc:
            raise LabError(f"port {PORT} on {address} is in use ({exc.strerror}): stop what "
                           f"listens there (`ss -ltnp 'sport = :{PORT}'`)") from exc


def start(config_dir: Path, address: str, timeout: float = 15) -> int:
    """Start apt-cacher-ng in the background; return its PID once it accepts connections."""
    check_port_free(address)
    log = (config_dir / "log" / "console.log").open("ab")
    proc = subprocess.Popen(["apt-cacher-ng", "-c", str(config_dir)], stdin=subprocess.DEVNULL,
                            stdout=log, stderr=log, start_new_session=True)
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabError(f"apt-cacher-ng exited at once (exit {proc.returncode}); "
                           f"see {config_dir / 'log'}")
        try:
            with socket.create_connection((address, PORT), timeout=0.5):
                return proc.pid
        except OSError:
            time.sleep(0.1)
    terminate(proc.pid)
    raise LabError(f"apt-cacher-ng did not listen on {address}:{PORT} within {timeout:.0f} s")


def is_up(pid: int | None, address: str) -> bool:
    """True when the proxy process lives and answers on its port."""
    if not pid or not pid_alive(pid):
        return False
    try:
        with socket.create_connection((address, PORT), timeout=1):
            return True
    except OSError:
        return False


def stop_all(state_root: Path) -> list[int]:
    """Stop every apt-cacher-ng started with a configuration under `state_root`."""
    pids = find_processes(lambda argv: Path(argv[0]).name == "apt-cacher-ng"
                          and any(arg.startswith(str(state_root)) for arg in argv[1:]))
    terminate_many(pids)
    return pids
