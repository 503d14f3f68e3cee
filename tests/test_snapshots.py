"""Static snapshots of public pages: what is written, where, when, and when it goes stale."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from sites import create_app, snapshots, stamp
from sites.extensions import db
from sites.models.base import utcnow
from sites.stamp import content_stamp
from tests.support.content import add_article

PTFOPS = Path(sys.executable).with_name("ptfops")
HOST = "portail.test"  # the app fixture's SERVER_NAME


@pytest.fixture
def root(app, tmp_path: Path) -> Path:
    """Snapshots on, in a fresh folder, pointed at the current content."""
    folder = tmp_path / "snapshots"
    app.config["SNAPSHOT_DIR"] = str(folder)
    refresh(app)
    return folder


def refresh(app) -> bool:
    folder = Path(app.config["SNAPSHOT_DIR"])
    folder.mkdir(exist_ok=True)
    with app.app_context():
        stamp = content_stamp()
    return snapshots.refresh(folder, stamp)


def served(root: Path, *parts: str) -> Path:
    """The file nginx would serve from `current` for this host."""
    return root.joinpath("current", HOST, *parts)


def test_anonymous_public_pages_are_written_where_nginx_looks(app, client, root):
    add_article(app, "vaccination", "Campagne de vaccination")
    refresh(app)
    pages = {"/": ("fr", "index.html"),
             "/groupes/gt-sante/": ("fr", "groupes", "gt-sante", "index.html"),
             "/actualites/vaccination": ("fr", "actualites", "vaccination.html")}
    previous = os.umask(0o027)  # the portal's systemd unit: nginx must still read them
    try:
        responses = {url: client.get(url) for url in pages}
    finally:
        os.umask(previous)
    for url, parts in pages.items():
        assert responses[url].status_code == 200, url
        file = served(root, *parts)
        assert file.read_bytes() == responses[url].data, url
        assert file.stat().st_mode & 0o777 == 0o644, url
        for folder in file.relative_to(root / "current").parents:
            assert (root / "current" / folder).stat().st_mode & 0o777 == 0o755, folder


def test_each_language_has_its_own_snapshot(app, client, root):
    french = client.get("/").data
    client.set_cookie("lang", "en", domain=HOST)
    english = client.get("/").data
    assert served(root, "fr", "index.html").read_bytes() == french
    assert served(root, "en", "index.html").read_bytes() == english
    assert b'<html lang="en">' in english and b'<html lang="en">' not in french


def test_what_not_every_visitor_would_get_is_never_written(app, client, root, make_user, auth):
    app.config["MAP_TILE_URL"] = "https://tuiles.example.org/{z}/{x}/{y}.png"
    client.get("/documents/?type=report")                  # a query string
    client.get("/groupes/themes.css")                      # not HTML
    client.get("/flux/actualites.rss")                     # not HTML
    client.get("/carte/")                                  # its own CSP (map tiles)
    client.get("/groupes/inconnu/")                        # 404
    client.set_cookie("lang", "xx", domain=HOST)           # a language nginx does not map
    client.get("/groupes/")
    client.delete_cookie("lang", domain=HOST)
    auth.login(make_user("member", "gt-sante"))             # signed in
    client.get("/actualites/")
    auth.logout()
    client.get("/pages/")                                  # session cookie still there
    written = sorted(str(p.relative_to(root / "current"))
                     for p in (root / "current").rglob("*") if p.is_file())
    assert written == []


def test_nothing_is_written_before_the_first_refresh_or_when_snapshots_are_off(
        app, client, tmp_path):
    folder = tmp_path / "snapshots"
    client.get("/")
    assert not folder.exists()
    app.config["SNAPSHOT_DIR"] = str(folder)
    folder.mkdir()
    client.get("/")
    assert list(folder.iterdir()) == []


def test_a_publish_makes_a_new_generation_and_old_ones_are_pruned(app, client, root):
    client.get("/")
    first = snapshots.current_generation(root)
    assert served(root, "fr", "index.html").is_file()
    assert refresh(app) is False                           # nothing changed: same generation
    add_article(app, "nouvelle", "Nouvelle actualité")
    assert refresh(app) is True
    second = snapshots.current_generation(root)
    assert second != first
    assert not served(root, "fr", "index.html").exists()   # nginx now asks the app
    assert (root / first).is_dir()                         # kept: nginx may still be sending it
    assert "Nouvelle actualité" in client.get("/").get_data(as_text=True)
    assert "Nouvelle actualité" in served(root, "fr", "index.html").read_text()
    add_article(app, "encore", "Encore une")
    refresh(app)
    assert sorted(p.name for p in root.iterdir() if p.name.startswith("gen-")) == sorted(
        [second, snapshots.current_generation(root)])


def test_a_page_rendered_before_a_publish_never_lands_in_the_new_generation(app, root):
    with app.app_context():
        old_stamp = content_stamp()
    add_article(app, "nouvelle", "Nouvelle actualité")
    refresh(app)
    add_article(app, "encore", "Encore une")
    refresh(app)                                           # the old generation is gone now
    with app.test_request_context("/", base_url=f"http://{HOST}"):
        response = app.make_response("<p>ancienne page</p>")
        snapshots.store(response, old_stamp, "fr")
    assert not (root / snapshots.generation(old_stamp)).exists()
    assert not served(root, "fr", "index.html").exists()


def test_a_scheduled_item_coming_due_makes_a_new_generation(app, client, root):
    due = utcnow() + timedelta(seconds=1.5)
    add_article(app, "programmee", "Annonce programmée", when=due)
    refresh(app)
    assert "Annonce programmée" not in client.get("/").get_data(as_text=True)
    assert served(root, "fr", "index.html").is_file()
    time.sleep(max(0.0, (due - utcnow()).total_seconds()) + 0.2)
    assert refresh(app) is True
    assert "Annonce programmée" in client.get("/").get_data(as_text=True)
    assert "Annonce programmée" in served(root, "fr", "index.html").read_text()


def test_forged_host_headers_fill_at_most_a_few_folders(app, client, root):
    for i in range(snapshots.MAX_HOSTS + 5):
        assert client.get("/", headers={"Host": f"h{i}.example"}).status_code == 200
    hosts = list((root / "current").iterdir())
    assert len(hosts) == snapshots.MAX_HOSTS
    client.get("/", headers={"Host": "bad..host"})
    assert not (root / "current" / "bad..host").exists()


def test_a_full_disk_is_logged_and_the_visitor_still_gets_the_page(app, client, tiny_disk,
                                                                   caplog):
    app.config["SNAPSHOT_DIR"] = str(tiny_disk)
    refresh(app)
    (tiny_disk / "filler").write_bytes(b"x" * 60_000)      # the 64 KiB tmpfs is now full
    response = client.get("/")
    assert response.status_code == 200 and b"</html>" in response.data
    assert "snapshot of / not written" in caplog.text
    assert not list((tiny_disk / "current").rglob("*.html"))
    assert not list((tiny_disk / "current").rglob(".snapshot-*"))  # no half-written file left


def test_cli_refresh_points_current_at_the_content(app, runner, tmp_path, monkeypatch):
    folder = tmp_path / "cli-snapshots"
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "PTFOPS_INSTANCE": app.instance_path, "PTFOPS_SNAPSHOT_DIR": str(folder)}
    first = subprocess.run([str(PTFOPS), "snapshots", "refresh"], env=env, capture_output=True,
                           text=True, timeout=60, check=False)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"snapshots: now {snapshots.current_generation(folder)}"
    again = subprocess.run([str(PTFOPS), "snapshots", "refresh"], env=env, capture_output=True,
                           text=True, timeout=60, check=False)
    assert again.stdout.strip() == "snapshots: already current"
    off = subprocess.run([str(PTFOPS), "snapshots", "refresh"],
                         env={**env, "PTFOPS_SNAPSHOT_DIR": ""}, capture_output=True, text=True,
                         timeout=60, check=False)
    assert off.returncode == 1 and "PTFOPS_SNAPSHOT_DIR" in off.stderr


def test_cli_watch_follows_a_publish_and_stops_on_sigterm(app, tmp_path):
    folder = tmp_path / "watched"
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "PTFOPS_INSTANCE": app.instance_path, "PTFOPS_SNAPSHOT_DIR": str(folder)}
    watcher = subprocess.Popen([str(PTFOPS), "snapshots", "watch", "--interval", "0.2"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = _wait_for(lambda: snapshots.current_generation(folder))
        add_article(app, "nouvelle", "Nouvelle actualité")
        second = _wait_for(lambda: (snapshots.current_generation(folder)
                                    if snapshots.current_generation(folder) != first else None))
        assert second != first
    finally:
        watcher.send_signal(signal.SIGTERM)
        out, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 0, err
    assert f"snapshots: now {second}" in out


def _wait_for(probe, timeout: float = 30.0):
    """Poll until probe() returns something truthy (the watcher is a separate process)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail("the watcher did not switch the snapshots in time")


def test_a_deploy_or_a_rollback_makes_a_new_generation(app, client, root, monkeypatch):
    client.get("/")
    before = snapshots.current_generation(root)
    monkeypatch.setattr(stamp, "RELEASE", "/srv/ptfops/releases/une-autre-version/sites")
    assert refresh(app) is True                            # same content, other code
    assert not served(root, "fr", "index.html").exists()
    monkeypatch.undo()
    assert refresh(app) is True and snapshots.current_generation(root) == before
    assert served(root, "fr", "index.html").is_file()      # back to that release's pages


def test_a_publish_from_the_admin_moves_the_snapshots_on_at_once(app, client, root, make_user,
                                                                 auth):
    client.get("/")
    before = snapshots.current_generation(root)
    auth.login(make_user("focal", "gt-sante"))
    response = client.post("/admin/groupes/gt-sante/actualites/nouvelle", data={
        "title": "Journée mondiale de la santé", "body": "Programme de la journée.",
        "summary": "", "status": "published", "action": "publish"})
    assert response.status_code == 302
    assert snapshots.current_generation(root) != before    # no watcher needed on this host
    assert not served(root, "fr", "index.html").exists()
    auth.logout()


def test_cli_watch_follows_a_database_file_replaced_by_a_restore(app, tmp_path):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("sqlite:///"):
        pytest.skip("a restore replaces the file only with SQLite")
    path = Path(url.removeprefix("sqlite:///"))
    folder = tmp_path / "watched"
    env = {**os.environ, "DATABASE_URL": url, "PTFOPS_INSTANCE": app.instance_path,
           "PTFOPS_SNAPSHOT_DIR": str(folder)}
    watcher = subprocess.Popen([str(PTFOPS), "snapshots", "watch", "--interval", "0.2"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = _wait_for(lambda: snapshots.current_generation(folder))
        restored = tmp_path / "restored.sqlite3"  # another host's database, moved over ours
        shutil.copyfile(path, restored)
        other = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{restored}",
                            "SERVER_NAME": HOST}, instance_path=app.instance_path)
        add_article(other, "restauree", "Actualité restaurée")
        with other.app_context():
            db.engine.dispose()
        os.replace(restored, path)
        _wait_for(lambda: snapshots.current_generation(folder) != first)
    finally:
        watcher.send_signal(signal.SIGTERM)
        watcher.communicate(timeout=30)
