"""Plain data classes for what the inventory describes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class StructureSpec:
    """One of the three co-located structures (Pool Technique, CT-CSCLP, SHA)."""

    slug: str
    name: str
    short_name: str
    description: str = ""


@dataclass(frozen=True)
class GroupSpec:
    """A thematic group (GT) or sub-group (SGT, when `parent` is set)."""

    slug: str
    name: str
    short_name: str
    lead_partner: str
    description: str = ""
    parent: str | None = None
    colour: str | None = None
    logo: str | None = None
    banner: str | None = None

    @property
    def kind(self) -> str:
        """'sgt' for a sub-group, 'gt' otherwise."""
        return "sgt" if self.parent else "gt"


@dataclass(frozen=True)
class GroupsInventory:
    """The content of `inventory/groups.yml`."""

    structures: list[StructureSpec] = field(default_factory=list)
    groups: list[GroupSpec] = field(default_factory=list)
    #: The folder the file was read from: `logo` and `banner` paths are relative to it.
    base_dir: Path | None = None

    def group(self, slug: str) -> GroupSpec | None:
        """The group with this slug, if any."""
        return next((g for g in self.groups if g.slug == slug), None)
