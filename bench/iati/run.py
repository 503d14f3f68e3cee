"""IATI bench: export, validation next to xmllint, and the Senegal import, in one run.

One run, one machine, side by side: a synthetic portfolio (bench/iati/portfolio.py) exported
with iati.writer (10,000 activities, then 100,000 in a child process whose peak RSS must stay
under 200 MB); the 10,000-activity file validated by `xmllint --schema` (the official XSD) and
by our XSD step and full validation (which must take at most twice xmllint's time); the Senegal
file imported into a fresh SQLite database. Prints a table, the ratios and PASS/FAIL; writes
bench/results/iati.json.

Usage: .venv/bin/python bench/iati/run.py [--activities 10000] [--large 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the project's packages, also when run from elsewhere
    sys.path.insert(0, str(ROOT))

from portfolio import GENERATED, portfolio  # noqa: E402 - bench/iati is the script's folder

RESULTS = ROOT / "bench" / "results" / "iati.json"
SENEGAL = ROOT.parent / "shared" / "data" / "iati" / "senegal-aims-2.03.xml"

GOAL_RSS_MB = 200.0       # exporting 100,000 activities: peak RSS of the process
GOAL_VALIDATE_RATIO = 2.0  # full validation / xmllint --schema, wall time on the same file


@dataclass
class Row:
    """One measured step: medians over its rounds."""

    label: str
    wall_s: float
    cpu_s: float
    rounds_wall_s: list[float] = field(default_factory=list)
    rounds_cpu_s: list[float] = field(default_factory=list)
    peak_rss_mb: float | None = None   # the process's max RSS (child processes only)
    start_rss_mb: float | None = None  # its RSS once imports were done, before the work
    processes: list[int] = field(default_factory=list)  # validation: processes per round
    note: str = ""


@dataclass
class Skipped:
    """A step that could not run here, and why."""

    label: str
    reason: str


# ---------------------------------------------------------------- measuring


def cpu_now() -> float:
    """CPU seconds (user + system) of this process and of its reaped children so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(work: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds, result) of `work()` in this process; forked workers it
    waits for count in the CPU time."""
    wall, cpu = time.perf_counter(), cpu_now()
    result = work()
    return time.perf_counter() - wall, cpu_now() - cpu, result


@dataclass
class ChildRun:
    """A finished child process: its times, peak RSS and standard output."""

    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    stdout: str
    stderr: str
    returncode: int


def run_child(argv: list[str]) -> ChildRun:
    """Run `argv` to the end; wall time, and CPU time and max RSS from wait4 (this child and
    the children it waited for). Standard error goes to a file: a pipe left unread could
    fill up and block the child."""
    with tempfile.TemporaryFile() as errors:
        wall = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, cwd=ROOT,
                                stdin=subprocess.DEVNULL)
        stdout = proc.stdout.read()  # one short line: read to EOF, then reap with wait4
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - wall
        proc.stdout.close()
        errors.seek(0)
        stderr = errors.read()
    if proc.returncode != 0 and b"validates" not in stderr:
        sys.stderr.write(stderr.decode(errors="replace"))
    return ChildRun(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
                    stdout.decode(errors="replace"), stderr.decode(errors="replace"),
                    proc.returncode)


def median_row(label: str, runs: list[tuple[float, float]], **extra: Any) -> Row:
    """A row from (wall, CPU) pairs: their medians, and every round."""
    walls, cpus = [w for w, _ in runs], [c for _, c in runs]
    return Row(label, statistics.median(walls), statistics.median(cpus), walls, cpus, **extra)


# ---------------------------------------------------------------- the steps


def export_child(count: int, path: str, seed: int) -> int:
    """In a child process: write `count` activities to `path`; print what it measured."""
    from iati.writer import write_activities

    start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wall, cpu = time.perf_counter(), time.process_time()
    with open(path, "wb") as stream:
        size = write_activities(stream, portfolio(count, seed), GENERATED)
    print(json.dumps({"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
                      "bytes": size, "start_rss_mb": start_rss / 1024}))
    return 0


def export(count: int, path: Path, seed: int) -> tuple[Row, int]:
    """Export `count` activities in a child process: the row and the file's size."""
    child = run_child([sys.executable, str(Path(__file__).resolve()), "--export-child",
                       str(count), str(path), "--seed", str(seed)])
    if child.returncode != 0:
        raise RuntimeError(f"export of {count} activities failed:\n{child.stderr}")
    data = json.loads(child.stdout.strip().splitlines()[-1])
    row = Row(f"export {count:,} activities", data["wall_s"], data["cpu_s"], [data["wall_s"]],
              [data["cpu_s"]], peak_rss_mb=child.peak_rss_mb, start_rss_mb=data["start_rss_mb"],
              note=f"{data['bytes'] / 1e6:,.1f} MB written")
    return row, data["bytes"]


def xmllint_argv(schema: Path, path: Path) -> list[str]:
    """The reference: libxml2's own command line, the official XSD, no network."""
    return ["xmllint", "--noout", "--nonet", "--schema", str(schema), str(path)]


def validate_child(mode: str, path: str, small: str, workers: int | None) -> int:
    """In a child process: warm up as a server would (schema, codelists and ruleset loaded),
    then validate `path` once; print the times and what was found."""
    from iati.parallel import split_processes
    from iati.schema import check_schema
    from iati.validate import validate_file
    from iati.xmlsafe import parse_file

    validate_file(small)
    if mode == "xsd":
        wall, cpu, found = timed(lambda: check_schema(parse_file(path), "iati-activities"))
        processes = 1
    else:
        processes = split_processes(workers)  # what validate_file chooses right now
        wall, cpu, report = timed(lambda: validate_file(path, workers=workers))
        found = report.findings
    digest = hashlib.sha256(repr([(f.id, f.severity, f.message, f.xpath, f.line, f.advisory)
                                  for f in found]).encode()).hexdigest()
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "processes": processes, "digest": digest,
                      "ids": dict(Counter(f.id for f in found))}))
    return 0


def validation(path: Path, small: Path, repeat: int,
               workers: int | None) -> tuple[dict[str, Row], bool]:
    """In turn, `repeat` times: xmllint, our parse + XSD step, our full validation with the
    default workers (or --workers), in one process, and shared out to every CPU. Each one in
    a fresh process (ours warmed up first, as a server is): medians, and whether the three
    validations found exactly the same."""
    from iati.standard import get_standard

    argv = xmllint_argv(get_standard().activity_schema, path)
    cpus = len(os.sched_getaffinity(0))
    variants: dict[str, tuple[str, str]] = {
        "xsd": ("xsd", "default"), "full": ("full", str(workers or "default")),
        "single": ("full", "1")}
    if cpus > 1:
        variants["shared"] = ("full", str(cpus))
    runs: dict[str, list[tuple[float, float]]] = {"xmllint": []}
    results: dict[str, list[dict[str, Any]]] = {}
    for round_no in range(1, repeat + 1):
        print(f"round {round_no}/{repeat}: xmllint, parse + XSD, full validation (default, one "
              f"process{f', {cpus} processes' if cpus > 1 else ''})", flush=True)
        child = run_child(argv)
        if child.returncode != 0:
            raise RuntimeError(f"xmllint refused {path}:\n{child.stderr[-2000:]}")
        runs["xmllint"].append((child.wall_s, child.cpu_s))
        for key, (mode, count) in variants.items():
            child = run_child([sys.executable, str(Path(__file__).resolve()), "--validate-child",
                               mode, str(path), str(small), count])
            if child.returncode != 0:
                raise RuntimeError(f"validation ({key}) failed:\n{child.stderr[-3000:]}")
            result = json.loads(child.stdout.strip().splitlines()[-1])
            runs.setdefault(key, []).append((result["wall_s"], result["cpu_s"]))
            results.setdefault(key, []).append(result)
    digests = {r["digest"] for key in ("full", "single", "shared") for r in results.get(key, [])}
    same = len(digests) == 1
    ids = results["full"][0]["ids"]
    summary = ", ".join(f"{rule} x{count}" for rule, count in sorted(ids.items()))
    processes = [r["processes"] for r in results["full"]]
    default = "default" if workers is None else f"--workers {workers}"
    rows = {
        "xmllint": median_row("xmllint --schema (libxml2)", runs["xmllint"], note="reference"),
        "xsd": median_row("ours: parse + XSD step", runs["xsd"],
                          note=f"{sum(results['xsd'][0]['ids'].values())} schema error(s)"),
        "full": median_row(f"ours: full validation ({default})", runs["full"],
                           processes=processes,
                           note=f"{sum(ids.values())} finding(s): {summary}; processes chosen "
                                f"per round: {', '.join(map(str, processes))}"),
        "single": median_row("ours: full, one process", runs["single"], processes=[1]),
    }
    if "shared" in runs:
        rows["shared"] = median_row(f"ours: full, {cpus} processes", runs["shared"],
                                    processes=[cpus])
    rows["single" if "shared" not in rows else "shared"].note = \
        f"findings {'the same' if same else 'NOT THE SAME'} in every variant"
    return rows, same


def senegal_import(tmp: Path) -> Row | Skipped:
    """Import the Senegal file into a fresh, migrated SQLite database (one transaction)."""
    label = "import Senegal file (SQLite)"
    if not SENEGAL.is_file():
        return Skipped(label, f"{SENEGAL} is absent (no ../shared next to this clone)")
    from sites import create_app
    from sites.extensions import db
    from sites.iati_import import import_file
    from sites.migrate import upgrade

    database = tmp / "import.sqlite3"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
                      "UPLOAD_DIR": str(tmp / "uploads")}, instance_path=str(tmp / "instance"))
    upgrade(app)
    logging.getLogger("ptfops").setLevel(logging.WARNING)
    with app.app_context():
        wall, cpu, summary = timed(lambda: import_file(SENEGAL))
        db.session.remove()
        db.engine.dispose()
    size = SENEGAL.stat().st_size / 1e6
    return Row(label, wall, cpu, [wall], [cpu],
               note=f"{summary.activities} activities, {summary.transactions} transactions, "
                    f"{summary.locations} locations ({size:.1f} MB, validation included)")


# ---------------------------------------------------------------- report


def machine_info() -> dict[str, Any]:
    """What the numbers depend on."""
    from lxml import etree

    version = subprocess.run(["xmllint", "--version"], capture_output=True, text=True,
                             check=False).stderr
    found = re.search(r"version (\d+?)(\d\d)(\d\d)\b", version)  # e.g. 20914: 2.9.14
    xmllint = f"libxml2 {found[1]}.{int(found[2])}.{int(found[3])}" if found else "?"
    return {"cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
            "python": platform.python_version(), "kernel": platform.release(),
            "lxml": ".".join(map(str, etree.LXML_VERSION[:3])),
            "libxml2_lxml": ".".join(map(str, etree.LIBXML_VERSION)),
            "xmllint": xmllint, "load_before": os.getloadavg()[0]}


def verdict(rows: dict[str, Row], large: Row | None, same: bool) -> dict[str, Any]:
    """Ratios to xmllint and PASS/FAIL for each goal."""
    lint = rows["xmllint"]

    def ratio(row: Row, attr: str) -> float:
        return getattr(row, attr) / getattr(lint, attr)

    ratios = {
        "xsd_vs_xmllint_wall": ratio(rows["xsd"], "wall_s"),
        "full_vs_xmllint_wall": ratio(rows["full"], "wall_s"),
        "full_vs_xmllint_cpu": ratio(rows["full"], "cpu_s"),
        "single_vs_xmllint_wall": ratio(rows["single"], "wall_s"),
        "single_vs_xmllint_cpu": ratio(rows["single"], "cpu_s"),
        **({"shared_vs_xmllint_wall": ratio(rows["shared"], "wall_s"),
            "shared_vs_xmllint_cpu": ratio(rows["shared"], "cpu_s")} if "shared" in rows else {}),
        "full_vs_xmllint_wall_per_round": [
            ours / theirs for ours, theirs in zip(rows["full"].rounds_wall_s,
                                                 lint.rounds_wall_s, strict=True)],
    }
    goals = {"validation_2x": ratios["full_vs_xmllint_wall"] <= GOAL_VALIDATE_RATIO,
             "same_findings": same}
    if large is not None:
        goals["export_rss"] = large.peak_rss_mb is not None and large.peak_rss_mb < GOAL_RSS_MB
    return {"ratios": ratios, "goals": goals, "passed": all(goals.values())}


def report(rows: list[Row | Skipped], outcome: dict[str, Any], machine: dict[str, Any],
           args: argparse.Namespace, sizes: dict[str, int]) -> None:
    """Print the table, the ratios and the verdicts."""

    def mark(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    def mb(value: float | None) -> str:
        return "" if value is None else f"{value:,.0f} MB"

    print()
    print(f"ptfops IATI bench: {machine['usable_cores']} cores, Python {machine['python']}, "
          f"lxml {machine['lxml']} (libxml2 {machine['libxml2_lxml']}), xmllint "
          f"({machine['xmllint']})")
    print(f"validation: median of {args.repeat} round(s), {args.activities:,} activities "
          f"({sizes['file'] / 1e6:,.1f} MB); 1-min load average {machine['load_before']:.1f} "
          f"before, {machine['load_after']:.1f} after (other work on the machine skews wall "
          "times)")
    print(f"{'':38} {'wall s':>8} {'CPU s':>8} {'peak RSS':>9}  notes")
    for row in rows:
        if isinstance(row, Skipped):
            print(f"{row.label:38} {'skipped':>8}  {row.reason}")
            continue
        rss = mb(row.peak_rss_mb)
        start = f" (start {mb(row.start_rss_mb)})" if row.start_rss_mb is not None else ""
        print(f"{row.label:38} {row.wall_s:8.2f} {row.cpu_s:8.2f} {rss:>9}  {row.note}{start}")
    ratios, goals = outcome["ratios"], outcome["goals"]
    print()
    print(f"parse + XSD / xmllint          {ratios['xsd_vs_xmllint_wall']:5.2f}x wall")
    print(f"full validation / xmllint      {ratios['full_vs_xmllint_wall']:5.2f}x wall, "
          f"{ratios['full_vs_xmllint_cpu']:.2f}x CPU  (goal <= {GOAL_VALIDATE_RATIO:.0f}x wall; "
          "per round: " + ", ".join(f"{r:.2f}x" for r in
                                    ratios["full_vs_xmllint_wall_per_round"]) + ")")
    print(f"full, one process / xmllint    {ratios['single_vs_xmllint_wall']:5.2f}x wall, "
          f"{ratios['single_vs_xmllint_cpu']:.2f}x CPU")
    if "shared_vs_xmllint_wall" in ratios:
        print(f"full, every CPU / xmllint      {ratios['shared_vs_xmllint_wall']:5.2f}x wall, "
              f"{ratios['shared_vs_xmllint_cpu']:.2f}x CPU")
    print()
    verdicts = [f"validation <= {GOAL_VALIDATE_RATIO:.0f}x xmllint {mark(goals['validation_2x'])}",
                f"same findings in every variant {mark(goals['same_findings'])}"]
    if "export_rss" in goals:
        verdicts.append(f"export RSS < {GOAL_RSS_MB:.0f} MB {mark(goals['export_rss'])}")
    print("  ".join(verdicts) + f"  => {mark(outcome['passed'])}")


@contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    """A temporary folder for the files and the database (kept with --keep)."""
    path = Path(tempfile.mkdtemp(prefix="ptfops-bench-iati-"))
    try:
        yield path
    finally:
        if keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def main() -> int:
    """Parse options, run every step, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activities", type=int, default=10_000,
                        help="activities of the file exported and validated")
    parser.add_argument("--large", type=int, default=100_000,
                        help="activities of the large export (peak RSS goal); 0 to skip")
    parser.add_argument("--repeat", type=int, default=3, help="validation rounds (median)")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes for the full validation (default: one per CPU)")
    parser.add_argument("--seed", type=int, default=1, help="portfolio seed")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--export-child", nargs=2, metavar=("COUNT", "PATH"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--validate-child", nargs=4,
                        metavar=("MODE", "PATH", "SMALL", "WORKERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_child:
        return export_child(int(args.export_child[0]), args.export_child[1], args.seed)
    if args.validate_child:
        mode, path, small, count = args.validate_child
        return validate_child(mode, path, small, None if count == "default" else int(count))
    if shutil.which("xmllint") is None:
        print("error: xmllint is not installed (Debian libxml2-utils: make system-deps)",
              file=sys.stderr)
        return 2
    from iati.standard import StandardMissingError, get_standard

    try:
        get_standard()
    except StandardMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    machine = machine_info()
    rows: list[Row | Skipped] = []
    sizes: dict[str, int] = {}
    with workdir(args.keep) as tmp:
        path, small = tmp / "activities.xml", tmp / "small.xml"
        print(f"exporting {args.activities:,} activities", flush=True)
        exported, sizes["file"] = export(args.activities, path, args.seed)
        rows.append(exported)
        export(min(200, args.activities), small, args.seed)
        large: Row | None = None
        if args.large:
            print(f"exporting {args.large:,} activities (peak RSS)", flush=True)
            large, sizes["large"] = export(args.large, tmp / "large.xml", args.seed)
            (tmp / "large.xml").unlink()
            rows.append(large)
        checked, same = validation(path, small, args.repeat, args.workers)
        rows.extend(checked.values())
        print("importing the Senegal file", flush=True)
        imported = senegal_import(tmp)
        rows.append(imported)
    machine["load_after"] = os.getloadavg()[0]
    outcome = verdict(checked, large, same)
    report(rows, outcome, machine, args, sizes)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine,
        "options": {k: v for k, v in vars(args).items()
                    if k not in ("export_child", "validate_child")},
        "sizes_bytes": sizes,
        "rows": [{"skipped": True, **asdict(r)} if isinstance(r, Skipped) else asdict(r)
                 for r in rows],
        "goals": {"export_rss_mb_max": GOAL_RSS_MB, "validate_ratio_max": GOAL_VALIDATE_RATIO},
        **outcome,
    }, indent=2) + "\n")
    print(f"results written to {RESULTS.relative_to(ROOT)}")
    return 0 if outcome["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
