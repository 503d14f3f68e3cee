"""Static snapshots through a real nginx (the benchmarked site config) and gunicorn.

Who answers is told apart by the ETag: nginx's own for a file ("mtime-size"), the app's a
hash without a dash (also when nginx's micro-cache replays it).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from sites.security import HSTS, page_headers

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench" / "portal"))
try:
    import run as bench  # bench/portal/run.py: the same template and process handling
finally:
    sys.path.pop(0)

pytestmark = pytest.mark.skipif(shutil.which("nginx") is None,
                                reason="nginx is not installed (make system-deps)")


def test_the_webhost_role_sends_the_portals_own_security_headers() -> None:
    defaults = yaml.safe_load(
        (REPO / "playbooks/roles/webhost/defaults/main.yml").read_text())
    assert defaults["webhost_page_headers"] == page_headers()
    assert defaults["webhost_hsts_max_age"] == int(HSTS.split(";")[0].split("=")[1])
    portal = yaml.safe_load((REPO / "playbooks/roles/portal/defaults/main.yml").read_text())
    assert portal["portal_snapshot_dir"] == defaults["webhost_snapshot_dir"]


@dataclass
class Site:
    web: str
    snapshots: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    """gunicorn + `ptfops snapshots watch` + nginx with snapshots, on a seeded SQLite portal."""
    # Not under pytest's basetemp (0700): nginx's workers (nobody, as root) read the snapshots.
    tmp = Path(tempfile.mkdtemp(prefix="ptfops-test-snapshots-"))
    tmp.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(PTFOPS_INSTANCE=str(tmp / "instance"), PTFOPS_SNAPSHOT_DIR=str(tmp / "snapshots"))
    bench.run_cli(["db", "upgrade"], env)
    bench.run_cli(["seed-demo"], env)
    procs = bench.Processes()
    try:
        app_port, web_port = bench.free_port(), bench.free_port()
        procs.start("snapshots", [str(bench.BIN / "ptfops"), "snapshots", "watch",
                                  "--interval", "0.3"], tmp / "snapshots.log", env)
        procs.start("gunicorn", [str(bench.BIN / "ptfops"), "serve", "--host", "127.0.0.1",
                                 "--port", str(app_port), "--workers", "1"],
                    tmp / "gunicorn.log", env)
        bench.wait_http(f"http://127.0.0.1:{app_port}/healthz", procs)
        prefix = tmp / "nginx"
        conf = bench.write_nginx_conf(prefix, bench.nginx_site_values(
            f"127.0.0.1:{web_port}", f"127.0.0.1:{app_port}", REPO / "sites" / "static",
            prefix / "cache", prefix / "access.log", tmp / "snapshots"))
        procs.start("nginx", ["nginx", "-c", str(conf), "-p", str(prefix), "-g", "daemon off;"],
                    prefix / "stdout.log", env)
        bench.wait_http(f"http://127.0.0.1:{web_port}/healthz", procs)
        yield Site(f"http://127.0.0.1:{web_port}", tmp / "snapshots", env)
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


def from_snapshot(response: requests.Response) -> bool:
    return "-" in response.headers.get("ETag", "")


def settled(url: str, **options) -> requests.Response:
    """GET until the answer comes from a snapshot (written by the first, seen within 1 s)."""
    deadline = time.monotonic() + 10
    while True:
        response = requests.get(url, timeout=10, **options)
        if from_snapshot(response) or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_a_public_page_is_served_from_its_snapshot_with_the_apps_headers(site: Site) -> None:
    direct = requests.get(f"{site.web}/groupes/", timeout=10)
    snapshot = settled(f"{site.web}/groupes/")
    assert from_snapshot(snapshot) and not from_snapshot(direct)
    assert snapshot.content == direct.content
    assert snapshot.headers["Content-Type"] == "text/html; charset=utf-8"
    assert snapshot.headers["Cache-Control"] == "public, max-age=0, must-revalidate"
    for name, value in page_headers().items():
        assert snapshot.headers.get(name) == value, name
    again = requests.get(f"{site.web}/groupes/", timeout=10,
                         headers={"If-None-Match": snapshot.headers["ETag"]})
    assert again.status_code == 304
    assert requests.head(f"{site.web}/groupes/", timeout=10).status_code == 200


def test_each_language_has_its_snapshot(site: Site) -> None:
    english = settled(f"{site.web}/", cookies={"lang": "en"})
    french = settled(f"{site.web}/")
    assert from_snapshot(english) and from_snapshot(french)
    assert '<html lang="en">' in english.text and '<html lang="fr">' in french.text


def test_what_may_differ_per_visitor_always_reaches_the_app(site: Site) -> None:
    settled(f"{site.web}/")
    for options in ({"params": {"q": "santé"}}, {"cookies": {"session": "x"}},
                    {"cookies": {"remember_token": "x"}}, {"cookies": {"lang": "xx"}}):
        response = requests.get(f"{site.web}/", timeout=10, **options)
        assert response.status_code == 200 and not from_snapshot(response), options
    assert requests.post(f"{site.web}/", timeout=10).status_code in (400, 405)


def test_a_publish_is_served_within_seconds(site: Site) -> None:
    settled(f"{site.web}/")
    title = f"Publication vue par nginx {time.monotonic_ns()}"
    add = ("from datetime import timedelta\n"
           "from sqlalchemy import select\n"
           "from sites import create_app\n"
           "from sites.extensions import db\n"
           "from sites.models import Article, Group, PublishState\n"
           "from sites.models.base import utcnow\n"
           "app = create_app()\n"
           "with app.app_context():\n"
           "    group = db.session.scalars(select(Group).order_by(Group.id)).first()\n"
           f"    db.session.add(Article(slug='nginx-{time.monotonic_ns()}', title={title!r},\n"
           "        body_html='<p>x</p>', group=group, status=PublishState.PUBLISHED,\n"
           "        publish_at=utcnow() - timedelta(minutes=1)))\n"
           "    db.session.commit()\n")
    bench.subprocess.run([sys.executable, "-c", add], env=site.env, check=True, timeout=60)
    start = time.monotonic()
    while title not in requests.get(f"{site.web}/", timeout=10).text:
        assert time.monotonic() - start < 5, "the publish is not public after 5 s"
        time.sleep(0.1)
    assert title in settled(f"{site.web}/").text
