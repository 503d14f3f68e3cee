"""A validation finding: what is wrong, how bad, and where (rule id, XPath, line)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

CRITICAL = "critical"
ERROR = "error"
WARNING = "warning"
SEVERITIES = (CRITICAL, ERROR, WARNING)


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding. `id` is the official IATI Validator rule id when one exists.

    `advisory` marks what this offline copy of the standard cannot settle (a code missing from
    a non-embedded codelist, whose shipped copy may predate the code): always a warning.
    """

    id: str
    severity: str
    message: str
    xpath: str = ""
    line: int | None = None
    advisory: bool = False

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")

    def to_dict(self) -> dict[str, object]:
        """The JSON shape: id, severity, message, xpath, line."""
        data = asdict(self)
        del data["advisory"]
        return data

    def format(self, filename: str) -> str:
        """`FILE:LINE: severity id message (xpath)`, the command line's format."""
        where = f"{filename}:{self.line}" if self.line else filename
        xpath = f" ({self.xpath})" if self.xpath else ""
        return f"{where}: {self.severity} {self.id} {self.message}{xpath}"


def sort_key(finding: Finding) -> tuple[int, int, str]:
    """Order by line (file-level findings first), then severity, then id."""
    return (finding.line or 0, SEVERITIES.index(finding.severity), finding.id)


def is_blocking(findings: list[Finding]) -> bool:
    """True when a critical or error finding exists."""
    return any(f.severity in (CRITICAL, ERROR) for f in findings)


def is_refused(findings: list[Finding]) -> bool:
    """True when a critical finding exists: publication is refused."""
    return any(f.severity == CRITICAL for f in findings)
