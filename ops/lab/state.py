"""Where the lab keeps its files, and its state (PIDs, mounts, links) for later commands."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ops.lab.system import LabError

STATE_VERSION = 1


def cache_dir() -> Path:
    """`$PTFOPS_LAB_CACHE`, else `~/.cache/ptfops/lab` (outside the repository)."""
    env = os.environ.get("PTFOPS_LAB_CACHE")
    if env:
        return Path(env).resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return (base / "ptfops" / "lab").resolve()


@dataclass(frozen=True)
class LabPaths:
    """The lab's folders: kept caches at the top, the running lab under `state/`."""

    root: Path

    @property
    def state_dir(self) -> Path:
        """Everything of the running lab; removed by `lab down`."""
        return self.root / "state"

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    @property
    def base_dir(self) -> Path:
        """The base root filesystem, read-only lower layer of every host."""
        return self.state_dir / "base"

    @property
    def hosts_dir(self) -> Path:
        return self.state_dir / "hosts"

    @property
    def key_file(self) -> Path:
        """The lab's own SSH key (a new one for each lab)."""
        return self.state_dir / "ssh" / "id_ed25519"

    @property
    def proxy_dir(self) -> Path:
        """apt-cacher-ng's configuration, log, PID file and socket."""
        return self.state_dir / "aptproxy"

    @property
    def apt_cache_dir(self) -> Path:
        """apt-cacher-ng's package cache, kept between labs."""
        return self.root / "apt-cacher-ng"

    @property
    def lock_file(self) -> Path:
        return self.root / "lab.lock"

    def host_dir(self, name: str) -> Path:
        return self.hosts_dir / name


@dataclass
class HostState:
    """One lab host: its name, groups, address and what runs it."""

    name: str
    group: str
    ip: str
    netns: str
    veth: str
    merged: str
    pid: int | None = None
    system_state: str = ""


@dataclass
class LabState:
    """What `lab up` built, read back by `lab status` and `lab down`."""

    hosts: list[HostState] = field(default_factory=list)
    bridge: str = ""
    gateway: str = ""
    proxy_pid: int | None = None
    proxy_url: str = ""
    key_file: str = ""
    inventory_file: str = ""
    base: str = ""
    created: float = 0.0
    version: int = STATE_VERSION


def save(paths: LabPaths, state: LabState) -> None:
    """Write the state atomically (another process may read it at any time)."""
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    tmp = paths.state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2) + "\n")
    os.replace(tmp, paths.state_file)


def load(paths: LabPaths) -> LabState | None:
    """The saved state, or None when no lab was built (or its state is unreadable)."""
    try:
        data = json.loads(paths.state_file.read_text())
    except (OSError, ValueError):
        return None
    if data.get("version") != STATE_VERSION:
        return None
    hosts = [HostState(**h) for h in data.pop("hosts", [])]
    return LabState(hosts=hosts, **data)


@contextmanager
def locked(paths: LabPaths) -> Iterator[None]:
    """Hold the lab's lock, so two lab commands never build or tear down at once."""
    paths.root.mkdir(parents=True, exist_ok=True)
    with open(paths.lock_file, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise LabError(f"another lab command is running (lock {paths.lock_file})") from exc
        yield
