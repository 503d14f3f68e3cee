#!/usr/bin/env python3
"""Build a portal release on the controller: the project's wheel and every dependency's.

Run by the `portal` role (on the controller, before anything touches a host) and usable by hand:

    .venv/bin/python playbooks/roles/portal/files/build_release.py --source . --out build/release

Steps: copy the source tree (git-tracked and untracked-but-not-ignored files) to a temporary
folder, compile the .po catalogs to .mo there, `pip wheel --no-deps` the project, check that
the wheel holds the files the portal needs at run time, `pip wheel` its dependencies (offline
from the wheel cache when it has them all, else from PyPI), then write one archive
`ptfops-<release>.tar` holding every wheel. The hosts have no internet: they install from it.

The release name is `<version>-<12 hex digits of the source hash>`: the same sources give the
same release and the same archive (nothing is rebuilt), so a second converge changes nothing.
Prints one JSON object: changed, release, version, archive, wheel.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from pathlib import Path

# Files every wheel must hold (fnmatch patterns over the wheel's names): without them the
# portal starts but has no French, no pages, no theme, no migrations or no inventory schema.
REQUIRED_IN_WHEEL = (
    "sites/translations/*/LC_MESSAGES/*.mo",
    "sites/templates/*",
    "sites/static/*",
    "sites/migrations/versions/*.py",
    "sites/migrations/env.py",
    "ops/inventory/schemas/*.json",
)
SKIP_DIRS = {".git", ".venv", "build", "dist", "__pycache__", ".pytest_cache", ".ruff_cache",
             "instance", ".cache", "node_modules"}
SKIP_FILES = ("*.pyc", "*.mo", "*.egg-info")


def source_files(source: Path) -> list[str]:
    """Relative paths of the files to build from: git's view when it is a checkout."""
    try:
        out = subprocess.run(["git", "-C", str(source), "ls-files", "-z", "-c", "-o",
                              "--exclude-standard"], capture_output=True, check=True).stdout
        names = [n for n in out.decode().split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = []
        for root, dirs, files in os.walk(source):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
            names += [str(Path(root, f).relative_to(source)) for f in files]
    wanted = packaged_roots(source)
    keep = []
    for name in names:
        parts = Path(name).parts
        if parts[0] not in wanted:
            continue
        if any(p in SKIP_DIRS or p.endswith(".egg-info") for p in parts[:-1]):
            continue
        if any(fnmatch.fnmatch(parts[-1], pat) for pat in SKIP_FILES):
            continue
        if (source / name).is_file():
            keep.append(name)
    return sorted(keep)


def packaged_roots(source: Path) -> set[str]:
    """Top-level names that make the wheel: the packages pyproject.toml includes and its files.

    Changes elsewhere (tests, docs, playbooks) give the same release, so nothing is redeployed.
    """
    config = tomllib.loads((source / "pyproject.toml").read_text())
    patterns = (config.get("tool", {}).get("setuptools", {}).get("packages", {})
                .get("find", {}).get("include", ["*"]))
    roots = {"pyproject.toml", "setup.py", "setup.cfg", "MANIFEST.in", "LICENSE",
             config.get("project", {}).get("readme", "README.md")}
    for entry in source.iterdir():
        if entry.is_dir() and any(fnmatch.fnmatch(entry.name, pat) for pat in patterns):
            roots.add(entry.name)
    return roots


def source_hash(source: Path, names: list[str]) -> str:
    """SHA-256 over every file's name and bytes."""
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode() + b"\0")
        digest.update(hashlib.sha256((source / name).read_bytes()).digest())
    return digest.hexdigest()


def run(argv: list[str], **kwargs: object) -> None:
    """Run a command; on failure exit with its output (the task shows it)."""
    proc = subprocess.run(argv, capture_output=True, text=True, **kwargs)  # type: ignore
    if proc.returncode != 0:
        sys.exit(f"error: {' '.join(argv)} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")


def check_wheel(wheel: Path) -> None:
    """Stop when the wheel misses run-time files."""
    names = zipfile.ZipFile(wheel).namelist()
    missing = [pat for pat in REQUIRED_IN_WHEEL if not fnmatch.filter(names, pat)]
    if missing:
        sys.exit(f"error: {wheel.name} holds no {', '.join(missing)}: fix package-data in "
                 "pyproject.toml")


def build_wheel(source: Path, names: list[str], dist: Path, python: str) -> Path:
    """Copy the sources, compile translations, build the project's wheel into `dist`."""
    with tempfile.TemporaryDirectory(prefix="ptfops-build-") as tmp:
        tree = Path(tmp) / "src"
        for name in names:
            target = tree / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, target)
        translations = tree / "sites" / "translations"
        if translations.is_dir():
            run([python, "-m", "babel.messages.frontend", "compile", "--use-fuzzy",
                 "-d", str(translations), "-D", "messages"])
        env = dict(os.environ, SOURCE_DATE_EPOCH="315532800", PIP_DISABLE_PIP_VERSION_CHECK="1")
        run([python, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(tree)],
            env=env)
    wheels = sorted(dist.glob("ptfops-*.whl"))
    if len(wheels) != 1:
        sys.exit(f"error: expected one ptfops wheel in {dist}, found {len(wheels)}")
    check_wheel(wheels[0])
    return wheels[0]


def fetch_dependencies(wheel: Path, dist: Path, cache: Path, python: str) -> None:
    """Every dependency as a wheel into `dist`: offline from `cache` if possible, else PyPI."""
    cache.mkdir(parents=True, exist_ok=True)
    base = [python, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
            "--prefer-binary", "-w", str(dist), "--find-links", str(cache)]
    offline = subprocess.run([*base, "--no-index", str(wheel)], capture_output=True, text=True)
    if offline.returncode != 0:
        run([*base, str(wheel)])  # from PyPI; pure-Python sdists are built into wheels
    for dep in dist.glob("*.whl"):
        if dep.name != wheel.name and not (cache / dep.name).exists():
            shutil.copy2(dep, cache / dep.name)


def write_archive(dist: Path, archive: Path) -> None:
    """A deterministic tar of the wheels (sorted, no times or owners)."""
    tmp = archive.with_suffix(".tmp")
    with tarfile.open(tmp, "w") as tar:
        for whl in sorted(dist.glob("*.whl")):
            info = tar.gettarinfo(str(whl), arcname=whl.name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            info.mode = 0o644
            with whl.open("rb") as fh:
                tar.addfile(info, fh)
    tmp.replace(archive)


def main() -> None:
    """Build (or find already built) the release of `--source` under `--out`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True, help="the project's folder")
    parser.add_argument("--out", type=Path, required=True, help="where releases are kept")
    parser.add_argument("--python", default=sys.executable,
                        help="Python with pip and babel (default: this one)")
    args = parser.parse_args()
    source, out = args.source.resolve(), args.out.resolve()
    if not (source / "pyproject.toml").is_file():
        sys.exit(f"error: {source} has no pyproject.toml")
    names = source_files(source)
    key = source_hash(source, names)[:12]
    result_file = out / f"{key}.json"
    if result_file.is_file():
        result = json.loads(result_file.read_text())
        if Path(result["archive"]).is_file():
            print(json.dumps({**result, "changed": False}))
            return
    out.mkdir(parents=True, exist_ok=True)
    dist = out / f"{key}.dist"
    shutil.rmtree(dist, ignore_errors=True)
    dist.mkdir()
    wheel = build_wheel(source, names, dist, args.python)
    fetch_dependencies(wheel, dist, out / "wheel-cache", args.python)
    version = wheel.name.split("-")[1]
    release = f"{version}-{key}"
    archive = out / f"ptfops-{release}.tar"
    write_archive(dist, archive)
    shutil.rmtree(dist)
    result = {"release": release, "version": version, "archive": str(archive),
              "wheel": wheel.name}
    result_file.write_text(json.dumps(result))
    print(json.dumps({**result, "changed": True}))


if __name__ == "__main__":
    main()
