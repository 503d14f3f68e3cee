"""Reading and checking inventory/groups.yml: every problem as `path:line: message`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ops.inventory import InventoryError, check_inventory, load_groups
from tests.conftest import REPO

REAL = REPO / "inventory"
SOURCE = (REAL / "groups.yml").read_text("utf-8")
ISSUE = re.compile(r"^(?P<path>.+):(?P<line>\d+): (?P<message>\S.*)$")


def _line(text: str, needle: str) -> int:
    """The 1-based line of the only line of `text` equal to `needle`."""
    found = [n for n, line in enumerate(text.splitlines(), start=1) if line == needle]
    assert len(found) == 1, f"{needle!r} is not on exactly one line of groups.yml"
    return found[0]


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the real inventory with one line changed; the folder is returned."""
    assert SOURCE.count(old) == 1, f"{old!r} must appear once in groups.yml"
    (tmp_path / "groups.yml").write_text(SOURCE.replace(old, new), "utf-8")
    return tmp_path


def _only_issue(folder: Path) -> tuple[int, str]:
    """The single problem reported for `folder`, checked for format; (line, message)."""
    issues = check_inventory(folder)
    assert len(issues) == 1, [str(i) for i in issues]
    text = str(issues[0])
    match = ISSUE.match(text)
    assert match, text
    assert match["path"] == str(folder / "groups.yml")
    assert "\n" not in text
    with pytest.raises(InventoryError) as raised:
        load_groups(folder)
    assert [str(i) for i in raised.value.issues] == [text]
    return int(match["line"]), match["message"]


def test_the_real_inventory_is_valid_with_thirteen_gts():
    assert check_inventory(REAL) == []
    inventory = load_groups(REAL)
    assert [s.slug for s in inventory.structures] == ["pool-technique", "ct-csclp", "sha"]
    gts = [g for g in inventory.groups if g.kind == "gt"]
    assert len(gts) == 13
    slugs = [g.slug for g in inventory.groups]
    assert len(set(slugs)) == len(slugs)
    for sgt in (g for g in inventory.groups if g.kind == "sgt"):
        assert inventory.group(sgt.parent).kind == "gt", sgt.slug
    for group in inventory.groups:
        assert group.name and group.short_name and group.lead_partner, group.slug
    assert inventory.group("gt-sante").name.startswith("Groupe thématique")


def test_a_missing_required_field_points_at_its_group(tmp_path):
    folder = _broken(tmp_path, "    lead_partner: Pays-Bas\n", "")
    line, message = _only_issue(folder)
    assert line == _line(SOURCE, "  - slug: gt-justice")
    assert message == "groups.4: 'lead_partner' is a required property"


def test_a_bad_slug_points_at_its_line(tmp_path):
    folder = _broken(tmp_path, "  - slug: gt-justice\n", "  - slug: GT_Justice\n")
    line, message = _only_issue(folder)
    assert line == _line(SOURCE, "  - slug: gt-justice")
    assert message.startswith("groups.4.slug: 'GT_Justice' does not match")


def test_a_bad_colour_points_at_its_line(tmp_path):
    folder = _broken(tmp_path, '    colour: "#5b5b5b"\n', '    colour: "gris"\n')
    line, message = _only_issue(folder)
    assert line == _line(SOURCE, '    colour: "#5b5b5b"')
    assert message.startswith("groups.4.colour: 'gris' does not match")


def test_an_unknown_key_points_at_the_key(tmp_path):
    folder = _broken(tmp_path, "    lead_partner: Pays-Bas\n",
                     "    lead_partner: Pays-Bas\n    chef_de_file: Pays-Bas\n")
    line, message = _only_issue(folder)
    assert line == _line(SOURCE, "    lead_partner: Pays-Bas") + 1
    assert "'chef_de_file' was unexpected" in message and message.startswith("groups.4")


def test_a_duplicate_slug_names_both_lines(tmp_path):
    folder = _broken(tmp_path, "  - slug: gt-justice\n", "  - slug: gt-sante\n")
    line, message = _only_issue(folder)
    first, second = _line(SOURCE, "  - slug: gt-justice"), _line(SOURCE, "  - slug: gt-sante")
    assert line == second
    assert f"duplicate slug 'gt-sante' (first used on line {first})" in message


def test_an_unknown_parent_points_at_the_parent_line(tmp_path):
    folder = _broken(tmp_path, "    parent: gt-education\n", "    parent: gt-inconnu\n")
    line, message = _only_issue(folder)
    assert line == _line(SOURCE, "    parent: gt-education")
    assert message.endswith("unknown group 'gt-inconnu'")


def test_a_sub_group_cannot_hang_from_a_sub_group(tmp_path):
    folder = _broken(tmp_path, "    parent: gt-education\n", "    parent: sgt-fiscalite\n")
    line, message = _only_issue(folder)
    assert line == _line(SOURCE, "    parent: gt-education")
    assert "'sgt-fiscalite' is itself a sub-group" in message


def test_a_group_cannot_be_its_own_parent(tmp_path):
    folder = _broken(tmp_path, "    parent: gt-education\n",
                     "    parent: sgt-formation-professionnelle\n")
    line, message = _only_issue(folder)
    assert line == _line(SOURCE, "    parent: gt-education")
    assert "cannot be its own parent" in message


@pytest.mark.parametrize("bad", [
    "    lead_partner: Pays-Bas: Belgique\n",
    "\tlead_partner: Pays-Bas\n",
], ids=["colon-in-value", "tab"])
def test_a_yaml_syntax_error_points_at_its_line(tmp_path, bad):
    folder = _broken(tmp_path, "    lead_partner: Pays-Bas\n", bad)
    line, message = _only_issue(folder)
    assert line == _line(SOURCE, "    lead_partner: Pays-Bas")
    assert message.startswith("invalid YAML: ")


def test_a_key_written_twice_points_at_the_second(tmp_path):
    folder = _broken(tmp_path, "    lead_partner: Pays-Bas\n",
                     "    lead_partner: Pays-Bas\n    lead_partner: Belgique\n")
    line, message = _only_issue(folder)
    assert line == _line(SOURCE, "    lead_partner: Pays-Bas") + 1
    assert "duplicate key 'lead_partner'" in message


@pytest.mark.parametrize("content", ["", "# rien\n"], ids=["empty", "comments-only"])
def test_an_empty_file_is_reported_on_line_one(tmp_path, content):
    (tmp_path / "groups.yml").write_text(content)
    line, message = _only_issue(tmp_path)
    assert line == 1 and message == "the file is empty"


def test_a_file_that_is_not_utf8_points_at_the_first_bad_byte(tmp_path):
    (tmp_path / "groups.yml").write_bytes(SOURCE.encode("cp1252"))
    line, message = _only_issue(tmp_path)
    first_non_ascii = next(n for n, text in enumerate(SOURCE.splitlines(), start=1)
                           if not text.isascii())
    assert line == first_non_ascii
    assert message.startswith("not UTF-8 text")


def test_a_missing_file_is_reported(tmp_path):
    issues = check_inventory(tmp_path)
    assert [str(i) for i in issues] == [f"{tmp_path / 'groups.yml'}:1: file not found"]


def test_every_problem_is_reported_at_once(tmp_path):
    text = SOURCE.replace("  - slug: gt-justice\n", "  - slug: GT_Justice\n")
    text = text.replace('    colour: "#c0392b"\n', '    colour: rouge\n')
    (tmp_path / "groups.yml").write_text(text)
    issues = check_inventory(tmp_path)
    assert [i.line for i in issues] == [_line(SOURCE, "  - slug: gt-justice"),
                                        _line(SOURCE, '    colour: "#c0392b"')]


def test_a_colour_too_light_for_white_text_is_refused_on_its_line(tmp_path):
    text = SOURCE.replace('colour: "#117a65"', 'colour: "#f0e68c"')
    assert text != SOURCE
    (tmp_path / "groups.yml").write_text(text)
    line, message = _only_issue(tmp_path)
    assert 'colour: "#f0e68c"' in text.splitlines()[line - 1]
    assert "too light" in message and "4.5:1" in message
