"""The XSD step: official schemas, critical 0.3.1 findings with exact lines."""

from __future__ import annotations

import pytest

from iati.schema import check_schema, load_schema
from iati.validate import validate_bytes
from iati.xmlsafe import parse_bytes
from tests.iati.conftest import activity_xml

pytestmark = pytest.mark.usefixtures("standard")  # the official files, or a clear failure

ORG = """<iati-organisations version="2.03">
 <iati-organisation last-updated-datetime="2024-01-01T00:00:00Z" xml:lang="fr">
  <organisation-identifier>XM-DAC-7</organisation-identifier>
  <name><narrative>Pays-Bas</narrative></name>
  <reporting-org ref="XM-DAC-7" type="10"><narrative>Pays-Bas</narrative></reporting-org>
  <document-link format="application/pdf" url="https://example.org/r.pdf">
   <title><narrative>Rapport</narrative></title>
   <category code="B01"/>
   {tail}
  </document-link>
 </iati-organisation>
</iati-organisations>"""


def test_a_valid_activity_file_has_no_schema_finding():
    assert check_schema(parse_bytes(activity_xml()), "iati-activities") == []


def test_a_schema_error_is_a_critical_0_3_1_with_its_line():
    data = activity_xml().replace(b"<activity-status code=\"2\"/>", b"<statut/>")
    findings = check_schema(parse_bytes(data), "iati-activities")
    assert findings and all(f.id == "0.3.1" and f.severity == "critical" for f in findings)
    assert findings[0].line == 9
    assert "statut" in findings[0].message and "schéma" in findings[0].message


def test_the_organisation_schema_compiles_with_a_recent_libxml2():
    assert load_schema("iati-organisations") is not None


def test_the_organisation_document_link_accepts_what_the_official_schema_allows():
    for tail in ("", '<recipient-country code="ML"/>',
                 '<recipient-country code="ML"/><x:e xmlns:x="urn:x"/>',
                 '<x:e xmlns:x="urn:x"/>'):
        tree = parse_bytes(ORG.format(tail=tail).encode())
        assert check_schema(tree, "iati-organisations") == [], tail


def test_the_organisation_document_link_still_rejects_misplaced_elements():
    tree = parse_bytes(ORG.format(tail='<recipient-country code="ML"/><category code="B01"/>')
                       .encode())
    assert [f.id for f in check_schema(tree, "iati-organisations")] == ["0.3.1"]


def test_schema_errors_past_line_65535_keep_their_exact_line():
    padding = b"\n" * 70000
    data = activity_xml().replace(b"<activity-status", padding + b"<statut/><activity-status")
    findings = validate_bytes(data).findings
    assert [(f.id, f.line) for f in findings] == [("0.3.1", 9 + 70000)]


def test_schema_errors_in_late_activities_of_a_long_file_keep_their_exact_line():
    head, tail = activity_xml().split(b"<iati-activity ", 1)
    unit = b"<iati-activity " + tail.rsplit(b"</iati-activities>", 1)[0]
    units = [unit.replace(b"PTF-1<", b"PTF-%d<" % i) for i in range(3500)]
    bad = units[-1].replace(b"<activity-status", b"<statut/><activity-status")
    data = head + b"".join(units[:-1]) + bad + b"</iati-activities>\n"
    expected = data[:data.index(b"<statut/>")].count(b"\n") + 1
    assert expected > 65535
    assert [(f.id, f.line) for f in validate_bytes(data).findings] == [("0.3.1", expected)]
