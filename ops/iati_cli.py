"""`ptfops iati …`: IATI 2.03 files on the command line (validation)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from iati.rulesets import RulesetError, load_ruleset
from iati.standard import StandardMissingError
from iati.validate import validate_file


@click.group()
def iati() -> None:
    """IATI 2.03 activity and organisation files."""


@iati.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the findings as a JSON list.")
@click.option("--ruleset", "rulesets", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Also run this ruleset file (e.g. the official IATI one).")
def validate(file: Path, as_json: bool, rulesets: tuple[Path, ...]) -> None:
    """Check FILE like the IATI Validator: XML, version, XSD, codelists, rules.

    One line per finding: FILE:LINE: severity id message (xpath). Exit status 1 when a
    critical or error finding exists.
    """
    try:
        extra = [load_ruleset(path) for path in rulesets]
        report = validate_file(file, extra_rulesets=extra)
    except (RulesetError, StandardMissingError) as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from exc
    if as_json:
        click.echo(json.dumps([f.to_dict() for f in report.findings], ensure_ascii=False,
                              indent=1))
    else:
        for finding in report.findings:
            click.echo(finding.format(str(file)))
        summary = _summary(report.findings)
        click.echo(f"{file}: {summary}", err=True)
    if report.has_errors:
        raise SystemExit(1)


_LABELS = {"critical": "critique(s)", "error": "erreur(s)", "warning": "avertissement(s)"}


def _summary(findings: list) -> str:
    """A French one-line count, printed on stderr after the findings."""
    if not findings:
        return "valide, aucune remarque"
    counts = {s: sum(1 for f in findings if f.severity == s) for s in _LABELS}
    return ", ".join(f"{n} {_LABELS[s]}" for s, n in counts.items() if n)
