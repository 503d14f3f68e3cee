"""Exact lines past 65535, where libxml2's own line numbers drift."""

from __future__ import annotations

from iati.lines import LineMap
from iati.xmlsafe import parse_bytes


def _document(padding: int) -> bytes:
    units = [b"<iati-activity>\n<a/>\n<!-- <b> in a comment -->\n<![CDATA[<c>]]>\n<b/>\n"
             b"</iati-activity>\n" for _ in range(padding)]
    return b"<iati-activities>\n" + b"".join(units) + b"</iati-activities>\n"


def test_lines_past_65535_are_recomputed_from_the_bytes():
    data = _document(12000)
    root = parse_bytes(data).getroot()
    lines = LineMap(data, root, "iati-activity")
    last = root[-1]
    expected_unit = data.rindex(b"<iati-activity>")
    assert lines.line(last) == data[:expected_unit].count(b"\n") + 1
    b = last[1]
    assert b.tag == "b"
    assert lines.line(b) == data[:data.rindex(b"<b/>")].count(b"\n") + 1


def test_early_lines_come_straight_from_libxml2():
    data = _document(3)
    root = parse_bytes(data).getroot()
    assert LineMap(data, root, "iati-activity").line(root[1][0]) == root[1][0].sourceline == 9
