"""Fixtures of the end-to-end tests: the real portal under gunicorn, and headless Chromium.

The portal runs exactly as deployed: a fresh instance folder prepared with the real
`ptfops` command line (`db upgrade`, `seed-demo`, `users add`), then gunicorn with two
workers on a free port of 127.0.0.1. Every browser context the tests open records the
requests, console errors and page errors of its pages, so a test can fail on a request
to another host, a script error or a Content-Security-Policy violation.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.postgres import free_port

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"
CHROMIUM = Path("/usr/bin/chromium")
FOCAL_EMAIL = "point.focal.sante@example.org"
FOCAL_NAME = "Aminata Traoré"
FOCAL_PASSWORD = "une longue phrase de passe pour la santé"
STARTUP_SECONDS = 30

# Reports CSP violations as console errors even where Chromium would not log them.
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + e.blockedURI);
});
"""


@dataclass
class Portal:
    """The running portal: its address, instance folder and a focal point of gt-sante."""

    host: str
    instance: Path
    focal_email: str = FOCAL_EMAIL
    focal_password: str = FOCAL_PASSWORD

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://{self.host}"

    def url(self, path: str) -> str:
        """The absolute URL of `path` on the portal."""
        return self.base_url + path


def _portal_env(instance: Path) -> dict[str, str]:
    """The environment of the CLI and gunicorn: SQLite in `instance`, plain HTTP."""
    env = dict(os.environ)
    for name in ("DATABASE_URL", "PTFOPS_UPLOAD_DIR", "PTFOPS_SECURE_COOKIES", "SECRET_KEY",
                 "PTFOPS_SITE_URL"):
        env.pop(name, None)
    env["PTFOPS_INSTANCE"] = str(instance)
    return env


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run `.venv/bin/ptfops ARGS`; fail the test with its output when it fails."""
    done = subprocess.run([str(BIN / "ptfops"), *args], env=env, cwd=REPO, input=stdin,
                          capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        pytest.fail(f"ptfops {' '.join(args)} exited {done.returncode}:\n"
                    f"{done.stdout}\n{done.stderr}")
    return done.stdout


def _healthy(url: str) -> bool:
    """Whether /healthz answers 200 with status ok (no proxy, even if one is configured)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return response.status == 200 and json.load(response).get("status") == "ok"
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM gunicorn's master (it stops its workers); kill its process group if it hangs."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def portal(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """The portal with demo content and a focal point of gt-sante, under gunicorn."""
    if db_backend != "sqlite":
        pytest.skip("end-to-end tests run on SQLite only")
    for program in ("ptfops", "gunicorn"):
        if not (BIN / program).exists():
            pytest.fail(f"{BIN / program} is missing: run `make install`")
    instance = tmp_path_factory.mktemp("e2e-instance")
    env = _portal_env(instance)
    _cli(env, "db", "upgrade")
    _cli(env, "seed-demo")
    _cli(env, "users", "add", FOCAL_EMAIL, "--name", FOCAL_NAME, "--role", "focal",
         "--group", "gt-sante", "--password-stdin", stdin=FOCAL_PASSWORD + "\n")
    host = f"127.0.0.1:{free_port()}"
    log_path = instance / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "--bind", host, "--workers", "2", "--graceful-timeout", "5",
             "--access-logfile", "-", "sites.wsgi:app"],
            env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _healthy(f"http://{host}/healthz"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not become healthy on {host}:\n"
                            f"{log_path.read_text(errors='replace')[-4000:]}")
            time.sleep(0.2)
        yield Portal(host=host, instance=instance)
    finally:
        _stop(process)


@dataclass
class Watch:
    """What the pages of one browser context did: requests, console and page errors."""

    host: str
    requests: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def on_request(self, request: Any) -> None:
        """Record a request; note it when it goes anywhere but the portal."""
        url = request.url
        self.requests.append(url)
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if parts.scheme != "http" or parts.netloc != self.host:
            self.external.append(url)

    def on_console(self, message: Any) -> None:
        """Record console errors (failed loads and CSP violations land here)."""
        if message.type == "error":
            self.console_errors.append(f"{message.text} ({message.location.get('url', '')})")

    def on_page_error(self, error: Any) -> None:
        """Record uncaught script errors."""
        self.page_errors.append(str(error))

    def assert_clean(self) -> None:
        """No request to another host, no console error, no script error."""
        assert self.requests, "the browser made no request at all"
        assert not self.external, f"requests to other hosts: {self.external}"
        assert not self.console_errors, f"console errors: {self.console_errors}"
        assert not self.page_errors, f"script errors: {self.page_errors}"


@dataclass
class Session:
    """A browser context (its own cookies and empty cache) with its watch."""

    context: Any
    watch: Watch

    def new_page(self) -> Any:
        """A new tab of this context."""
        return self.context.new_page()


@pytest.fixture(scope="module")
def browser(portal: Portal) -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (no `playwright install`)."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (see the Makefile)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--no-proxy-server"])
        yield chromium
        chromium.close()


@pytest.fixture
def open_session(browser: Any, portal: Portal) -> Iterator[Callable[..., Session]]:
    """open_session(**context_options): a fresh, watched browser context."""
    sessions: list[Session] = []

    def open_(**options: Any) -> Session:
        context = browser.new_context(base_url=portal.base_url, locale="fr-FR",
                                      timezone_id="Africa/Bamako", **options)
        context.set_default_timeout(15_000)
        watch = Watch(portal.host)
        context.on("request", watch.on_request)
        context.on("console", watch.on_console)
        context.on("weberror", lambda web_error: watch.on_page_error(web_error.error))
        context.add_init_script(_CSP_LISTENER)
        session = Session(context, watch)
        sessions.append(session)
        return session

    yield open_
    for session in sessions:
        session.context.close()
