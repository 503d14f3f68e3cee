"""The portal's IATI 2.03 files at stable URLs, streamed, and their IATI Registry metadata.

/iati/activities.xml (every activity), /iati/organisation.xml (the publisher),
/iati/groupes/<slug>.xml (one GT/SGT's activities) and /iati/registry.json. Activity rows are
read in batches (`yield_per`), each turned into an `iati.model.Activity`, written by
`iati.writer` and dropped: memory does not grow with the portfolio. `export_files` writes the
same files to a folder (`ptfops iati export`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, request, stream_with_context
from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from iati.model import Activity
from iati.writer import VERSION, iter_activities, iter_organisations
from sites.cache import public_page
from sites.extensions import db
from sites.iati_mapping import publisher_organisation, to_model
from sites.models import Group, IatiActivity
from sites.models.base import as_utc
from sites.queries import live_group
from sites.stamp import content_stamp

bp = Blueprint("iati_files", __name__, url_prefix="/iati")

BATCH = 200  # activity rows per database round trip


def activities_query(group: Group | None = None) -> Select[Any]:
    """Activities (one group's, or all) with their children loaded batch by batch."""
    query = select(IatiActivity).options(
        selectinload(IatiActivity.group), selectinload(IatiActivity.descriptions),
        selectinload(IatiActivity.participating_orgs), selectinload(IatiActivity.sectors),
        selectinload(IatiActivity.locations), selectinload(IatiActivity.budgets),
        selectinload(IatiActivity.transactions), selectinload(IatiActivity.document_links))
    if group is not None:
        query = query.where(IatiActivity.group_id == group.id)
    return query.order_by(IatiActivity.identifier).execution_options(yield_per=BATCH)


def stream_activities(group: Group | None = None) -> Iterator[Activity]:
    """The activities as data classes, read in batches; each row leaves the session once used."""
    for row in db.session.scalars(activities_query(group)):
        activity = to_model(row)
        db.session.expunge(row)
        yield activity


def generated_at() -> datetime:
    """The files' generated-datetime: the last content change (so the ETag names one file)."""
    return content_stamp()[1]


# --- what is published -----------------------------------------------------------------------


@dataclass
class PublishedFile:
    """One IATI file: where it lives and what the Registry is told about it."""

    name: str           # the Registry dataset name
    title: str
    filetype: str       # activity | organisation
    path: str           # URL path, also the export's relative path after /iati/
    activity_count: int | None
    data_updated: datetime | None
    group: Group | None = None


def _count_and_updated(group: Group | None = None) -> tuple[int, datetime | None]:
    query = select(func.count(IatiActivity.id),
                   func.max(func.coalesce(IatiActivity.last_updated, IatiActivity.updated_at)))
    if group is not None:
        query = query.where(IatiActivity.group_id == group.id)
    count, updated = db.session.execute(query).one()
    return int(count or 0), _utc(updated)


def _utc(value: Any) -> datetime | None:
    if isinstance(value, str):  # SQLite returns max() over a coalesce as text
        value = datetime.fromisoformat(value)
    return as_utc(value)


def published_files(include_empty: bool = False) -> list[PublishedFile]:
    """The activity file, the organisation file and the group files with activities."""
    registry = current_app.config["IATI_REGISTRY_PUBLISHER"]
    org_name = current_app.config["IATI_PUBLISHER_NAME"]
    count, updated = _count_and_updated()
    files = [PublishedFile(f"{registry}-org", f"{org_name} – organisation", "organisation",
                           "organisation.xml", None, generated_at())]
    if count or include_empty:
        files.append(PublishedFile(f"{registry}-activities", f"{org_name} – activités",
                                   "activity", "activities.xml", count, updated))
    groups = db.session.scalars(select(Group).where(Group.archived.is_(False))
                                .order_by(Group.position)).all()
    for group in groups:
        count, updated = _count_and_updated(group)
        if count or include_empty:
            files.append(PublishedFile(f"{registry}-{group.slug}",
                                       f"{group.name} – activités", "activity",
                                       f"groupes/{group.slug}.xml", count, updated, group))
    return files


def _registry_time(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else None


def registry_metadata(base_url: str) -> dict[str, Any]:
    """What the IATI Registry's CKAN package_create / package_update takes, for each file."""
    registry = current_app.config["IATI_REGISTRY_PUBLISHER"]
    base = base_url.rstrip("/")
    datasets = []
    for file in published_files():
        datasets.append({
            "name": file.name,
            "title": file.title,
            "owner_org": registry,
            "filetype": file.filetype,
            "activity_count": file.activity_count,
            "data_updated": _registry_time(file.data_updated),
            "iati_version": VERSION,
            "language": "fr",
            "country": "ML",
            "resources": [{"url": f"{base}/iati/{file.path}", "format": "IATI-XML"}],
        })
    return {"publisher": {"name": registry,
                          "iati_identifier": current_app.config["IATI_PUBLISHER_REF"],
                          "title": current_app.config["IATI_PUBLISHER_NAME"]},
            "datasets": datasets}


def _chunks(file: PublishedFile, generated: datetime) -> Iterator[bytes]:
    if file.filetype == "organisation":
        return iter_organisations([publisher_organisation(generated)], generated)
    return iter_activities(stream_activities(file.group), generated)


# --- the web ---------------------------------------------------------------------------------


def _xml(chunks: Iterator[bytes], filename: str) -> Response:
    response = Response(stream_with_context(chunks), mimetype="application/xml")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@bp.get("/activities.xml")
@public_page
def activities() -> Response:
    """Every activity of the portal, as one IATI 2.03 activity file."""
    return _xml(iter_activities(stream_activities(), generated_at()), "activities.xml")


@bp.get("/organisation.xml")
@public_page
def organisation() -> Response:
    """The publisher's IATI 2.03 organisation file."""
    generated = generated_at()
    return _xml(iter_organisations([publisher_organisation(generated)], generated),
                "organisation.xml")


@bp.get("/groupes/<slug>.xml")
@public_page
def group_file(slug: str) -> Response:
    """The activities owned by one GT/SGT."""
    group = live_group(slug)
    if group is None:
        abort(404)
    return _xml(iter_activities(stream_activities(group), generated_at()), f"{slug}.xml")


@bp.get("/registry.json")
@public_page
def registry() -> Response:
    """IATI Registry metadata of every published file."""
    base = current_app.config["SITE_URL"] or request.url_root
    body = json.dumps(registry_metadata(base), ensure_ascii=False, indent=1)
    return Response(body, mimetype="application/json")


# --- export to a folder ----------------------------------------------------------------------

Check = Callable[[Path], str | None]


def _write_atomically(target: Path, chunks: Iterator[bytes], check: Check | None) -> None:
    """Write to a temporary file beside `target`, check it, then rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                    suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
        problem = check(tmp) if check else None
        if problem:
            raise ExportError(f"{target.name}: {problem}")
        tmp.chmod(0o644)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


class ExportError(RuntimeError):
    """A file failed its check before publication; nothing replaced it."""


def export_files(out_dir: Path, base_url: str, check: Check | None = None) -> list[Path]:
    """Write the published files and registry.json under `out_dir`; return their paths.

    Each file is written to a temporary file, checked with `check` (a message means refused),
    then renamed over the old one. Group files of groups that no longer have activities are
    removed. Files with no activity are not written (an IATI file needs one).
    """
    out_dir = Path(out_dir)
    generated = generated_at()
    written = []
    for file in published_files():
        target = out_dir / file.path
        _write_atomically(target, _chunks(file, generated), check)
        written.append(target)
    groups_dir = out_dir / "groupes"
    if groups_dir.is_dir():
        for stale in groups_dir.glob("*.xml"):
            if stale not in written:
                stale.unlink()
    metadata = json.dumps(registry_metadata(base_url), ensure_ascii=False, indent=1)
    target = out_dir / "registry.json"
    _write_atomically(target, iter([metadata.encode()]), None)
    written.append(target)
    return written
