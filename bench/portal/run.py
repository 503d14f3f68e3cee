"""Portal speed bench: nginx (the deployed site config) in front of gunicorn, measured with wrk.

One run, one machine, side by side: (a) nginx serving a static file the size of the home page
(measured before and after b and c), (b) the home page and (c) a group page through nginx,
(d) the home page from gunicorn directly. Public pages are served as deployed: from static
snapshots (sites/snapshots.py, `ptfops snapshots watch` running) with nginx's micro-cache behind
them; `--no-snapshots` measures the micro-cache alone.
Then a focal point publishes a news item through the admin and the public home is polled until it
shows it. Prints a table, the ratios and PASS/FAIL against the goals of issue 2; writes
bench/results/portal.json. Everything listens on 127.0.0.1 and is stopped at the end.

Usage: .venv/bin/python bench/portal/run.py [--duration 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import jinja2
import requests

from sites.security import page_headers

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BIN = ROOT / ".venv" / "bin"
RESULTS = ROOT / "bench" / "results" / "portal.json"

GOAL_RATIO = 0.80       # public pages through nginx vs nginx serving a file of the same size
GOAL_P99_MS = 100.0     # at the chosen number of connections
GOAL_PUBLISH_S = 5.0    # from "Save" in the admin to the news item on the public home page

FOCAL_EMAIL = "bench-focal@ptf-mali.local"


@dataclass
class WrkResult:
    """One wrk measurement."""

    label: str
    url: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int          # socket errors (connect, read, write, timeout)
    non_2xx_3xx: int
    app_requests: int | None = None   # requests gunicorn logged during the run
    nginx_cpu_us: float = 0.0          # CPU time of nginx's workers per request (microseconds)
    wrk_cpu_us: float = 0.0            # CPU time of wrk itself per request (microseconds)
    softirq_us: float = 0.0            # kernel network processing (whole machine) per request
    body_bytes: int = 0


@dataclass
class Publish:
    """How long a publish took to reach the public pages through nginx."""

    title: str
    visible_home_s: float | None    # None: not visible within the polling timeout
    visible_group_s: float | None
    crowd_requests_per_s: float     # home page through nginx, meanwhile (wrk)


@dataclass
class Checks:
    """Behaviour of the deployed config seen from outside (headers, who reached the app)."""

    probes: int = 0                       # requests sent for each of the two counts below
    anonymous_app_requests: int = 0       # ... of which reached gunicorn, anonymous visitor
    signed_in_app_requests: int = 0       # ... of which reached gunicorn, signed-in focal point
    signed_in_cache_control: str = ""
    english_home_lang: str = ""
    french_home_lang: str = ""
    static_cache_control: str = ""
    security_headers_through_cache: bool = False
    snapshot_pages: int = -1              # pages in static snapshots at the end (-1: off)


# ---------------------------------------------------------------- processes and ports


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Processes:
    """Servers started by the bench, each in its own process group, stopped by PID."""

    def __init__(self) -> None:
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str], log: Path, env: dict[str, str]) -> int:
        """Start `argv` in the background, output to the file `log`; its PID."""
        with log.open("wb") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                    env=env, stdin=subprocess.DEVNULL, start_new_session=True)
        self.started.append((name, proc))
        return proc.pid

    def check_alive(self) -> None:
        """Fail when a server has exited on its own."""
        for name, proc in self.started:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with status {proc.returncode}")

    def stop_all(self) -> None:
        """TERM each master, wait, then KILL what is left of its process group."""
        for _name, proc in reversed(self.started):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            try:  # workers left behind by a master that died or hung
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if proc.poll() is None:
                proc.wait(timeout=5)
        self.started.clear()


def children_cpu(parent: int) -> float:
    """CPU seconds (user + system) used so far by the children of `parent` (nginx's workers)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # the process has just exited
            continue
        if int(fields[1]) == parent:  # fields: state, ppid, ..., utime (11), stime (12)
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def softirq_seconds() -> float:
    """CPU seconds the whole machine has spent in soft interrupts (loopback TCP, mostly)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return int(fields[7]) / os.sysconf("SC_CLK_TCK")


def finished_children_cpu() -> float:
    """CPU seconds used by this script's finished children (wrk runs, once waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wait_http(url: str, procs: Processes, timeout: float = 20.0) -> None:
    """Wait until `url` answers (any status below 500)."""
    deadline = time.monotonic() + timeout
    while True:
        procs.check_alive()
        try:
            if requests.get(url, timeout=5, allow_redirects=False).status_code < 500:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.1)


def run_cli(args: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    """Run `ptfops ARGS` in the bench instance; its output, or an error with it."""
    done = subprocess.run([str(BIN / "ptfops"), *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ptfops {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


# ---------------------------------------------------------------- nginx


def render(template: str, **values: Any) -> str:
    """Render a template of this folder the way Ansible's template module does."""
    env = jinja2.Environment(  # noqa: S701 - nginx config, not HTML: nothing to escape
        loader=jinja2.FileSystemLoader(HERE), trim_blocks=True,
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.get_template(template).render(**values)


def nginx_site_values(listen: str, upstream: str, static_dir: Path, cache_dir: Path,
                      access_log: Path, snapshot_dir: Path | None) -> dict[str, Any]:
    """The site template's variables for this bench (a deployment sets the same names)."""
    return {
        "webhost_server_name": "localhost",
        "webhost_listen": listen,
        "webhost_upstream": upstream,
        "webhost_upstream_keepalive": 16,
        "webhost_static_dir": str(static_dir),
        "webhost_static_expires": "7d",
        "webhost_cache_dir": str(cache_dir),
        "webhost_cache_keys_size": "10m",
        "webhost_cache_max_size": "1g",
        "webhost_client_max_body_size": "21m",
        "webhost_access_log": str(access_log),
        "webhost_tls_certificate": "",
        "webhost_tls_certificate_key": "",
        "webhost_listen_tls": "443",
        "webhost_hsts_max_age": 31536000,
        "webhost_snapshot_dir": str(snapshot_dir) if snapshot_dir else "",
        "webhost_languages": ["fr", "en"],
        "webhost_page_headers": page_headers(),
    }


def write_nginx_conf(prefix: Path, site: dict[str, Any]) -> Path:
    """Write the main config (Debian stand-in) and the portal site; return the main one."""
    (prefix / "tmp").mkdir(parents=True)
    site_conf = prefix / "portal.conf"
    site_conf.write_text(render("nginx.conf.j2", **site))
    main_conf = prefix / "nginx.conf"
    worker_user = "nobody nogroup" if os.geteuid() == 0 else ""
    main_conf.write_text(render("nginx-main.conf.j2", prefix=str(prefix),
                                site_conf=str(site_conf), worker_user=worker_user))
    return main_conf


def nginx_version() -> str:
    """`nginx/1.22.1` or similar."""
    out = subprocess.run(["nginx", "-v"], capture_output=True, text=True, check=False)
    return out.stderr.strip().removeprefix("nginx version: ")


# ---------------------------------------------------------------- wrk

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(label: str, url: str, text: str) -> WrkResult:
    """Requests/s, percentiles and errors from `wrk --latency` output."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    total = re.search(r"^\s*(\d+) requests in", text, re.M)
    if not rps or not total:
        raise RuntimeError(f"cannot read wrk output:\n{text}")
    percentiles = {
        int(m[1]): float(m[2]) * _UNITS_MS[m[3]]
        for m in re.finditer(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
    }
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                        text)
    non_ok = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return WrkResult(label=label, url=url, requests_per_s=float(rps[1]),
                     p50_ms=percentiles[50], p99_ms=percentiles[99], requests=int(total[1]),
                     errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
                     non_2xx_3xx=int(non_ok[1]) if non_ok else 0)


@dataclass
class Target:
    """A URL to measure: `cached` ones must be answered from nginx's cache."""

    label: str
    url: str
    cached: bool = False
    gzip: bool = False

    def headers(self) -> dict[str, str]:
        """Request headers: only Accept-Encoding when measuring compression."""
        return {"Accept-Encoding": "gzip" if self.gzip else "identity"}


def wrk(target: Target, seconds: int, connections: int, threads: int) -> str:
    """Run wrk once on `target`; its output."""
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if target.gzip:
        argv += ["-H", "Accept-Encoding: gzip"]
    argv.append(target.url)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed on {target.url}:\n{done.stdout}{done.stderr}")
    return done.stdout


def combine(runs: list[WrkResult]) -> WrkResult:
    """Several rounds of one target: median req/s and p50, worst p99, summed counts."""
    first = runs[0]
    return WrkResult(
        label=first.label, url=first.url,
        requests_per_s=statistics.median(r.requests_per_s for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=max(r.p99_ms for r in runs),
        requests=sum(r.requests for r in runs), errors=sum(r.errors for r in runs),
        non_2xx_3xx=sum(r.non_2xx_3xx for r in runs),
        app_requests=sum(r.app_requests or 0 for r in runs), body_bytes=first.body_bytes,
        nginx_cpu_us=statistics.median(r.nginx_cpu_us for r in runs),
        wrk_cpu_us=statistics.median(r.wrk_cpu_us for r in runs),
        softirq_us=statistics.median(r.softirq_us for r in runs))


def count_lines(path: Path) -> int:
    """Lines in a log file (gunicorn writes one per request)."""
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def wait_quiet(log: Path, quiet: float = 1.0, timeout: float = 60.0) -> None:
    """Wait until gunicorn has worked off its backlog (its log stops growing)."""
    deadline = time.monotonic() + timeout
    last, since = count_lines(log), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        time.sleep(0.2)
        now = count_lines(log)
        if now != last:
            last, since = now, time.monotonic()


# ---------------------------------------------------------------- publishing through the admin


def csrf_token(html: str) -> str:
    """The CSRF token of the first form of a page."""
    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', html)
    value = re.search(r'value="([^"]+)"', tag[0]) if tag else None
    if not value:
        raise RuntimeError("no CSRF token in the page")
    return value[1]


def sign_in(base: str, email: str, password: str) -> requests.Session:
    """A session signed in through nginx, as a browser would be."""
    session = requests.Session()
    form = session.get(f"{base}/connexion", timeout=10)
    done = session.post(f"{base}/connexion", timeout=10, data={
        "csrf_token": csrf_token(form.text), "email": email, "password": password})
    if done.status_code != 200 or "/connexion" in done.url:
        raise RuntimeError(f"sign-in failed: {done.status_code} {done.url}")
    return session


def wait_for(urls: list[str], text: str, start: float,
             timeout: float = 30.0) -> list[float | None]:
    """Seconds from `start` until an anonymous GET of each URL contains `text` (None: never)."""
    seen: list[float | None] = [None] * len(urls)
    while None in seen and time.monotonic() - start < timeout:
        for index, url in enumerate(urls):
            if seen[index] is None and text in requests.get(url, timeout=5).text:
                seen[index] = time.monotonic() - start
        time.sleep(0.05)
    return seen


def publish(base: str, session: requests.Session, group: str, crowd: list[str]) -> Publish:
    """Publish a news item as the group's focal point while `crowd` (wrk) loads the home page;
    time until the public sees it on the home and group pages."""
    title = f"Publication du banc {secrets.token_hex(4)}"
    form_url = f"{base}/admin/groupes/{group}/actualites/nouvelle"
    token = csrf_token(session.get(form_url, timeout=10).text)
    if title in requests.get(f"{base}/", timeout=10).text:
        raise RuntimeError("the news item is on the home page before it is published")
    load = subprocess.Popen(crowd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(1.0)
        for _ in range(2):  # both pages freshly cached: the worst case for freshness
            requests.get(f"{base}/groupes/{group}/", timeout=10)
        start = time.monotonic()
        saved = session.post(form_url, timeout=10, data={
            "csrf_token": token, "title": title, "slug": "", "summary": "Mesure de fraîcheur.",
            "body": "Publiée par bench/portal pour mesurer le délai de publication.",
            "status": "published", "publish_at": "", "attachment_title": "", "action": "save"})
        if saved.status_code != 200 or f"/admin/groupes/{group}" not in saved.url:
            raise RuntimeError(f"publishing failed: {saved.status_code} {saved.url}")
        home_s, group_s = wait_for([f"{base}/", f"{base}/groupes/{group}/"], title, start)
    finally:
        load.send_signal(signal.SIGINT)  # wrk stops and prints its summary
        output, _ = load.communicate(timeout=30)
    crowd_rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    return Publish(title=title, visible_home_s=home_s, visible_group_s=group_s,
                   crowd_requests_per_s=float(crowd_rps[1]) if crowd_rps else 0.0)


# ---------------------------------------------------------------- checks of the config


def html_lang(html: str) -> str:
    """The `lang` attribute of a page's <html> element."""
    found = re.search(r'<html[^>]*\blang="([^"]+)"', html)
    return found[1] if found else "?"


def app_requests_for(log: Path, fetch: Callable[[], requests.Response], times: int) -> int:
    """How many of `times` calls of `fetch` reached gunicorn (lines added to its log)."""
    wait_quiet(log, quiet=0.5)
    before = count_lines(log)
    for _ in range(times):
        fetch()
    time.sleep(0.3)  # gunicorn logs a request just after answering it
    return count_lines(log) - before


def check_config(base: str, session: requests.Session, static_url: str, log: Path) -> Checks:
    """Who reaches the app (anonymous or signed in), per-language entries, headers."""
    checks = Checks(probes=10)
    requests.get(f"{base}/", timeout=10)
    checks.anonymous_app_requests = app_requests_for(
        log, lambda: requests.get(f"{base}/", timeout=10), checks.probes)
    checks.signed_in_app_requests = app_requests_for(
        log, lambda: session.get(f"{base}/", timeout=10), checks.probes)
    anonymous = requests.get(f"{base}/", timeout=10)
    checks.security_headers_through_cache = all(
        anonymous.headers.get(name) == value for name, value in page_headers().items())
    checks.signed_in_cache_control = session.get(f"{base}/", timeout=10).headers.get(
        "Cache-Control", "")
    for _ in range(2):
        english = requests.get(f"{base}/", cookies={"lang": "en"}, timeout=10)
    checks.english_home_lang = html_lang(english.text)
    checks.french_home_lang = html_lang(requests.get(f"{base}/", timeout=10).text)
    checks.static_cache_control = requests.get(static_url, timeout=10).headers.get(
        "Cache-Control", "")
    return checks


# ---------------------------------------------------------------- the run


@contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    """A temporary folder for the instance, nginx and logs (kept with --keep)."""
    path = Path(tempfile.mkdtemp(prefix="ptfops-bench-portal-"))
    path.chmod(0o755)  # nginx workers (nobody) read static files and write the cache here
    try:
        yield path
    finally:
        if keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def first_group(base: str) -> str:
    """The slug of the first platform listed in the public directory."""
    html = requests.get(f"{base}/groupes/", timeout=10).text
    slugs = re.findall(r'href="/groupes/([a-z0-9-]+)/"', html)
    if not slugs:
        raise RuntimeError("no group platform in /groupes/")
    return slugs[0]


def measure(args: argparse.Namespace, tmp: Path, procs: Processes) -> dict[str, Any]:
    """Set everything up, measure, and return the results."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # SQLite in the instance
    env.update(PTFOPS_INSTANCE=str(tmp / "instance"),
               PTFOPS_PUBLIC_CACHE_SECONDS=str(args.cache_seconds))
    snapshot_dir = None if args.no_snapshots else tmp / "snapshots"
    if snapshot_dir:
        env["PTFOPS_SNAPSHOT_DIR"] = str(snapshot_dir)
    run_cli(["db", "upgrade"], env)
    run_cli(["seed-demo"], env)
    if snapshot_dir:  # as the portal role's ptfops-snapshots service does
        procs.start("snapshots", [str(BIN / "ptfops"), "snapshots", "watch", "--interval", "1"],
                    tmp / "snapshots.log", env)

    app_port = web_port = free_port()
    while web_port == app_port:
        web_port = free_port()
    app = f"http://127.0.0.1:{app_port}"
    web = f"http://127.0.0.1:{web_port}"
    gunicorn_log = tmp / "gunicorn.log"
    procs.start("gunicorn", [str(BIN / "ptfops"), "serve", "--host", "127.0.0.1",
                             "--port", str(app_port), "--workers", "2"],
                gunicorn_log, env)
    wait_http(f"{app}/healthz", procs)

    static_dir = tmp / "static"
    shutil.copytree(ROOT / "sites" / "static", static_dir)
    home_html = requests.get(f"{app}/", timeout=10).content
    (static_dir / "bench").mkdir()
    (static_dir / "bench" / "home-size.html").write_bytes(home_html)  # same size, same type

    prefix = tmp / "nginx"
    site = nginx_site_values(f"127.0.0.1:{web_port}", f"127.0.0.1:{app_port}", static_dir,
                             prefix / "cache", prefix / "access.log", snapshot_dir)
    conf = write_nginx_conf(prefix, site)
    test = subprocess.run(["nginx", "-t", "-q", "-c", str(conf), "-p", str(prefix)],
                          capture_output=True, text=True, check=False)
    if test.returncode != 0:
        raise RuntimeError(f"nginx -t refused the config:\n{test.stderr}")
    nginx_pid = procs.start(
        "nginx", ["nginx", "-c", str(conf), "-p", str(prefix), "-g", "daemon off;"],
        prefix / "stdout.log", env)
    wait_http(f"{web}/healthz", procs)

    group = args.group or first_group(web)
    password = secrets.token_urlsafe(18)
    run_cli(["users", "add", FOCAL_EMAIL, "--name", "Banc d'essai", "--role", "focal",
             "--group", group, "--password-stdin"], env, stdin=password + "\n")

    targets = [
        Target("(a) static file, nginx", f"{web}/static/bench/home-size.html"),
        Target("(b) home, nginx", f"{web}/", cached=True),
        Target("(c) group page, nginx", f"{web}/groupes/{group}/", cached=True),
        Target("(d) home, gunicorn only", f"{app}/"),
    ]
    if args.gzip:  # what browsers ask for: nginx compresses each answer (not in the goals)
        targets += [Target("(e) static file, gzip", targets[0].url, gzip=True),
                    Target("(f) home, nginx, gzip", targets[1].url, cached=True, gzip=True)]
    sizes: dict[str, int] = {}
    for target in targets:
        for _ in range(2):  # the first one fills nginx's cache
            probe = requests.get(target.url, timeout=10, headers=target.headers(), stream=True)
            body = probe.raw.read(decode_content=False)  # as sent: compressed or not
        if probe.status_code != 200:
            raise RuntimeError(f"{target.url}: HTTP {probe.status_code}")
        if target.cached:
            fetch = partial(requests.get, target.url, timeout=10, headers=target.headers())
            reached = app_requests_for(gunicorn_log, fetch, 10)
            if reached > 1:  # one may be the refresh of an entry that just expired
                raise RuntimeError(f"{target.url}: {reached} of 10 requests reached the app; "
                                   "nginx is not caching it")
        sizes[target.label] = len(body)
    # The static file is measured before and after the pages it is compared with, so that a
    # drift in outside load during a round does not favour either side (ratio: their mean).
    order = [0, 1, 2, 0, 3, *range(4, len(targets))]
    rounds: list[list[WrkResult]] = [[] for _ in targets]
    for round_no in range(1, args.rounds + 1):
        for index in order:
            target = targets[index]
            wait_quiet(gunicorn_log)  # requests queued by the previous run must not overlap
            if args.warmup:
                wrk(target, args.warmup, args.connections, args.threads)
                wait_quiet(gunicorn_log)
            procs.check_alive()
            before, cpu_before = count_lines(gunicorn_log), children_cpu(nginx_pid)
            wrk_before, softirq_before = finished_children_cpu(), softirq_seconds()
            print(f"round {round_no}/{args.rounds}: {target.label}: {target.url}", flush=True)
            result = parse_wrk(target.label, target.url,
                               wrk(target, args.duration, args.connections, args.threads))
            result.app_requests = count_lines(gunicorn_log) - before
            result.nginx_cpu_us = (children_cpu(nginx_pid) - cpu_before) / result.requests * 1e6
            result.wrk_cpu_us = (finished_children_cpu() - wrk_before) / result.requests * 1e6
            result.softirq_us = (softirq_seconds() - softirq_before) / result.requests * 1e6
            result.body_bytes = sizes[target.label]
            rounds[index].append(result)
    procs.check_alive()

    session = sign_in(web, FOCAL_EMAIL, password)
    checks = check_config(web, session, f"{web}/static/css/site.css", gunicorn_log)
    if snapshot_dir:
        checks.snapshot_pages = sum(1 for _ in (snapshot_dir / "current").rglob("*.html"))
    crowd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", "-d60s", f"{web}/"]
    published = publish(web, session, group, crowd)
    return {"results": [combine(r) for r in rounds], "rounds": rounds, "publish": published,
            "checks": checks, "group": group, "page_bytes": len(home_html)}


def cpu_per_request(result: WrkResult) -> float:
    """Microseconds of CPU one request costs the machine: nginx, wrk and soft interrupts."""
    return result.nginx_cpu_us + result.wrk_cpu_us + result.softirq_us


def config_ok(checks: Checks) -> bool:
    """Anonymous visitors are served by the cache, signed-in ones by the app, per language,
    with the app's security headers."""
    return (checks.anonymous_app_requests <= 1
            and checks.signed_in_app_requests == checks.probes
            and "no-store" in checks.signed_in_cache_control
            and (checks.english_home_lang, checks.french_home_lang) == ("en", "fr")
            and checks.security_headers_through_cache
            and checks.snapshot_pages != 0)


def verdict(data: dict[str, Any]) -> dict[str, Any]:
    """Ratios and PASS/FAIL for each goal."""
    static, home, group = data["results"][:3]

    def ratio(index: int, base: int = 0) -> float:
        """Median over rounds of that round's req/s ratio (runs seconds apart, same load);
        the static file's two runs of a round (before and after) are averaged."""
        rounds = data["rounds"]
        bases = rounds[base]
        if len(bases) == 2 * len(rounds[index]):
            bases = [statistics.mean(r.requests_per_s for r in bases[i:i + 2])
                     for i in range(0, len(bases), 2)]
        else:
            bases = [r.requests_per_s for r in bases]
        return statistics.median(
            top.requests_per_s / bottom for top, bottom in zip(rounds[index], bases, strict=True))

    ratios = {"home_vs_static": ratio(1), "group_vs_static": ratio(2),
              "direct_vs_static": ratio(3)}
    if len(data["results"]) == 6:
        ratios["gzip_home_vs_static"] = ratio(5, 4)

    def cpu_ratio(page: WrkResult) -> float:
        """Static's CPU per request (nginx + wrk + soft interrupts) over the page's: the req/s
        ratio when the machine is CPU-bound; steadier than req/s on a busy machine."""
        cost = cpu_per_request(page)
        return cpu_per_request(static) / cost if cost else 0.0

    ratios["cpu_home_vs_static"] = cpu_ratio(home)
    ratios["cpu_group_vs_static"] = cpu_ratio(group)
    published: Publish = data["publish"]
    clean = all(r.errors == 0 and r.non_2xx_3xx == 0 for r in (static, home, group))
    goals = {
        "throughput": min(ratios["home_vs_static"], ratios["group_vs_static"]) >= GOAL_RATIO,
        "p99": max(home.p99_ms, group.p99_ms) < GOAL_P99_MS,
        "publish": all(s is not None and s <= GOAL_PUBLISH_S
                       for s in (published.visible_home_s, published.visible_group_s)),
        "no_errors": clean,
        "cache_rules": config_ok(data["checks"]),
    }
    return {"ratios": ratios, "goals": goals, "passed": all(goals.values())}


def report(data: dict[str, Any], outcome: dict[str, Any], args: argparse.Namespace,
           machine: dict[str, Any]) -> None:
    """Print the table, the ratios and the verdicts."""

    def mark(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    print()
    print(f"ptfops portal bench: wrk -t{args.threads} -c{args.connections} -d{args.duration}s, "
          f"{machine['cores']} cores, {machine['nginx']}, page {data['page_bytes']:,} bytes, "
          f"PUBLIC_CACHE_SECONDS={args.cache_seconds}, "
          f"{'micro-cache only' if args.no_snapshots else 'snapshots + micro-cache'}")
    print(f"{args.rounds} round(s): median req/s, p50 and ratio, worst p99; 1-min load average "
          f"{machine['load_before']:.1f} before, {machine['load_after']:.1f} after "
          "(other work on the machine skews the numbers)")
    print(f"{'':27} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'app reqs':>9} {'errors':>7} "
          f"{'nginx CPU/req':>14}")
    for r in data["results"]:
        print(f"{r.label:27} {r.requests_per_s:9,.0f} {r.p50_ms:8.2f} {r.p99_ms:8.2f} "
              f"{r.app_requests:9,} {r.errors + r.non_2xx_3xx:7,} {r.nginx_cpu_us:11.1f} us")
    ratios, goals = outcome["ratios"], outcome["goals"]
    static, home, group, direct = data["results"][:4]
    print()
    print(f"b/a home via nginx / static   {ratios['home_vs_static']:6.1%}  "
          f"(goal >= {GOAL_RATIO:.0%})")
    print(f"c/a group via nginx / static  {ratios['group_vs_static']:6.1%}  "
          f"(goal >= {GOAL_RATIO:.0%})")
    print(f"d/a gunicorn alone / static   {ratios['direct_vs_static']:6.1%}  (for comparison)")
    print("CPU per request (nginx + wrk + softirq): " + ", ".join(
        f"{name} {r.nginx_cpu_us:.1f} + {r.wrk_cpu_us:.1f} + {r.softirq_us:.1f} us"
        for name, r in (("static", static), ("home", home), ("group", group))))
    print(f"  ratios by CPU cost, steadier than req/s when other work shares the machine: "
          f"b/a {ratios['cpu_home_vs_static']:.1%}, c/a {ratios['cpu_group_vs_static']:.1%}")
    if len(data["results"]) == 6:
        zipped_home = data["results"][5]
        print(f"f/e home / static, both gzip  {ratios['gzip_home_vs_static']:6.1%}  "
              f"(browsers' case: {zipped_home.body_bytes:,} bytes gzipped, not in the goals)")
    print(f"p99 home {home.p99_ms:.2f} ms, group {group.p99_ms:.2f} ms "
          f"(goal < {GOAL_P99_MS:.0f} ms); gunicorn alone {direct.p99_ms:.2f} ms")
    pub: Publish = data["publish"]

    def secs(value: float | None) -> str:
        return "never (30 s)" if value is None else f"{value:.2f} s"

    print(f"publish visible: home {secs(pub.visible_home_s)}, group page "
          f"{secs(pub.visible_group_s)} (goal <= {GOAL_PUBLISH_S:.0f} s),\n"
          f"  published during a crowd on the home page (wrk -c{args.connections}: "
          f"{pub.crowd_requests_per_s:,.0f} req/s)")
    checks: Checks = data["checks"]
    print(f"reached the app: {checks.anonymous_app_requests} of {checks.probes} anonymous "
          f"requests, {checks.signed_in_app_requests} of {checks.probes} signed-in ones "
          f"({checks.signed_in_cache_control});\n"
          f"  html lang with cookie lang=en: {checks.english_home_lang}, without: "
          f"{checks.french_home_lang}; security headers on cached pages: "
          f"{'yes' if checks.security_headers_through_cache else 'NO'}; "
          + (f"{checks.snapshot_pages} page(s) in static snapshots" if not args.no_snapshots
             else "snapshots off (micro-cache only)"))
    print()
    print(f"throughput {mark(goals['throughput'])}  p99 {mark(goals['p99'])}  "
          f"publish {mark(goals['publish'])}  errors {mark(goals['no_errors'])}  "
          f"cache rules {mark(goals['cache_rules'])}  "
          f"=> {mark(outcome['passed'])}")


def main() -> int:
    """Parse options, run the bench, always stop what it started."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure a, b, c, d this many times in turn (median req/s, worst p99)")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured wrk seconds first")
    parser.add_argument("--cache-seconds", type=int, default=2,
                        help="PTFOPS_PUBLIC_CACHE_SECONDS for the app (X-Accel-Expires)")
    parser.add_argument("--gzip", action="store_true",
                        help="also measure (e) the static file and (f) the home page gzipped")
    parser.add_argument("--group", help="group slug for (c) (default: the first listed)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--no-snapshots", action="store_true",
                        help="no static snapshots: public pages from nginx's micro-cache only")
    args = parser.parse_args()
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None:
            print(f"error: {tool} is not installed (make system-deps)", file=sys.stderr)
            return 2

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    machine = {"cores": os.cpu_count(), "nginx": nginx_version(),
               "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True,
                                     check=False).stdout.split("\n")[0].strip(),
               "python": platform.python_version(), "kernel": platform.release(),
               "load_before": os.getloadavg()[0]}
    procs = Processes()
    with workdir(args.keep) as tmp:
        try:
            data = measure(args, tmp, procs)
        finally:
            procs.stop_all()
    machine["load_after"] = os.getloadavg()[0]
    outcome = verdict(data)
    report(data, outcome, args, machine)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine,
        "options": vars(args),
        "page_bytes": data["page_bytes"],
        "group": data["group"],
        "results": [asdict(r) for r in data["results"]],
        "rounds": [[asdict(r) for r in runs] for runs in data["rounds"]],
        "publish": asdict(data["publish"]),
        "checks": asdict(data["checks"]),
        "goals": {"ratio_min": GOAL_RATIO, "p99_ms_max": GOAL_P99_MS,
                  "publish_s_max": GOAL_PUBLISH_S},
        **outcome,
    }, indent=2, default=str) + "\n")
    print(f"results written to {RESULTS.relative_to(ROOT)}")
    return 0 if outcome["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
