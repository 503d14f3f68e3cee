"""Codelist checks: official codes, vocabulary-dependent lists, embedded vs non-embedded."""

from __future__ import annotations

import pytest

from iati.codelists import WITHDRAWN_ID, codelist_checker, load_codelist, org_id_prefixes
from iati.validate import validate_bytes
from iati.xmlsafe import parse_bytes
from iati.xpath import Env
from tests.iati.conftest import activity_xml

pytestmark = pytest.mark.usefixtures("standard")  # the official files, or a clear failure


def _codes(data: bytes) -> list[tuple[str, str, int | None, bool]]:
    root = parse_bytes(data).getroot()
    checker = codelist_checker()
    findings = checker.check_root(root, "iati-activities")
    findings += checker.check_unit(root[0], "iati-activities",
                                   "/iati-activities/iati-activity[1]", Env())
    return [(f.id, f.severity, f.line, f.advisory) for f in findings]


def test_codes_come_from_the_official_codelist_files():
    role = load_codelist("OrganisationRole")
    assert role.codes == {"1", "2", "3", "4"} and role.embedded
    assert "14030" in load_codelist("Sector").codes
    assert {"XM-DAC", "ML-NIF"} <= org_id_prefixes()


def test_a_valid_activity_has_no_codelist_finding():
    assert _codes(activity_xml()) == []


def test_an_unknown_code_of_an_embedded_list_is_an_error_with_the_validator_id():
    assert _codes(activity_xml(role="")) == [("9.41.1", "error", 8, False)]
    assert _codes(activity_xml(role="9")) == [("9.41.1", "error", 8, False)]


def test_an_unknown_code_of_a_non_embedded_list_is_an_advisory_warning():
    findings = _codes(activity_xml(sectors='<sector vocabulary="1" code="99999"/>'))
    assert findings == [("9.76.1", "warning", 12, True)]


def test_the_vocabulary_picks_the_codelist():
    assert _codes(activity_xml(sectors='<sector vocabulary="2" code="140"/>')) == []
    assert _codes(activity_xml(sectors='<sector vocabulary="2" code="14030"/>')) == \
        [("9.77.1", "warning", 12, True)]
    assert _codes(activity_xml(sectors='<sector code="140"/>')) == \
        [("9.76.1", "warning", 12, True)]
    own = '<sector vocabulary="99" code="X1"><narrative>propre</narrative></sector>'
    assert _codes(activity_xml(sectors=own)) == []


def test_a_withdrawn_code_is_a_warning():
    findings = _codes(activity_xml(sectors='<sector vocabulary="1" code="15120"/>'))
    assert findings == [(WITHDRAWN_ID, "warning", 12, False)]


def test_languages_are_checked_on_the_activity_and_its_narratives():
    data = activity_xml().replace(b"<narrative>Eau", b'<narrative xml:lang="xx">Eau')
    assert _codes(data) == [("9.95.1", "warning", 6, True)]  # Language is non-embedded
    data = activity_xml().replace(b'xml:lang="fr"', b'xml:lang="zz"')
    assert _codes(data) == [("9.95.1", "warning", 3, True)]


def test_the_version_attribute_is_checked_against_the_version_codelist():
    assert _codes(activity_xml(version="2.99")) == [("9.1.1", "warning", 2, True)]


def test_codelist_findings_carry_a_french_message_and_the_attribute_xpath():
    finding = next(f for f in validate_bytes(activity_xml(role="9")).findings
                   if f.id == "9.41.1")
    assert "rôle de l'organisation participante" in finding.message
    assert "« 9 »" in finding.message and "OrganisationRole" in finding.message
    assert finding.xpath == "/iati-activities/iati-activity[1]/participating-org/@role"
