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
MARKER_BAD_MIGRATION = "<!-- release with a failing migration, of test_deploy -->"
FAILING_MIGRATION = "migration 9999 of test_deploy fails half-way"
INSTANCE = "/srv/ptfops/shared/instance"
BORG_REPOSITORIES = "/srv/borg/ptfops"
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
    release_bad_migration: Path
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


def add_failing_migration(source: Path) -> None:
    """Add to a copy of the sources a migration that changes the schema, then fails."""
    versions = source / "sites" / "migrations" / "versions"
    revisions, parents = set(), set()
    for script in versions.glob("*.py"):
        text = script.read_text()
        revisions |= set(re.findall(r"^revision = ['\"](\w+)['\"]", text, re.MULTILINE))
        parents |= set(re.findall(r"^down_revision = ['\"](\w+)['\"]", text, re.MULTILINE))
    (head,) = revisions - parents
    (versions / "9999_fails_half_way.py").write_text(f'''"""A migration that fails half-way."""
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("half_way_probe", sa.Column("id", sa.Integer(), primary_key=True))
    op.add_column("users", sa.Column("half_way_probe", sa.Integer(), nullable=True))
    raise RuntimeError({FAILING_MIGRATION!r})


def downgrade() -> None:
    op.drop_table("half_way_probe")
''')


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
    # A new build (visibly: a marker) whose migration changes the schema, then fails.
    bad_migration = changed_source(tmp, "release-bad-migration", "sites/templates/base.html",
                                   "</body>", f"{MARKER_BAD_MIGRATION}\n</body>")
    add_failing_migration(bad_migration)
    release_bad_migration = build(bad_migration, tmp / "releases")
    TIMINGS["build 4 releases"] = time.monotonic() - started
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
                  release_broken, release_bad_migration)
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


def template_tasks() -> set[str]:
    """`role : name` of the roles' template tasks that run only for a file that differs."""
    names = set()
    for path in (REPO / "playbooks" / "roles").glob("*/tasks/*.yml"):
        for task in yaml.safe_load(path.read_text()) or []:
            if "ansible.builtin.template" in task and "_files_to_write" in str(task.get("when")):
                names.add(f"{path.parts[-3]} : {task['name']}")
    return names


def task_results(output: str) -> dict[str, set[str]]:
    """What each task of a run's output reported (ok, changed, skipping...) on any host."""
    results: dict[str, set[str]] = {}
    task = ""
    for line in output.splitlines():
        if found := re.match(r"^(?:TASK|RUNNING HANDLER) \[(.+?)\] \*", line):
            task = found[1]
        elif found := re.match(r"^(ok|changed|skipping|failed|fatal): \[", line):
            results.setdefault(task, set()).add(found[1])
    return results


def test_a_second_converge_changes_nothing_on_any_host(lab: Lab) -> None:
    done = lab.run("site", "-e", f"portal_release_archive={lab.release_a}")
    assert done.returncode == 0, done.stdout[-6000:]
    recap = {m[1]: int(m[3]) for m in RECAP.finditer(done.stdout)}
    assert recap == {"web1": 0, "web2": 0, "backup1": 0}
    # Every file the roles write from a template was found as it should be by the one read of
    # its role (tasks/files.yml): no template task ran. One that runs each time means the
    # role's list of files disagrees with the task (path, mode, owner) or the rendering.
    results = task_results(done.stdout)
    templates = template_tasks()
    assert len(templates) >= 15
    assert {name: results[name] for name in templates if name in results
            and results[name] != {"skipping"}} == {}
    first, second = TIMINGS["site.yml #1"], TIMINGS["site.yml #2"]
    print(f"\nconverge: first {first:.0f} s, second {second:.0f} s ({second / first:.0%})")


def test_a_converge_puts_back_what_drifted_on_a_host(lab: Lab) -> None:
    # The roles read packages, services, folders and the certificate in one command each and
    # act only on what differs: what was changed by hand must still be found and put back.
    lab.ssh("web2", "systemctl disable --now fail2ban nftables && "
                    "apt-get remove -y -q less && "
                    "chmod 0777 /srv/ptfops/shared/instance/uploads && "
                    "chown root /srv/ptfops/snapshots && "
                    # a key that is not the certificate's, readable by all
                    "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
                    "-out /etc/ssl/ptfops/portal.key && chmod 0644 /etc/ssl/ptfops/portal.key && "
                    "chmod 0644 /etc/ptfops/ptfops.env && "
                    "echo '# by hand' >> /etc/ssh/sshd_config.d/10-ptfops.conf && "
                    "rm /etc/systemd/system/ptfops-backup.timer && systemctl daemon-reload")
    recap = lab.playbook("site", "--limit", "web2", "-e",
                         f"portal_release_archive={lab.release_a}")
    assert recap["web2"][1] > 0  # changes were reported
    state = lab.ssh("web2", "systemctl is-enabled fail2ban nftables; "
                            "systemctl is-active fail2ban nftables; "
                            "dpkg-query -W -f '${db:Status-Abbrev}' less; echo; "
                            "stat -c '%a %U' /srv/ptfops/shared/instance/uploads "
                            "/srv/ptfops/snapshots /etc/ssl/ptfops/portal.key "
                            "/etc/ptfops/ptfops.env; "
                            "grep -c 'by hand' /etc/ssh/sshd_config.d/10-ptfops.conf; "
                            "systemctl is-active ptfops-backup.timer").stdout.split()
    assert state == ["enabled", "enabled", "active", "active", "ii",
                     "750", "ptfops", "755", "ptfops", "600", "root", "640", "root",
                     "0", "active"]
    rules = lab.ssh("web2", "nft list table inet ptfops_filter")
    assert rules.returncode == 0 and "policy drop" in rules.stdout
    # A new key and certificate, the key the certificate's, naming the host and its address
    # (the later tests trust it).
    names = lab.ssh("web2", "openssl x509 -noout -ext subjectAltName "
                            "-in /etc/ssl/ptfops/portal.crt").stdout
    assert f"IP Address:{lab.hosts['web2']}" in names and "DNS:web2." in names
    keys = lab.ssh("web2", "openssl pkey -pubout -in /etc/ssl/ptfops/portal.key; "
                           "openssl x509 -noout -pubkey -in /etc/ssl/ptfops/portal.crt").stdout
    assert keys.count("BEGIN PUBLIC KEY") == 2
    assert keys[:len(keys) // 2] == keys[len(keys) // 2:]
    Path(lab.ca).write_text("".join(ssl.get_server_certificate((lab.hosts[name], 443))
                                    for name in lab.web))


def test_unattended_upgrades_take_security_updates_only(lab: Lab) -> None:
    # Our apt.conf.d file clears Debian's list of origins (50unattended-upgrades) and sets ours.
    done = lab.ssh("web1", "cp /usr/share/unattended-upgrades/50unattended-upgrades "
                           "/etc/apt/apt.conf.d/50unattended-upgrades && "
                           "unattended-upgrade --dry-run --debug 2>&1 | grep 'Allowed origins'")
    assert done.stdout.strip().endswith(
        "Allowed origins are: origin=Debian,codename=bookworm-security,label=Debian-Security"), \
        done.stdout


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


def test_public_pages_are_served_from_static_snapshots_with_the_portals_headers(
        lab: Lab) -> None:
    from sites.security import page_headers

    for name in lab.web:
        url = f"https://{lab.hosts[name]}/groupes/"
        deadline = time.monotonic() + 15
        while True:  # the first visit renders and writes it; nginx sees it within a second
            page = requests.get(url, verify=lab.ca, timeout=30)
            if "-" in page.headers.get("ETag", "") or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert page.status_code == 200 and "-" in page.headers["ETag"], (name, page.headers)
        for header, value in page_headers().items():
            assert page.headers.get(header) == value, (name, header)
        assert page.headers["Strict-Transport-Security"].startswith("max-age=")
        assert page.headers["Content-Type"] == "text/html; charset=utf-8"
        stored = lab.ssh(name, f"cat /srv/ptfops/snapshots/current/{lab.hosts[name]}"
                               "/fr/groupes/index.html")
        assert stored.returncode == 0 and stored.stdout == page.text, name
        assert lab.ssh(name, "systemctl is-active ptfops-snapshots.service").stdout.strip() \
            == "active", name


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

    def __init__(self, urls: list[str], ca: str, forbidden: str = "") -> None:
        super().__init__(daemon=True)
        self.urls, self.ca, self.errors, self.count = urls, ca, [], 0
        self.forbidden = forbidden  # text no answer may hold (e.g. a release's marker)
        self.stopping = threading.Event()

    def __enter__(self) -> RequestLoop:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.join()

    def run(self) -> None:
        """Alternate cached pages and pages that always reach the app."""
        session = requests.Session()
        while not self.stopping.is_set():
            for url in self.urls:
                try:
                    answer = session.get(url, verify=self.ca, timeout=30)
                    if answer.status_code != 200:
                        self.errors.append(f"{url}: {answer.status_code}")
                    elif self.forbidden and self.forbidden in answer.text:
                        self.errors.append(f"{url}: served {self.forbidden!r}")
                except requests.RequestException as exc:
                    self.errors.append(f"{url}: {exc}")
                self.count += 1
            time.sleep(0.02)


def public_page_shows(lab: Lab, name: str, text: str) -> bool:
    """Whether the home page (a snapshot after a visit or two) settles on holding `text`:
    nginx may send the previous generation's file for up to a second after the switch."""
    url = f"https://{lab.hosts[name]}/"
    for _ in range(2):  # the first visit renders the page and writes its snapshot
        requests.get(url, verify=lab.ca, timeout=30)
    time.sleep(2)
    seen = {text in requests.get(url, verify=lab.ca, timeout=30).text for _ in range(3)}
    assert len(seen) == 1, f"{url} flips between two builds"
    return seen.pop()


def test_a_new_build_deploys_without_downtime_and_rollback_returns(lab: Lab) -> None:
    release_a = lab.release_a.stem.removeprefix("ptfops-")
    release_b = lab.release_b.stem.removeprefix("ptfops-")
    assert release_a != release_b
    assert lab.current_release("web1") == release_a
    urls = [f"https://{lab.hosts[name]}{path}" for name in lab.web
            for path in ("/healthz", "/connexion", "/")]
    with RequestLoop(urls, lab.ca) as loop:
        lab.playbook("deploy", "-e", f"portal_release_archive={lab.release_b}")
    assert loop.errors == []
    assert loop.count > 100
    for name in lab.web:
        assert lab.current_release(name) == release_b
        page = requests.get(f"https://{lab.hosts[name]}/connexion", verify=lab.ca, timeout=30)
        assert MARKER in page.text  # the new build serves
        assert public_page_shows(lab, name, MARKER)  # not the old build's snapshots

    lab.playbook("rollback")
    for name in lab.web:
        assert lab.current_release(name) == release_a
        assert Path(lab.ssh(name, "readlink /srv/ptfops/previous").stdout.strip()).name == (
            release_b)
        page = requests.get(f"https://{lab.hosts[name]}/connexion", verify=lab.ca, timeout=30)
        assert MARKER not in page.text  # the previous build serves again
        assert not public_page_shows(lab, name, MARKER)  # nor B's snapshots


def test_a_release_that_cannot_start_is_refused_while_the_running_one_serves(lab: Lab) -> None:
    before = {name: lab.current_release(name) for name in lab.web}
    urls = [f"https://{lab.hosts[name]}/healthz" for name in lab.web]
    with RequestLoop(urls, lab.ca) as loop:
        done = lab.run("deploy", "-e", f"portal_release_archive={lab.release_broken}")
    assert done.returncode != 0
    assert BROKEN in done.stdout + done.stderr  # the reason, from the check before the switch
    assert {name: lab.current_release(name) for name in lab.web} == before
    assert loop.errors == []
    assert loop.count > 20


def database_state(lab: Lab, name: str) -> str:
    """The schema and revision of a web host's database."""
    revision = "'select version_num from alembic_version'"
    return lab.ssh(name, f"sqlite3 {INSTANCE}/ptfops.sqlite3 .schema {revision}").stdout


def test_a_failed_migration_stops_the_deploy_and_leaves_the_running_release_and_database(
        lab: Lab) -> None:
    bad = lab.release_bad_migration.stem.removeprefix("ptfops-")
    before = {name: lab.current_release(name) for name in lab.web}
    databases = {name: database_state(lab, name) for name in lab.web}
    assert all("CREATE TABLE users" in state for state in databases.values())
    urls = [f"https://{lab.hosts[name]}{path}" for name in lab.web
            for path in ("/healthz", "/connexion")]
    with RequestLoop(urls, lab.ca, forbidden=MARKER_BAD_MIGRATION) as loop:
        done = lab.run("deploy", "-e", f"portal_release_archive={lab.release_bad_migration}")
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == len(lab.web), done.stderr
    for name, error in zip(sorted(lab.web), sorted(errors), strict=True):
        assert (f"The migrations of release {bad} failed on {name}: RuntimeError: "
                f"{FAILING_MIGRATION}. Nothing was switched: release {before[name]} still "
                "serves, on the database as it was") in error
    assert {name: lab.current_release(name) for name in lab.web} == before
    # Not half-migrated: same schema, same revision, no copy left beside it.
    assert {name: database_state(lab, name) for name in lab.web} == databases
    for name in lab.web:
        assert lab.ssh(name, f"test -e {INSTANCE}/migration-rehearsal.sqlite3").returncode == 1
    assert loop.errors == []
    assert loop.count > 20
    for name in lab.web:
        page = requests.get(f"https://{lab.hosts[name]}/connexion", verify=lab.ca, timeout=30)
        assert page.status_code == 200
        assert MARKER_BAD_MIGRATION not in page.text


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


def backup_metric(lab: Lab, name: str, metric: str) -> float:
    """A value of the backup's freshness file on a web host."""
    text = lab.ssh(name, "cat /var/lib/prometheus/node-exporter/ptfops_backup.prom").stdout
    return float(re.search(rf"^{metric} (\S+)$", text, re.MULTILINE)[1])


def archives(lab: Lab, name: str) -> list[str]:
    """The archives of a web host's repository, oldest first."""
    listed = lab.ssh(name, "ptfops-restore --list")
    assert listed.returncode == 0, listed.stderr
    return listed.stdout.split()


def test_a_full_backup_host_stops_the_backup_and_keeps_the_earlier_archives(lab: Lab) -> None:
    if not archives(lab, "web1"):  # the test above makes one; alone, this one needs one
        lab.playbook("backup", "--limit", "web1")
    earlier = archives(lab, "web1")
    last_success = backup_metric(lab, "web1", "ptfops_backup_last_success_timestamp_seconds")
    repository = f"{BORG_REPOSITORIES}/web1"
    # web1's repository on a tmpfs with 1 MB free; web1 gets 3 MB of new (incompressible) files.
    full = lab.ssh("backup1", f"set -e; cd {BORG_REPOSITORIES}; used=$(du -sk web1 | cut -f1); "
                              "owner=$(stat -c uid=%u,gid=%g web1); mv web1 web1.disk; "
                              "mkdir web1; mount -t tmpfs -o size=$((used + 1024))k,mode=0700,"
                              "$owner ptfops-full web1; cp -a web1.disk/. web1/")
    try:
        assert full.returncode == 0, full.stderr
        added = lab.ssh("web1", f"head -c 3M /dev/urandom > {INSTANCE}/uploads/zz-bulk")
        assert added.returncode == 0, added.stderr
        urls = [f"https://{lab.hosts['web1']}{path}" for path in ("/healthz", "/")]
        with RequestLoop(urls, lab.ca) as loop:
            done = lab.run("backup", "--limit", "web1")
        assert done.returncode != 0
        errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, done.stderr
        print(f"\nfull backup host: {errors[0]}")
        assert errors[0].startswith("error: web1 failed at task "), errors[0]
        assert "The backup of web1 to backup1 failed: " in errors[0], errors[0]
        assert re.search(r"No space left on device|Insufficient free space", errors[0]), errors[0]
        assert loop.errors == [] and loop.count > 10  # the site served throughout
        # Freshness unchanged (the monitoring sees the backup is late), the failure recorded.
        assert backup_metric(lab, "web1", "ptfops_backup_last_success_timestamp_seconds") == (
            last_success)
        assert backup_metric(lab, "web1", "ptfops_backup_last_run_success") == 0
        assert lab.ssh("web1", "test -e /var/backups/ptfops").returncode == 1  # no copy left
        # The repository borg could not write to still lists the same archives.
        assert archives(lab, "web1") == earlier
        # Space again (borg check needs some too): the repository is whole, and the next
        # backup works on it (no lock, no debris left).
        grown = lab.ssh("backup1", f"mount -o remount,size=256m {repository}")
        assert grown.returncode == 0, grown.stderr
        check = lab.ssh("web1", "set -a; . /etc/ptfops-backup/borg.env; "
                                "borg check --repository-only")
        assert check.returncode == 0, check.stderr
        assert archives(lab, "web1") == earlier
        lab.playbook("backup", "--limit", "web1")
        assert archives(lab, "web1")[-1] not in earlier  # (older ones of the day are pruned)
        assert backup_metric(lab, "web1", "ptfops_backup_last_success_timestamp_seconds") > (
            last_success)
    finally:
        lab.ssh("web1", f"rm -f {INSTANCE}/uploads/zz-bulk")
        # Keep what the tmpfs holds (the newest state) as the repository on disk.
        lab.ssh("backup1", f"cd {BORG_REPOSITORIES}; if mountpoint -q web1; then "
                           "mkdir web1.new && cp -a web1/. web1.new/ && umount web1 && "
                           "rmdir web1 && mv web1.new web1 && rm -rf web1.disk; fi; "
                           "[ -d web1 ] || mv web1.disk web1")
