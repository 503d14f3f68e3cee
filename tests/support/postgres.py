"""A throwaway PostgreSQL 15 cluster for the tests (initdb + pg_ctl, stopped by PID)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path(os.environ.get("PTFOPS_PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PostgresCluster:
    """A running cluster: connect as `user` to 127.0.0.1:`port` (trust auth)."""

    data_dir: Path
    port: int
    user: str = "ptfops"

    def url(self, database: str) -> str:
        """SQLAlchemy URL of `database` in this cluster."""
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """Stop the server and remove its files."""
        _run([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "stop"],
             check=False)
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def _run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:  # initdb refuses to run as root
        argv = ["runuser", "-u", "postgres", "--", *argv]
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=120)


def available() -> str | None:
    """None when a cluster can be started here, else the reason it cannot."""
    if not (PG_BIN / "initdb").exists():
        return f"PostgreSQL binaries not found in {PG_BIN} (apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "no 'postgres' user to run PostgreSQL as"
    return None


def start_cluster() -> PostgresCluster:
    """initdb a fresh cluster in a temporary folder and start it on a free port."""
    base = Path(tempfile.mkdtemp(prefix="ptfops-pg-"))
    data = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    _run([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "ptfops",
          "-E", "UTF8", "--locale=C.UTF-8"])
    port = free_port()
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off " \
              "-c synchronous_commit=off -c full_page_writes=off"
    _run([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l",
          str(base / "server.log"), "-w", "start"])
    return PostgresCluster(data, port)
