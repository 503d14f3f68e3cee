"""Load inventory files, validate them against their schema, report `file:line: message`."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from ops.inventory.colours import MIN_CONTRAST, contrast_with_white, too_light
from ops.inventory.model import GroupsInventory, GroupSpec, StructureSpec
from ops.inventory.yamlpos import YamlSyntaxError, line_of, load_with_lines

#: Inventory files and the schema each must follow.
SCHEMAS: dict[str, str] = {"groups.yml": "groups.schema.json"}


@dataclass(frozen=True)
class InventoryIssue:
    """One problem found in an inventory file."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class InventoryError(Exception):
    """The inventory is invalid; `issues` lists every problem found."""

    def __init__(self, issues: list[InventoryIssue]) -> None:
        super().__init__("\n".join(str(i) for i in issues))
        self.issues = issues


def default_inventory_dir() -> Path:
    """`$PTFOPS_INVENTORY`, else the `inventory/` folder of this checkout."""
    env = os.environ.get("PTFOPS_INVENTORY")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "inventory"


def _schema(name: str) -> dict[str, Any]:
    text = resources.files("ops.inventory").joinpath("schemas", name).read_text("utf-8")
    return json.loads(text)


def _schema_issues(path: Path, data: Any, lines: dict, schema: dict) -> list[InventoryIssue]:
    validator = jsonschema.Draft202012Validator(schema)
    found = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        where = tuple(err.absolute_path)
        field_name = ".".join(str(p) for p in where) or "(document)"
        line = line_of(lines, where)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            known = err.schema.get("properties", {})
            extra = [str(k) for k in err.instance if k not in known]
            line = line_of(lines, (*where, extra[0])) if extra else line  # the unknown key
        found.append(InventoryIssue(path, line, f"{field_name}: {err.message}"))
    return found


def _read(path: Path) -> tuple[Any, dict, list[InventoryIssue]]:
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except FileNotFoundError:
        return None, {}, [InventoryIssue(path, 1, "file not found")]
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1  # the line of the first bad byte
        return None, {}, [InventoryIssue(path, line, f"not UTF-8 text ({exc.reason})")]
    try:
        data, lines = load_with_lines(text)
    except YamlSyntaxError as exc:
        return None, {}, [InventoryIssue(path, exc.line, f"invalid YAML: {exc.message}")]
    return data, lines, []


def _group_rules(path: Path, data: dict, lines: dict) -> list[InventoryIssue]:
    """Checks a schema cannot express: unique slugs, existing parents, two levels only."""
    found: list[InventoryIssue] = []
    seen: dict[str, int] = {}
    entries = [("structures", i, s) for i, s in enumerate(data["structures"])]
    entries += [("groups", i, g) for i, g in enumerate(data["groups"])]
    for section, index, entry in entries:
        slug = entry["slug"]
        here = line_of(lines, (section, index, "slug"))
        if slug in seen:
            found.append(InventoryIssue(path, here, f"{section}.{index}.slug: duplicate slug "
                                        f"'{slug}' (first used on line {seen[slug]})"))
        else:
            seen[slug] = here
    for index, group in enumerate(data["groups"]):
        for key in ("logo", "banner"):
            image = group.get(key)
            if image is None:
                continue
            here = line_of(lines, ("groups", index, key))
            target = (path.parent / image).resolve()
            if ".." in Path(image).parts or Path(image).is_absolute():
                found.append(InventoryIssue(path, here, f"groups.{index}.{key}: use a path "
                                            "inside the inventory folder"))
            elif not target.is_file():
                found.append(InventoryIssue(path, here, f"groups.{index}.{key}: file "
                                            f"'{image}' not found next to {path.name}"))
            elif target.suffix.lower() not in (".png", ".jpg", ".jpeg"):
                found.append(InventoryIssue(path, here, f"groups.{index}.{key}: a PNG or "
                                            "JPEG image is needed"))
    for index, group in enumerate(data["groups"]):
        colour = group.get("colour")
        if colour and too_light(colour):
            found.append(InventoryIssue(
                path, line_of(lines, ("groups", index, "colour")),
                f"groups.{index}.colour: '{colour}' is too light for the white text drawn on it "
                f"(contrast {contrast_with_white(colour):.1f}:1, at least {MIN_CONTRAST}:1 "
                "needed); choose a darker colour"))
    by_slug = {g["slug"]: g for g in data["groups"]}
    for index, group in enumerate(data["groups"]):
        parent = group.get("parent")
        if parent is None:
            continue
        here = line_of(lines, ("groups", index, "parent"))
        if parent == group["slug"]:
            found.append(InventoryIssue(path, here, f"groups.{index}.parent: a group cannot be "
                                        "its own parent"))
        elif parent not in by_slug:
            found.append(InventoryIssue(path, here, f"groups.{index}.parent: unknown group "
                                        f"'{parent}'"))
        elif by_slug[parent].get("parent"):
            found.append(InventoryIssue(path, here, f"groups.{index}.parent: '{parent}' is "
                                        "itself a sub-group; sub-groups must hang from a GT"))
    return found


def _groups_inventory(data: dict, base_dir: Path) -> GroupsInventory:
    return GroupsInventory(
        structures=[StructureSpec(**s) for s in data["structures"]],
        groups=[GroupSpec(**g) for g in data["groups"]],
        base_dir=base_dir,
    )


def load_groups(inventory_dir: Path | None = None) -> GroupsInventory:
    """Load `groups.yml`; raise InventoryError listing every problem."""
    path = (inventory_dir or default_inventory_dir()) / "groups.yml"
    data, lines, issues = _read(path)
    if not issues and data is None:
        issues = [InventoryIssue(path, 1, "the file is empty")]
    if not issues:
        issues = _schema_issues(path, data, lines, _schema(SCHEMAS["groups.yml"]))
    if not issues:
        issues = _group_rules(path, data, lines)
    if issues:
        raise InventoryError(issues)
    return _groups_inventory(data, path.parent)


def check_inventory(inventory_dir: Path | None = None) -> list[InventoryIssue]:
    """Validate every inventory file that has a schema; return all problems found."""
    base = inventory_dir or default_inventory_dir()
    issues: list[InventoryIssue] = []
    for name, schema_name in SCHEMAS.items():
        path = base / name
        data, lines, found = _read(path)
        if not found and data is None:
            found = [InventoryIssue(path, 1, "the file is empty")]
        if not found:
            found = _schema_issues(path, data, lines, _schema(schema_name))
        if not found and name == "groups.yml":
            found = _group_rules(path, data, lines)
        issues.extend(found)
    return issues
