"""Create, update and archive platforms so that the database follows the inventory."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select

from ops.inventory import GroupsInventory, GroupSpec
from sites.audit import record
from sites.extensions import db
from sites.models import Group, SiteState, Structure
from sites.storage import IMAGE_EXTENSIONS, FileStore


@dataclass
class SyncReport:
    """What a sync changed, by slug."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)


def ensure_site_state() -> None:
    """Create the single site_state row if missing."""
    if db.session.get(SiteState, 1) is None:
        db.session.add(SiteState(id=1, version=1))
        db.session.flush()


def _identity_images(inventory: GroupsInventory, spec: GroupSpec) -> dict[str, str | None]:
    """Logo and banner files named in the inventory, stored under their hash."""
    store = FileStore(current_app.config["UPLOAD_DIR"], current_app.config["MAX_UPLOAD_BYTES"])
    hashes: dict[str, str | None] = {}
    for key in ("logo", "banner"):
        relative = getattr(spec, key)
        if relative is None or inventory.base_dir is None:
            hashes[f"{key}_hash"] = None
            continue
        with (inventory.base_dir / relative).open("rb") as image:
            hashes[f"{key}_hash"] = store.save(image, relative, IMAGE_EXTENSIONS).sha256
    return hashes


def _sync_structures(inventory: GroupsInventory) -> None:
    existing = {s.slug: s for s in db.session.scalars(select(Structure))}
    for position, spec in enumerate(inventory.structures):
        row = existing.get(spec.slug) or Structure(slug=spec.slug)
        row.name, row.short_name = spec.name, spec.short_name
        row.description, row.position = spec.description or "", position
        db.session.add(row)


def sync_groups(inventory: GroupsInventory) -> SyncReport:
    """Apply the inventory in one transaction; content of removed groups is kept."""
    report = SyncReport()
    ensure_site_state()
    _sync_structures(inventory)
    existing = {g.slug: g for g in db.session.scalars(select(Group))}
    wanted = {spec.slug for spec in inventory.groups}
    for position, spec in enumerate(inventory.groups):
        group = existing.get(spec.slug)
        if group is None:
            group = Group(slug=spec.slug)
            db.session.add(group)
            existing[spec.slug] = group
            report.created.append(spec.slug)
        elif group.archived:
            report.restored.append(spec.slug)
        values = {
            "name": spec.name, "short_name": spec.short_name, "kind": spec.kind,
            "lead_partner": spec.lead_partner, "description": spec.description or "",
            "position": position, "archived": False,
        }
        if not group.identity_locked:
            values["colour"] = spec.colour
            values.update(_identity_images(inventory, spec))
        changed = any(getattr(group, k) != v for k, v in values.items())
        for key, value in values.items():
            setattr(group, key, value)
        if changed and spec.slug not in report.created and spec.slug not in report.restored:
            report.updated.append(spec.slug)
    db.session.flush()
    for spec in inventory.groups:
        group = existing[spec.slug]
        parent_id = existing[spec.parent].id if spec.parent else None
        if group.parent_id != parent_id:
            group.parent_id = parent_id
            if spec.slug not in report.created and spec.slug not in report.updated:
                report.updated.append(spec.slug)
    for slug, group in existing.items():
        if slug not in wanted and not group.archived:
            group.archived = True
            report.archived.append(slug)
    for slug in report.created:
        record("group.create", existing[slug], "created from inventory", actor="inventory")
    for slug in report.archived:
        record("group.archive", existing[slug], "removed from inventory", actor="inventory")
    for slug in report.restored:
        record("group.restore", existing[slug], "back in inventory", actor="inventory")
    db.session.commit()
    return report
