"""The playbooks for real: converge site.yml on a lab of 3 booted Debian 12 hosts, then check
from outside (HTTPS, redirect, firewall, SSH, systemd), idempotence, a zero-downtime deploy
and its rollback, and a backup restored onto another host.

Root only; one lab per machine (it fails if one is already up). Timings are printed at the end
(`pytest -m lab tests/lab/test_deploy.py -s`).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import yaml

REPO = Path(__file__).resolve().parents[2]
PTFOPS = Path(sys.executable).with_name("ptfops")
BUILD = REPO / "playbooks" / "roles" / "portal" / "files" / "build_release.py"
SSH_OPTIONS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
               "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5"]
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                   re.MULTILINE)
MARKER = "<!-- release B of test_deploy -->"
BROKEN = "this release of test_deploy cannot start"
TIMINGS: dict[str, float] = {}

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0,
                       reason="the lab needs root (network namespaces, mounts, systemd-nspawn)"),
]


def ptfops(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run the real `ptfops` command line from the checkout."""
    return subprocess.run([str(PTFOPS), *args], capture_output=True, text=True, timeout=timeout,
                          cwd=REPO, stdin=subprocess.DEVNULL, check=False)


@dataclass
class Lab:
    """The lab under test: hosts (name -> address), its key, the two releases built."""

    hosts: dict[str, str]
    key: str
    release_a: Path
    release_b: Path
    release_broken: Path
    ca: str = ""
    recaps: dict[str, dict[str, tuple[int, int, int, int]]] = field(default_factory=dict)

    @property
    def web(self) -> list[str]:
        """Names of the web hosts."""
        return [name for name in self.hosts if name.startswith("web")]

    def ssh(self, name: str, command: str, timeout: float = 120,
            *options: str) -> subprocess.CompletedProcess[str]:
        """Run a command as root on a host over SSH."""
        argv = ["ssh", *SSH_OPTIONS, *options, "-i", self.key, f"root@{self.hosts[name]}",
                command]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, check=False)

    def run(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        """`ptfops deploy --playbook NAME` on the lab, timed."""
        started = time.monotonic()
        done = ptfops("deploy", "--playbook", name, *args)
        runs = sum(1 for key in TIMINGS if key.startswith(f"{name}.yml"))
        TIMINGS[f"{name}.yml #{runs + 1}"] = time.monotonic() - started
        return done

    def playbook(self, name: str, *args: str) -> dict[str, tuple[int, int, int, int]]:
        """Run a playbook; fails the test unless it succeeds; the recap of each host."""
        done = self.run(name, *args)
        assert done.returncode == 0, f"{name}.yml failed:\n{done.stdout[-6000:]}\n{done.stderr}"
        return {m[1]: tuple(int(x) for x in m.groups()[1:]) for m in RECAP.finditer(done.stdout)}

    def current_release(self, name: str) -> str:
        """The release the `current` symlink of a web host points at."""
        return Path(self.ssh(name, "readlink /srv/ptfops/current").stdout.strip()).name


def build(source: Path, out: Path) -> Path:
    """A release archive of `source`, made by the role's own build script."""
    done = subprocess.run([sys.executable, str(BUILD), "--source", str(source), "--out", str(out)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return Path(yaml.safe_load(done.stdout)["archive"])


def changed_source(tmp: Path, name: str, path: str, old: str, new: str) -> Path:
    """A copy of the checkout's sources with one replacement in one file: another build."""
    sys.path.insert(0, str(BUILD.parent))
    try:
        import build_release
    finally:
        sys.path.pop(0)
    target = tmp / name
    for source in build_release.source_files(REPO):
        (target / source).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / source, target / source)
    changed = target / path
    text = changed.read_text()
    assert old in text
    changed.write_text(text.replace(old, new))
    return target


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A lab of 3 hosts (web1, web2, backup1) with site.yml converged, torn down at the end."""
    status = ptfops("lab", "status")
    if " booted " in status.stdout:  # a stale lab (nothing running) is replaced by `lab up`
        pytest.fail("a lab is already up on this machine (one lab per machine): "
                    f"`ptfops lab down` first\n{status.stdout}")
    tmp = tmp_path_factory.mktemp("deploy")
    started = time.monotonic()
    release_a = build(REPO, tmp / "releases")  # frozen now: the tree may change during the run
    # B: pages carry a marker (a new build, visibly different); broken: the app cannot load.
    release_b = build(changed_source(tmp, "release-b", "sites/templates/base.html", "</body>",
                                     f"{MARKER}\n</body>"), tmp / "releases")
    release_broken = build(changed_source(tmp, "release-broken", "sites/wsgi.py", "\ntry:\n",
                                          f"\nraise RuntimeError({BROKEN!r})\ntry:\n"),
                           tmp / "releases")
    TIMINGS["build 3 releases"] = time.monotonic() - started
    started = time.monotonic()
    up = ptfops("lab", "up", "--hosts", "3")
    if up.returncode != 0:
        pytest.fail(f"lab up failed:\n{up.stdout}\n{up.stderr}")
    TIMINGS["lab up --hosts 3"] = time.monotonic() - started
    try:
        inventory = yaml.safe_load((REPO / "inventory" / "lab" / "hosts.yml").read_text())["all"]
        hosts = {name: spec["ansible_host"] for group in inventory["children"].values()
                 for name, spec in (group or {}).get("hosts", {}).items()}
        lab = Lab(hosts, inventory["vars"]["ansible_ssh_private_key_file"], release_a, release_b,
                  release_broken)
        lab.recaps["first"] = lab.playbook("site", "-e", f"portal_release_archive={release_a}")
        # Trust each web host's self-signed certificate (it must name the host's address).
        bundle = tmp / "lab-certificates.pem"
        bundle.write_text("".join(ssl.get_server_certificate((lab.hosts[name], 443))
                                  for name in lab.web))
        lab.ca = str(bundle)
        yield lab
    finally:
        started = time.monotonic()
        ptfops("lab", "down")
        TIMINGS["lab down"] = time.monotonic() - started
        print("\n" + "\n".join(f"{k:28} {v:6.1f} s" for k, v in TIMINGS.items() if v))
        print(f"{'total':28} {sum(TIMINGS.values()):6.1f} s")


def test_site_converges_every_host_without_failure(lab: Lab) -> None:
    assert set(lab.recaps["first"]) == {"web1", "web2", "backup1"}
    for host, (_ok, changed, unreachable, failed) in lab.recaps["first"].items():
        assert (unreachable, failed) == (0, 0), host
        assert changed > 0, host


def test_a_second_converge_changes_nothing_on_any_host(lab: Lab) -> None:
    recap = lab.playbook("site", "-e", f"portal_release_archive={lab.release_a}")
    assert {host: counts[1] for host, counts in recap.items()} == {
        "web1": 0, "web2": 0, "backup1": 0}
    first, second = TIMINGS["site.yml #1"], TIMINGS["site.yml #2"]
    print(f"\nconverge: first {first:.0f} s, second {second:.0f} s ({second / first:.0%})")


def test_the_portal_answers_over_https_with_demo_content_on_each_web_host(lab: Lab) -> None:
    for name in lab.web:
        home = requests.get(f"https://{lab.hosts[name]}/", verify=lab.ca, timeout=30)
        assert home.status_code == 200, name
        assert "<title>Accueil" in home.text
        news = requests.get(f"https://{lab.hosts[name]}/actualites/", verify=lab.ca, timeout=30)
        assert news.status_code == 200
        assert news.text.count('href="/actualites/') >= 5  # the demo's news items
        assert home.headers["Strict-Transport-Security"].startswith("max-age=")
        assert home.headers["X-Frame-Options"] == "DENY"
        assert "script-src 'self'" in home.headers["Content-Security-Policy"]
        css = requests.get(f"https://{lab.hosts[name]}/static/css/site.css", verify=lab.ca,
                           timeout=30, headers={"Accept-Encoding": "gzip"})
        assert css.status_code == 200
        assert css.headers["Content-Encoding"] == "gzip"  # compression
        assert "max-age=" in css.headers["Cache-Control"]  # served by nginx from disk
        assert css.headers["Strict-Transport-Security"].startswith("max-age=")


def test_every_group_platform_answers_at_its_path_and_its_own_host_name(lab: Lab) -> None:
    groups = yaml.safe_load((REPO / "inventory" / "groups.yml").read_text())["groups"]
    session = requests.Session()
    for name in lab.web:
        for group in groups:
            page = session.get(f"https://{lab.hosts[name]}/groupes/{group['slug']}/",
                               verify=lab.ca, timeout=30)
            assert page.status_code == 200, (name, group["slug"])
            assert group["short_name"] in page.text
        own = session.get(f"https://{lab.hosts[name]}/", verify=lab.ca, timeout=30,
                          headers={"Host": "sante.lab.ptf-mali.test"})
        assert own.status_code == 200
        assert "<title>GT Santé" in own.text


def test_plain_http_redirects_to_https(lab: Lab) -> None:
    for name in lab.web:
        answer = requests.get(f"http://{lab.hosts[name]}/groupes/?x=1", allow_redirects=False,
                              timeout=30)
        assert answer.status_code == 301
        assert answer.headers["Location"] == f"https://{lab.hosts[name]}/groupes/?x=1"


def test_the_firewall_drops_every_port_no_role_declared(lab: Lab) -> None:
    # A server listening on every address of web1, on a port no role opened.
    started = lab.ssh("web1", "systemd-run --unit=fwprobe python3 -m http.server 9999 "
                              "--bind 0.0.0.0 && sleep 1 && curl -s -o /dev/null -w '%{http_code}' "
                              "http://10.250.1.11:9999/")
    try:
        assert started.stdout.strip().endswith("200"), started.stderr  # it answers inside
        for port in (9999, 8000):
            with pytest.raises(OSError):
                socket.create_connection((lab.hosts["web1"], port), timeout=3).close()
        for port in (22, 80, 443):
            socket.create_connection((lab.hosts["web1"], port), timeout=3).close()
    finally:
        lab.ssh("web1", "systemctl stop fwprobe")
    rules = lab.ssh("web1", "nft list table inet ptfops_filter").stdout
    assert "policy drop" in rules
    assert re.search(r"tcp dport \{ 80, 443 \} accept", rules)


def test_ssh_refuses_passwords(lab: Lab) -> None:
    for name in lab.hosts:
        done = lab.ssh(name, "true", 30, "-o", "PreferredAuthentications=password",
                       "-o", "PubkeyAuthentication=no", "-o", "BatchMode=yes")
        assert done.returncode == 255
        assert "Permission denied (publickey)" in done.stderr  # the only method offered
    config = lab.ssh("web1", "sshd -T").stdout
    assert "passwordauthentication no" in config
    assert "permitrootlogin without-password" in config


def test_systemd_restarts_gunicorn_when_it_is_killed(lab: Lab) -> None:
    show = "systemctl show -p MainPID --value ptfops-portal.service"
    before = int(lab.ssh("web1", show).stdout)
    assert before > 0
    lab.ssh("web1", f"kill -9 {before}")
    deadline = time.monotonic() + 60
    after = 0
    while time.monotonic() < deadline:
        after = int(lab.ssh("web1", show).stdout or 0)
        if after not in (0, before):
            break
        time.sleep(1)
    assert after not in (0, before)
    assert lab.ssh("web1", "systemctl is-active ptfops-portal.service").stdout.strip() == "active"
    health = requests.get(f"https://{lab.hosts['web1']}/healthz", verify=lab.ca, timeout=30)
    assert health.json() == {"database": "ok", "status": "ok"}


class RequestLoop(threading.Thread):
    """Requests to the web hosts, one after another, until stopped; errors are kept."""

    def __init__(self, urls: list[str], ca: str) -> None:
        super().__init__(daemon=True)
        self.urls, self.ca, self.errors, self.count = urls, ca, [], 0
        self.stopping = threading.Event()

    def run(self) -> None:
        """Alternate cached pages and pages that always reach the app."""
        session = requests.Session()
        while not self.stopping.is_set():
            for url in self.urls:
                try:
                    answer = session.get(url, verify=self.ca, timeout=30)
                    if answer.status_code != 200:
                        self.errors.append(f"{url}: {answer.status_code}")
                except requests.RequestException as exc:
                    self.errors.append(f"{url}: {exc}")
                self.count += 1
            time.sleep(0.02)


def test_a_new_build_deploys_without_downtime_and_rollback_returns(lab: Lab) -> None:
    release_a = lab.release_a.stem.removeprefix("ptfops-")
    release_b = lab.release_b.stem.removeprefix("ptfops-")
    assert release_a != release_b
    assert lab.current_release("web1") == release_a
    urls = [f"https://{lab.hosts[name]}{path}" for name in lab.web
            for path in ("/healthz", "/connexion", "/")]
    loop = RequestLoop(urls, lab.ca)
    loop.start()
    try:
        lab.playbook("deploy", "-e", f"portal_release_archive={lab.release_b}")
    finally:
        loop.stopping.set()
        loop.join()
    assert loop.errors == []
    assert loop.count > 100
    for name in lab.web:
        assert lab.current_release(name) == release_b
        page = requests.get(f"https://{lab.hosts[name]}/connexion", verify=lab.ca, timeout=30)
        assert MARKER in page.text  # the new build serves

    lab.playbook("rollback")
    for name in lab.web:
        assert lab.current_release(name) == release_a
        assert Path(lab.ssh(name, "readlink /srv/ptfops/previous").stdout.strip()).name == (
            release_b)
        page = requests.get(f"https://{lab.hosts[name]}/connexion", verify=lab.ca, timeout=30)
        assert MARKER not in page.text  # the previous build serves again


def test_a_release_that_cannot_start_is_refused_while_the_running_one_serves(lab: Lab) -> None:
    before = {name: lab.current_release(name) for name in lab.web}
    loop = RequestLoop([f"https://{lab.hosts[name]}/healthz" for name in lab.web], lab.ca)
    loop.start()
    try:
        done = lab.run("deploy", "-e", f"portal_release_archive={lab.release_broken}")
    finally:
        loop.stopping.set()
        loop.join()
    assert done.returncode != 0
    assert BROKEN in done.stdout + done.stderr  # the reason, from the check before the switch
    assert {name: lab.current_release(name) for name in lab.web} == before
    assert loop.errors == []
    assert loop.count > 20


def test_a_backup_restored_onto_another_web_host_gives_the_same_content(lab: Lab) -> None:
    # Content only web1 has: an account and an uploaded file.
    added = lab.ssh("web1", "echo 'une phrase assez longue' | ptfops users add "
                            "restore-proof@example.org --name 'Restore Proof' --role admin "
                            "--password-stdin && cd /srv/ptfops/shared/instance/uploads && "
                            "mkdir -p zz && head -c 4096 /dev/urandom > zz/proof && "
                            "sha256sum zz/proof")
    assert added.returncode == 0, added.stderr
    proof_sum = added.stdout.split()[-2]
    started = time.time()
    lab.playbook("backup", "--limit", "web1")
    metric = lab.ssh("web1", "cat /var/lib/prometheus/node-exporter/ptfops_backup.prom").stdout
    last = float(re.search(r"^ptfops_backup_last_success_timestamp_seconds (\S+)$", metric,
                           re.MULTILINE)[1])
    assert last >= started - 5
    assert "ptfops_backup_last_run_success 1" in metric

    assert "restore-proof@example.org" not in lab.ssh("web2", "ptfops users list").stdout
    lab.playbook("restore", "--limit", "web2", "-e", "backup_restore_source=web1")
    users = {host: lab.ssh(host, "ptfops users list").stdout for host in lab.web}
    assert "restore-proof@example.org" in users["web2"]
    assert users["web2"] == users["web1"]
    restored = lab.ssh("web2", "sha256sum /srv/ptfops/shared/instance/uploads/zz/proof")
    assert restored.stdout.split()[0] == proof_sum
    paths = ("/actualites/", "/documents/", "/groupes/gt-sante/")
    for host in lab.web:  # refresh nginx's short cache (a stale copy is served once)
        for path in paths:
            requests.get(f"https://{lab.hosts[host]}{path}", verify=lab.ca, timeout=30)
    time.sleep(1)
    for path in paths:
        pages = [requests.get(f"https://{lab.hosts[host]}{path}", verify=lab.ca, timeout=30).text
                 for host in lab.web]
        assert pages[0] == pages[1], path
