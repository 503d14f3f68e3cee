"""File kind and version: 2.0x accepted, 1.x refused with 0.6.1, anything else not IATI."""

from __future__ import annotations

import pytest
from lxml import etree

from iati.version import check_version, file_kind


def _root(xml: str) -> etree._Element:
    return etree.fromstring(xml.encode())


@pytest.mark.parametrize("version", ["2.01", "2.02", "2.03"])
def test_version_2_files_are_accepted(version):
    assert check_version(_root(f'<iati-activities version="{version}"/>')) == []


def test_a_version_1_file_is_refused_as_no_longer_supported():
    [finding] = check_version(_root('<iati-activities version="1.03"/>'))
    assert (finding.id, finding.severity) == ("0.6.1", "critical")
    assert "n'est plus prise en charge" in finding.message
    assert finding.xpath == "/iati-activities/@version"


@pytest.mark.parametrize("version", ["3.01", "2.04", "abc"])
def test_an_unknown_version_is_refused(version):
    [finding] = check_version(_root(f'<iati-organisations version="{version}"/>'))
    assert (finding.id, finding.severity) == ("0.6.1", "critical")


def test_a_file_that_is_not_iati_is_refused_with_0_2_1():
    [finding] = check_version(_root("<rss/>"))
    assert (finding.id, finding.severity) == ("0.2.1", "critical")
    assert "<rss>" in finding.message


def test_a_namespaced_root_is_not_iati():
    assert file_kind(_root('<iati-activities xmlns="urn:x" version="2.03"/>')) is None


def test_a_missing_version_is_left_to_the_schema():
    assert check_version(_root("<iati-activities/>")) == []
