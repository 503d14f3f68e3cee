"""Locate the official IATI 2.03 files (schemas, codelists, rulesets) shipped by pyIATI 0.4.1.

They are installed with `make iati-standard` (pip --no-deps --target .cache/iati-standard), a
folder that is never on sys.path: pyIATI's own `iati` package must not shadow ours. The
environment variable PTFOPS_IATI_STANDARD points elsewhere (the --target folder, or the 2-03
folder itself). Nothing here is written by hand.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

VERSION = "2.03"
ENV_VAR = "PTFOPS_IATI_STANDARD"
REPO = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO / ".cache" / "iati-standard"
_INSIDE_TARGET = Path("iati") / "resources" / "standard" / "2-03"
INSTALL_HINT = ("run `make iati-standard` (pip install --no-deps --target .cache/iati-standard "
                "pyIATI==0.4.1) or set PTFOPS_IATI_STANDARD")


class StandardMissingError(RuntimeError):
    """The official standard files are not installed."""


@dataclass(frozen=True)
class Standard:
    """Paths to one version's official files."""

    root: Path

    @property
    def schemas(self) -> Path:
        return self.root / "schemas"

    @property
    def codelists(self) -> Path:
        return self.root / "codelists"

    @property
    def activity_schema(self) -> Path:
        return self.schemas / "iati-activities-schema.xsd"

    @property
    def organisation_schema(self) -> Path:
        return self.schemas / "iati-organisations-schema.xsd"

    @property
    def non_embedded(self) -> frozenset[str]:
        """Names of the non-embedded codelists (pyIATI's codelists_non_embedded folder)."""
        folder = self.root.parent / "codelists_non_embedded"
        if not folder.is_dir():
            return frozenset()
        return frozenset(p.stem for p in folder.glob("*.xml"))

    def codelist(self, name: str) -> Path:
        """The official XML file of one codelist (it may not exist)."""
        return self.codelists / f"{name}.xml"


def _candidates(base: Path) -> list[Path]:
    return [base / _INSIDE_TARGET, base]


def standard_dir(base: str | Path | None = None) -> Path:
    """The 2-03 folder: from `base`, $PTFOPS_IATI_STANDARD or .cache/iati-standard."""
    if base is None:
        base = os.environ.get(ENV_VAR) or DEFAULT_DIR
    base = Path(base)
    for candidate in _candidates(base):
        if (candidate / "schemas" / "iati-activities-schema.xsd").is_file() and \
                (candidate / "codelists").is_dir():
            return candidate
    raise StandardMissingError(
        f"IATI {VERSION} standard files not found under {base}: {INSTALL_HINT}")


@cache
def _load(root: Path) -> Standard:
    return Standard(root)


def get_standard(base: str | Path | None = None) -> Standard:
    """The official 2.03 files; raise StandardMissingError naming the command to run."""
    return _load(standard_dir(base))
