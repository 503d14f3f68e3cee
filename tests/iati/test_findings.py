"""Finding: the command line's line format, the JSON shape, ordering and blocking."""

from __future__ import annotations

import pytest

from iati.findings import Finding, is_blocking, is_refused, sort_key


def test_a_finding_formats_as_file_line_severity_id_message_and_xpath():
    finding = Finding("7.5.3", "error", "période trop longue", "/iati-activities/x", 12)
    assert finding.format("f.xml") == \
        "f.xml:12: error 7.5.3 période trop longue (/iati-activities/x)"


def test_a_file_level_finding_has_no_line_in_its_format():
    assert Finding("0.1.1", "critical", "vide").format("f.xml") == "f.xml: critical 0.1.1 vide"


def test_the_json_shape_has_exactly_the_five_documented_keys():
    data = Finding("9.41.1", "warning", "m", "/a", 3, advisory=True).to_dict()
    assert data == {"id": "9.41.1", "severity": "warning", "message": "m", "xpath": "/a",
                    "line": 3}


def test_an_unknown_severity_is_refused():
    with pytest.raises(ValueError):
        Finding("x", "fatal", "m")


def test_findings_sort_by_line_then_severity():
    late = Finding("a", "warning", "m", line=9)
    early_warning = Finding("b", "warning", "m", line=2)
    early_error = Finding("c", "error", "m", line=2)
    file_level = Finding("d", "critical", "m")
    ordered = sorted([late, early_warning, early_error, file_level], key=sort_key)
    assert ordered == [file_level, early_error, early_warning, late]


def test_errors_block_and_only_critical_findings_refuse():
    warning, error = Finding("a", "warning", "m"), Finding("b", "error", "m")
    assert not is_blocking([warning]) and is_blocking([warning, error])
    assert not is_refused([error]) and is_refused([Finding("c", "critical", "m")])
