"""Ansible bench: site.yml from scratch, then the idempotent second run, on a lab of 3 hosts.

One run: build the portal's release once (the role's own build script; both runs deploy that
archive, so a source edited meanwhile cannot make the second run deploy anew), `ptfops lab up
--hosts N` (bare Debian 12 hosts under systemd), `ptfops deploy` (site.yml) twice with SSH
pipelining on (playbooks/ansible.cfg) and one fork per host, then `ptfops lab down`, always,
even on error or Ctrl-C. Prints both converge times and the ratio against the goal (the second
run under 25 % of the first), the changes each run reported, and with --profile the slowest
tasks of each run (ansible.posix.profile_tasks). Writes bench/results/ansible.json.

Usage (root; one lab per machine): .venv/bin/python bench/ansible/run.py [--hosts 3] [--profile]
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "ansible.json"
PTFOPS = Path(sys.executable).with_name("ptfops")
BUILD = ROOT / "playbooks" / "roles" / "portal" / "files" / "build_release.py"
CONFIG = ROOT / "playbooks" / "ansible.cfg"
GOAL_RATIO = 0.25  # second (idempotent) converge / first converge, wall time
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                   re.MULTILINE)
PROFILE_LINE = re.compile(r"^(.+?) -{3,} (\d+\.\d+)s$")


def run(argv: list[str], log: Path, env: dict[str, str] | None = None,
        timeout: float = 1800) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run a command (output to `log`), timed: seconds and the finished process."""
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          stdin=subprocess.DEVNULL, env=env, check=False)
    seconds = time.monotonic() - started
    log.write_text(f"$ {' '.join(argv)}\n{done.stdout}\n--- stderr\n{done.stderr}")
    return seconds, done


def slowest_tasks(output: str, count: int = 12) -> list[tuple[str, float]]:
    """The slowest tasks of a run, from profile_tasks' summary at its end."""
    tasks = [(found[1].strip(), float(found[2])) for line in output.splitlines()
             if (found := PROFILE_LINE.match(line.strip()))]
    return sorted(tasks, key=lambda task: -task[1])[:count]


def machine_info() -> dict[str, Any]:
    """What the numbers depend on: cores, load, Ansible, and the SSH settings used."""
    config = configparser.ConfigParser()
    config.read(CONFIG)
    version = subprocess.run([str(PTFOPS.with_name("ansible-playbook")), "--version"],
                             capture_output=True, text=True, check=False).stdout
    found = re.search(r"core ([\d.]+)", version)
    return {"cores": os.cpu_count(), "python": platform.python_version(),
            "kernel": platform.release(), "ansible_core": found[1] if found else "?",
            "pipelining": config.getboolean("ssh_connection", "pipelining", fallback=False),
            "ssh_args": config.get("ssh_connection", "ssh_args", fallback=""),
            "load_before": os.getloadavg()[0]}


def lab_is_up() -> str:
    """`ptfops lab status` when a lab is up on this machine, else ''."""
    status = subprocess.run([str(PTFOPS), "lab", "status"], capture_output=True, text=True,
                            check=False, stdin=subprocess.DEVNULL)
    return status.stdout if " booted " in status.stdout else ""


def converge(label: str, archive: Path, forks: int, profile: bool,
             work: Path) -> dict[str, Any]:
    """One `ptfops deploy` of site.yml on the lab: time, recap per host, slowest tasks."""
    env = dict(os.environ, ANSIBLE_FORKS=str(forks))
    if profile:
        env["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.profile_tasks"
    print(f"{label}: site.yml", flush=True)
    seconds, done = run([str(PTFOPS), "deploy", "-e", f"portal_release_archive={archive}"],
                        work / f"{label}.log", env)
    if done.returncode != 0:
        raise RuntimeError(f"{label} site.yml failed ({done.returncode}); see "
                           f"{work / f'{label}.log'}:\n{done.stderr[-3000:]}")
    recap = {m[1]: {"ok": int(m[2]), "changed": int(m[3])} for m in RECAP.finditer(done.stdout)}
    return {"seconds": seconds, "recap": recap,
            "slowest_tasks": slowest_tasks(done.stdout) if profile else []}


def measure(hosts: int, profile: bool, work: Path) -> dict[str, Any]:
    """Build, bring the lab up, converge twice, and always bring the lab down."""
    steps: dict[str, Any] = {}
    print("building the portal's release", flush=True)
    seconds, built = run([sys.executable, str(BUILD), "--source", str(ROOT), "--out",
                          str(work / "releases")], work / "build.log", timeout=900)
    if built.returncode != 0:
        raise RuntimeError(f"the build failed:\n{built.stderr[-3000:]}")
    archive = Path(yaml.safe_load(built.stdout)["archive"])
    steps["build"] = {"seconds": seconds, "release": archive.stem.removeprefix("ptfops-")}
    print(f"ptfops lab up --hosts {hosts}", flush=True)
    try:
        seconds, up = run([str(PTFOPS), "lab", "up", "--hosts", str(hosts)], work / "up.log")
        if up.returncode != 0:
            raise RuntimeError(f"lab up failed:\n{up.stdout[-2000:]}{up.stderr[-2000:]}")
        steps["lab_up"] = {"seconds": seconds}
        steps["first"] = converge("first", archive, hosts, profile, work)
        steps["second"] = converge("second", archive, hosts, profile, work)
    finally:
        print("ptfops lab down", flush=True)
        seconds, down = run([str(PTFOPS), "lab", "down"], work / "down.log")
        steps["lab_down"] = {"seconds": seconds, "ok": down.returncode == 0}
        if down.returncode != 0:
            print(f"warning: lab down failed: {down.stderr[-1000:]}", file=sys.stderr)
    return steps


def report(steps: dict[str, Any], machine: dict[str, Any], hosts: int) -> dict[str, Any]:
    """Print the times, the ratio and the verdict; the outcome."""
    first, second = steps["first"], steps["second"]
    ratio = second["seconds"] / first["seconds"]
    idempotent = all(counts["changed"] == 0 for counts in second["recap"].values())
    passed = ratio < GOAL_RATIO and idempotent
    print(f"\nptfops Ansible bench: {hosts} lab hosts, {machine['cores']} cores, ansible-core "
          f"{machine['ansible_core']}, pipelining {'on' if machine['pipelining'] else 'OFF'}, "
          f"forks {hosts}; 1-min load average {machine['load_before']:.1f} before, "
          f"{machine['load_after']:.1f} after")
    print(f"build of the release           {steps['build']['seconds']:7.1f} s")
    print(f"ptfops lab up --hosts {hosts}        {steps['lab_up']['seconds']:7.1f} s")
    for label, run_ in (("first converge (from scratch)", first),
                        ("second converge (idempotent)", second)):
        changed = ", ".join(f"{h} {c['changed']}" for h, c in run_["recap"].items())
        print(f"{label:30} {run_['seconds']:7.1f} s   changed: {changed}")
    print(f"ptfops lab down                {steps['lab_down']['seconds']:7.1f} s")
    print(f"\nsecond / first  {ratio:6.1%}  (goal < {GOAL_RATIO:.0%}): "
          f"{'PASS' if ratio < GOAL_RATIO else 'FAIL'}")
    print(f"second run changed nothing: {'yes' if idempotent else 'NO'}")
    for label, run_ in (("first", first), ("second", second)):
        if run_["slowest_tasks"]:
            print(f"\nslowest tasks of the {label} run (profile_tasks):")
            for name, seconds in run_["slowest_tasks"]:
                print(f"  {seconds:6.2f} s  {name}")
    return {"ratio": ratio, "goal_ratio": GOAL_RATIO, "idempotent": idempotent,
            "passed": passed}


def main() -> int:
    """Parse options, measure, report, write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=3,
                        help="lab hosts (the last is the backup host), one fork each")
    parser.add_argument("--profile", action="store_true",
                        help="time every task (profile_tasks) and print the slowest")
    parser.add_argument("--keep", action="store_true",
                        help="keep the folder with the build and each run's output")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("error: the lab needs root (network namespaces, mounts, systemd-nspawn)",
              file=sys.stderr)
        return 2
    if status := lab_is_up():
        print(f"error: a lab is already up (one per machine): `ptfops lab down` first\n{status}",
              file=sys.stderr)
        return 2
    machine = machine_info()
    work = Path(tempfile.mkdtemp(prefix="ptfops-bench-ansible-"))
    try:
        steps = measure(args.hosts, args.profile, work)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"error: {exc}\n(outputs kept in {work})", file=sys.stderr)
        return 2
    machine["load_after"] = os.getloadavg()[0]
    outcome = report(steps, machine, args.hosts)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine,
        "options": vars(args), "steps": steps, **outcome}, indent=2) + "\n")
    print(f"\nresults written to {RESULTS.relative_to(ROOT)}")
    if args.keep:
        print(f"outputs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if outcome["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
