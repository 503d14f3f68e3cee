"""The base root filesystem: debootstrap once, then a cached .tar.zst restored in seconds."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from ops.lab.network import PREFIX
from ops.lab.system import LabError, require_tools, run

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
VARIANT = "minbase"
PACKAGES = ("python3", "openssh-server", "sudo", "iproute2", "systemd", "systemd-sysv", "dbus")
# Bump when the way the base is built changes, so old caches are not reused.
RECIPE = "1"
TAR_OPTIONS = ("--numeric-owner", "--xattrs", "--xattrs-include=*")
# The base lives in RAM while the lab runs: restoring it there takes 0.5 s, on disk 4-8 s.
TMPFS_SIZE = "2g"


def cache_key() -> str:
    """A short hash of everything that shapes the base: suite, variant, packages, mirror."""
    text = "\n".join([RECIPE, SUITE, VARIANT, MIRROR, *sorted(PACKAGES)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_file(cache_root: Path) -> Path:
    """Where the base tarball for the current package list lives."""
    return cache_root / f"base-{cache_key()}.tar.zst"


def ensure_base(target: Path, cache_root: Path, say: Callable[[str], None]) -> str:
    """Fill `target` (a fresh tmpfs) with the base root filesystem; "cache" or "debootstrap"."""
    archive = cache_file(cache_root)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0755", f"{PREFIX}-base", target])
    started = time.monotonic()
    if archive.is_file():
        require_tools(["tar", "zstd"])
        run(["tar", "-C", target, *TAR_OPTIONS, "-I", "zstd", "-xpf", archive], timeout=300)
        say(f"base image restored from {archive} ({time.monotonic() - started:.1f} s)")
        return "cache"
    require_tools(["debootstrap", "tar", "zstd"])
    say(f"base image not cached: debootstrap {SUITE} (about a minute) ...")
    run(["debootstrap", f"--variant={VARIANT}", f"--include={','.join(PACKAGES)}", SUITE,
         target, MIRROR], timeout=1200)
    _clean(target)
    _store(target, archive)
    say(f"base image built with debootstrap and cached at {archive} "
        f"({time.monotonic() - started:.1f} s)")
    return "debootstrap"


def _clean(rootfs: Path) -> None:
    """Drop what must differ per host or would only bloat the cache."""
    for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()
    for key in (rootfs / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (rootfs / "etc/machine-id").write_text("")
    (rootfs / "etc/hostname").write_text("localhost\n")


def _store(rootfs: Path, archive: Path) -> None:
    """Write the tarball next to its final name, then rename it (never a half file)."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    tmp = archive.with_name(f".{archive.name}.{os.getpid()}.tmp")
    try:
        run(["tar", "-C", rootfs, *TAR_OPTIONS, "-I", "zstd -T0 -3", "-cpf", tmp, "."],
            timeout=600)
        os.replace(tmp, archive)
    finally:
        tmp.unlink(missing_ok=True)
    for old in archive.parent.glob("base-*.tar.zst"):
        if old != archive:  # built for another package list: never used again
            old.unlink()


def customize(rootfs: Path, public_key: str, proxy_url: str) -> None:
    """Make the base a lab base: root's SSH key, the apt proxy, no DNS, no host keys."""
    if not (rootfs / "usr/lib/systemd/systemd").exists():
        raise LabError(f"{rootfs} is not a systemd root filesystem; delete the cache and retry")
    ssh_dir = rootfs / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text(public_key.strip() + "\n")
    (ssh_dir / "authorized_keys").chmod(0o600)
    apt_conf = rootfs / "etc/apt/apt.conf.d"
    # One request at a time through apt-cacher-ng (apt's HTTP pipelining once left an
    # `apt-get update` waiting forever on a connection the proxy had closed), a read timeout,
    # and a few retries of a failed download.
    (apt_conf / "01ptfops-lab-proxy").write_text(
        f'Acquire::http::Proxy "{proxy_url}";\n'
        'Acquire::http::Pipeline-Depth "0";\n'
        'Acquire::http::Timeout "60";\n'
        'Acquire::Retries "3";\n')
    (rootfs / "etc/apt/sources.list").write_text(
        f"deb {MIRROR} {SUITE} main\n"
        f"deb {MIRROR} {SUITE}-updates main\n"
        f"deb http://deb.debian.org/debian-security {SUITE}-security main\n")
    resolv = rootfs / "etc/resolv.conf"
    resolv.unlink(missing_ok=True)  # may be a symlink into /run
    resolv.write_text("# Lab hosts have no DNS; the lab's host names are in /etc/hosts.\n")
    _clean(rootfs)
