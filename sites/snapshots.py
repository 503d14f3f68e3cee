"""Static snapshots of public pages: written by the app, served by nginx like any file.

With `SNAPSHOT_DIR` set (env `PTFOPS_SNAPSHOT_DIR`), an anonymous public page the app renders
is also written to `SNAPSHOT_DIR/gen-<generation>/<host>/<lang>/...` (`/a/` as `a/index.html`,
`/a/b` as `a/b.html`). nginx serves `SNAPSHOT_DIR/current/...` with `try_files` (see
`bench/portal/nginx.conf.j2`), so a page already rendered costs what a static file costs.

A generation is the content stamp (version, last change and latest scheduled item that has come
due) with the release's code: every publish, every scheduled item whose time comes, a restore and
a deploy or rollback make a new one. Only `refresh` (run by
`ptfops snapshots watch`, every second) creates a generation folder and points `current` at it,
atomically; the app writes only into generations that exist, so a page rendered before a
publish can never land in the generation after it. Old generations are pruned by `refresh`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

from flask import Flask, Response, current_app, g, request, session

from sites import stamp as stamp_module
from sites.extensions import db
from sites.i18n import COOKIE as LANG_COOKIE
from sites.security import CSP
from sites.stamp import Stamp, content_stamp

log = logging.getLogger(__name__)

CURRENT = "current"
PREFIX = "gen-"
MAX_HOSTS = 32  # host folders per generation: room for every platform host name, and a
# bound on what forged Host headers can fill (beyond it, pages go through the micro-cache)
HOST = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$")



def generation(stamp: Stamp) -> str:
    """The generation name of a content stamp and of the code rendering it.

    It changes with every publish or due item, with a restored database (whose last change
    differs even where its version does not), and with a deploy or a rollback: each release
    runs from its own folder, and its pages may look different.
    """
    version, changed, due = stamp
    digest = hashlib.sha1(f"{version}|{changed}|{due}|{stamp_module.RELEASE}".encode(),
                          usedforsecurity=False).hexdigest()
    return PREFIX + digest[:16]


def current_generation(root: Path) -> str | None:
    """The generation nginx serves now, or None before the first refresh."""
    try:
        return os.readlink(root / CURRENT)
    except OSError:
        return None


def refresh(root: Path, stamp: Stamp) -> bool:
    """Point `current` at the stamp's generation (created if new); True when it changed.

    The previous generation is kept (nginx may be sending one of its files); older ones go.
    """
    name = generation(stamp)
    previous = current_generation(root)
    if previous == name:
        return False
    _make_readable_dirs(root / name)
    link = root / f".{CURRENT}.{os.getpid()}"
    link.unlink(missing_ok=True)
    link.symlink_to(name)
    os.replace(link, root / CURRENT)  # atomic: nginx sees the old or the new, never neither
    for entry in root.iterdir():
        if entry.name.startswith(PREFIX) and entry.name not in (name, previous):
            shutil.rmtree(entry, ignore_errors=True)
    return True


def _host() -> str | None:
    """The request's host as nginx's `$host` names it (lower case, no port), if plausible."""
    host = request.host.lower()
    if host.startswith("["):
        return None  # IPv6 literals: not worth a snapshot
    name, _, port = host.partition(":")
    if port and not port.isdigit():
        return None
    return name if HOST.match(name) and ".." not in name else None


def _storable(response: Response) -> bool:
    """A page every anonymous visitor would get byte for byte, with the standard headers."""
    cookies = current_app.config["SESSION_COOKIE_NAME"], current_app.config.get(
        "REMEMBER_COOKIE_NAME", "remember_token")
    return (request.method == "GET" and not request.query_string
            and response.status_code == 200 and response.mimetype == "text/html"
            and not response.direct_passthrough
            and "Set-Cookie" not in response.headers
            and response.headers.get("Content-Security-Policy", CSP) == CSP
            and not session.modified
            and not any(name in request.cookies for name in cookies)
            and request.cookies.get(LANG_COOKIE, "") in ("", *current_app.config["LANGUAGES"]))


def _target(generation_dir: Path, host: str, lang: str) -> Path | None:
    """Where this request's page goes: `/a/b/` to `a/b/index.html`, `/a/b` to `a/b.html`.

    None for paths the two shapes cannot tell apart (`/a/index`) or that are not plain.
    """
    path = request.path
    parts = path.strip("/").split("/") if path.strip("/") else []
    if "//" in path or any(p in (".", "..") or "\x00" in p for p in parts):
        return None
    base = generation_dir.joinpath(host, lang)
    if path.endswith("/"):
        return base.joinpath(*parts, "index.html")
    if not parts or parts[-1] == "index":
        return None
    return base.joinpath(*parts[:-1], parts[-1] + ".html")


def mark(stamp: Stamp, lang: str) -> None:
    """Ask for this request's page to be stored, once every header is final."""
    if current_app.config.get("SNAPSHOT_DIR"):
        g.snapshot = (stamp, lang)


def init_app(app: Flask) -> None:
    """Store marked pages after every other after_request hook (the first registered runs
    last), so a hook that changes a page's headers (the map's CSP) is seen; after a request
    that changed content, move the snapshots on at once (the watcher would within a second)."""
    app.after_request(_store_marked)
    app.teardown_request(_refresh_after_change)


def _refresh_after_change(_error: BaseException | None) -> None:
    root = current_app.config.get("SNAPSHOT_DIR")
    if not db.session.info.pop("content_changed", False) or not root:
        return
    try:
        refresh(Path(root), content_stamp())  # from the database: a rolled-back change is none
    except Exception as exc:  # noqa: BLE001 - the watcher catches up; the request is answered
        log.warning("snapshots not moved on after a change: %s", exc)


def _store_marked(response: Response) -> Response:
    marked = g.pop("snapshot", None)
    if marked is not None:
        store(response, *marked)
    return response


def store(response: Response, stamp: Stamp, lang: str) -> None:
    """Write this public page as a snapshot, if snapshots are on and it qualifies.

    Never fails the request: a full disk or a permission problem is logged and skipped.
    """
    root = current_app.config.get("SNAPSHOT_DIR")
    if not root or not _storable(response):
        return
    generation_dir = Path(root) / generation(stamp)
    host = _host()
    if host is None or not generation_dir.is_dir():
        return
    target = _target(generation_dir, host, lang)
    if target is None:
        return
    try:
        if not (generation_dir / host).is_dir() and sum(
                1 for _ in generation_dir.iterdir()) >= MAX_HOSTS:
            return
        _write_atomically(target, response.get_data())
    except OSError as exc:
        log.warning("snapshot of %s not written: %s", request.path, exc)


def _make_readable_dirs(folder: Path) -> None:
    """Create the folders nginx's worker user must enter, whatever the portal's umask
    (its systemd unit sets 0027)."""
    if folder.is_dir():
        return
    _make_readable_dirs(folder.parent)
    try:
        folder.mkdir()
    except FileExistsError:  # another worker made it meanwhile
        return
    os.chmod(folder, 0o755)  # noqa: S103 - world-readable on purpose: nginx serves these


def _write_atomically(target: Path, body: bytes) -> None:
    """Write via a temporary file and rename: nginx never sees half a page."""
    _make_readable_dirs(target.parent)
    handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=".snapshot-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(body)
        os.chmod(tmp, 0o644)  # nginx's worker user reads it
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
