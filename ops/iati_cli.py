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


@iati.command("export")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write to (default: the instance folder's iati/).")
@click.option("--base-url", default="",
              help="The portal's public address, for registry.json (default: PTFOPS_SITE_URL).")
def export(out_dir: Path | None, base_url: str) -> None:
    """Write the portal's IATI files: activities.xml, organisation.xml, groupes/<slug>.xml
    and registry.json, the same as /iati/ serves.

    Each file is written to a temporary file and validated like `ptfops iati validate`; a file
    with a critical finding is refused (exit 1) and the published one is kept.
    """
    from ops.portal_app import portal_app as _app
    from sites.iati_files import ExportError, export_files

    def check(path: Path) -> str | None:
        refused = [f for f in validate_file(path).findings if f.severity == "critical"]
        return "; ".join(f.message for f in refused[:3]) or None

    app = _app()
    target = out_dir or Path(app.instance_path) / "iati"
    base = base_url or app.config["SITE_URL"]
    if not base:
        click.echo("warning: no --base-url nor PTFOPS_SITE_URL: registry.json gets relative "
                   "URLs", err=True)
    try:
        with app.app_context():
            written = export_files(target, base, check)
    except (ExportError, StandardMissingError) as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1 if isinstance(exc, ExportError) else 2) from exc
    for path in written:
        click.echo(str(path))


@iati.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--group", "group_slug", default="",
              help="Slug of the GT/SGT that owns the imported activities (optional).")
@click.option("--dry-run", is_flag=True, help="Check and count, store nothing.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the summary (counts, quality and validation findings) as JSON.")
def import_(file: Path, group_slug: str, dry_run: bool, as_json: bool) -> None:
    """Import the activities of an IATI XML file (2.01 to 2.03) into the portal.

    Validated first: only a critical finding refuses the file. Activities are matched by
    identifier (a re-import updates, never duplicates), in one transaction: all or nothing.
    Prints what was stored and what the file lacks (quality report). Exit status 1 when the
    file is refused, 2 for an unknown group.
    """
    from sqlalchemy import select

    from ops.portal_app import portal_app as _app
    from sites.extensions import db
    from sites.iati_import import ImportRefusedError, import_file
    from sites.models import Group

    app = _app()
    with app.app_context():
        group = None
        if group_slug:
            group = db.session.scalar(select(Group).where(Group.slug == group_slug))
            if group is None:
                click.echo(f"error: groupe inconnu « {group_slug} »", err=True)
                raise SystemExit(2)
        try:
            summary = import_file(file, group=group, dry_run=dry_run, actor="cli")
        except (ImportRefusedError, StandardMissingError) as exc:
            message = getattr(exc, "message", str(exc))
            click.echo(f"{file}: {message}", err=True)
            raise SystemExit(1) from exc
    if as_json:
        click.echo(json.dumps(summary.to_dict(), ensure_ascii=False, indent=1))
        return
    click.echo(("simulation, rien n'a été enregistré : " if dry_run else "") + summary.describe())
    if summary.shortened_texts:
        click.echo(f"{summary.shortened_texts} nom(s) ou titre(s) trop long(s) raccourci(s)")
    for finding in summary.quality.findings:
        click.echo(f"- {finding.format()}")
    click.echo(f"validation : {_summary(summary.findings)} (détail : ptfops iati validate "
               f"{file})", err=True)
