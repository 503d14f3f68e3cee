"""The streaming reader: every field of the model, hostile files, encodings, constant memory."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from iati.model import Administrative, Location, OrgRef
from iati.reader import IatiFileError, read_activities
from iati.writer import write_activities
from iati.xmlsafe import XmlSecurityError, XmlSyntaxError
from tests.iati.conftest import SHARED_IATI, activity_xml, needs_shared
from tests.iati.test_writer import full_activity

SENEGAL = SHARED_IATI / "senegal-aims-2.03.xml"

# A 2.01-style file written by hand: no default language on the second activity, narratives
# in several languages, a participating org without ref, a location with every child.
HAND_WRITTEN = """<?xml version="1.0" encoding="UTF-8"?>
<iati-activities version="2.01" generated-datetime="2015-06-01T00:00:00">
 <!-- a comment, ignored -->
 <iati-activity xml:lang="fr" default-currency="XOF" hierarchy="2"
                last-updated-datetime="2015-05-31T12:00:00+02:00">
  <iati-identifier> ML-ONG-7-PROJ </iati-identifier>
  <reporting-org ref="ML-ONG-7" type="21" secondary-reporter="true">
   <narrative>ONG Sept</narrative>
  </reporting-org>
  <title>
   <narrative>Puits à Gao</narrative>
   <narrative xml:lang="EN">Wells in Gao</narrative>
  </title>
  <description><narrative>Forages.</narrative></description>
  <description type="3"><narrative xml:lang="en">Herders.</narrative></description>
  <participating-org role="4"><narrative>Comité villageois</narrative></participating-org>
  <participating-org ref="XM-DAC-41122" role="1" type="40" activity-id="UNICEF-1"/>
  <activity-status code="3"/>
  <activity-date type="1" iso-date="2014-01-01"/>
  <activity-date type="4" iso-date="2015-03-31"/>
  <recipient-region code="289" percentage="100"/>
  <location ref="GAO-1">
   <location-reach code="2"/>
   <location-id vocabulary="G1" code="2457163"/>
   <name><narrative>Gao</narrative></name>
   <description><narrative>Quartier Aljanabandia</narrative></description>
   <administrative vocabulary="G1" level="1" code="2457161"/>
   <administrative vocabulary="A4" code="ML"/>
   <point srsName="http://www.opengis.net/def/crs/EPSG/0/4326"><pos>16.27167 -0.04472</pos></point>
   <exactness code="2"/>
   <location-class code="2"/>
   <feature-designation code="PPLA"/>
  </location>
  <location><point><pos>not a point</pos></point></location>
  <sector vocabulary="2" code="140" percentage="100"/>
  <default-aid-type code="C01"/>
  <budget>
   <period-start iso-date="2014-01-01"/><period-end iso-date="2014-12-31"/>
   <value value-date="2014-01-01">25000000</value>
  </budget>
  <transaction ref="T1">
   <transaction-type code="3"/><transaction-date iso-date="2014-06-30"/>
   <value currency="EUR">15 000.50</value>
   <provider-org><narrative>UNICEF</narrative></provider-org>
   <receiver-org ref="ML-ONG-7"/>
  </transaction>
  <document-link url="https://ong7.example/rapport.pdf" format="application/pdf">
   <title><narrative>Rapport final</narrative></title>
   <category code="A07"/>
  </document-link>
 </iati-activity>
 <iati-activity>
  <iati-identifier>ML-ONG-7-SANS-LANGUE</iati-identifier>
  <title><narrative>Sans langue</narrative></title>
 </iati-activity>
</iati-activities>
"""


def _read(data: bytes | str) -> list:
    return list(read_activities(data.encode() if isinstance(data, str) else data))


# --- fields ------------------------------------------------------------------------------


def test_a_file_written_by_the_portal_reads_back_as_the_same_activities(tmp_path: Path):
    original = [full_activity("XM-PTF-MALI-AFD-CML1001"), full_activity("XM-PTF-MALI-AFD-2")]
    path = tmp_path / "activities.xml"
    with open(path, "wb") as stream:
        write_activities(stream, original, datetime(2026, 2, 1, tzinfo=UTC))
    assert list(read_activities(path)) == original


def test_every_field_of_a_hand_written_file_is_kept():
    activity, bare = _read(HAND_WRITTEN)
    assert activity.identifier == "ML-ONG-7-PROJ"
    assert activity.reporting_org == OrgRef("ML-ONG-7", "21", {"fr": "ONG Sept"}, True)
    assert activity.title == {"fr": "Puits à Gao", "en": "Wells in Gao"}
    assert [(d.type, d.text) for d in activity.descriptions] == [
        ("1", {"fr": "Forages."}), ("3", {"en": "Herders."})]
    no_ref, unicef = activity.participating_orgs
    assert (no_ref.ref, no_ref.role, no_ref.name) == ("", "4", {"fr": "Comité villageois"})
    assert (unicef.ref, unicef.role, unicef.type, unicef.activity_id, unicef.name) == (
        "XM-DAC-41122", "1", "40", "UNICEF-1", {})
    assert activity.status == "3"
    assert activity.date_of("1") == date(2014, 1, 1)
    assert activity.date_of("4") == date(2015, 3, 31)
    assert [(r.code, r.vocabulary, r.percentage) for r in activity.recipient_regions] == [
        ("289", "1", Decimal(100))]
    gao, unusable = activity.locations
    assert gao == Location(
        ref="GAO-1", name={"fr": "Gao"}, description={"fr": "Quartier Aljanabandia"},
        latitude=16.27167, longitude=-0.04472, reach="2", exactness="2", location_class="2",
        feature_designation="PPLA", location_ids=[("G1", "2457163")],
        administratives=[Administrative("G1", "2457161", 1), Administrative("A4", "ML")])
    assert (unusable.latitude, unusable.longitude) == (None, None)
    assert [(s.code, s.vocabulary, s.percentage) for s in activity.sectors] == [
        ("140", "2", Decimal(100))]
    assert activity.default_aid_type == [("1", "C01")]
    budget, = activity.budgets
    assert (budget.type, budget.status, budget.period_start, budget.period_end) == (
        "1", "1", date(2014, 1, 1), date(2014, 12, 31))
    assert (budget.value.amount, budget.value.currency) == (Decimal(25000000), "")
    paid, = activity.transactions
    assert (paid.ref, paid.type, paid.transaction_date) == ("T1", "3", date(2014, 6, 30))
    assert (paid.value.amount, paid.value.currency, paid.value.value_date) == (
        Decimal("15000.50"), "EUR", None)
    assert paid.provider_org == OrgRef("", "", {"fr": "UNICEF"})
    assert paid.receiver_org == OrgRef("ML-ONG-7")
    link, = activity.document_links
    assert (link.url, link.format, link.title, link.categories) == (
        "https://ong7.example/rapport.pdf", "application/pdf", {"fr": "Rapport final"},
        ["A07"])
    assert (activity.default_currency, activity.default_lang, activity.hierarchy) == (
        "XOF", "fr", "2")
    assert activity.last_updated == datetime(2015, 5, 31, 10, 0, tzinfo=UTC)
    assert bare.default_lang == ""
    assert bare.title == {"": "Sans langue"}


@needs_shared
def test_the_senegal_file_reads_whole_with_its_points_and_french_titles():
    activities = list(read_activities(SENEGAL))
    assert len(activities) == 701
    locations = [loc for a in activities for loc in a.locations]
    assert len(locations) == 471
    assert sum(len(a.transactions) for a in activities) == 2256
    fatick = next(loc for loc in locations if loc.name.get("en") == "Fatick")
    assert (fatick.latitude, fatick.longitude) == (14.28333, -16.5)
    assert fatick.location_ids == [("G1", "2251910")]
    assert (fatick.exactness, fatick.location_class, fatick.reach) == ("1", "1", "")
    assert all(p.ref == "" and p.name for a in activities for p in a.participating_orgs)
    first = activities[0]
    assert first.title["en"].startswith("REHABILITATION, EQUIPEMENT")
    assert first.transactions[0].value.amount == Decimal("685819.59392")


def test_activities_come_one_by_one_before_the_end_of_the_file_is_read():
    head = activity_xml().decode().split("</iati-activities>")[0]
    broken = (head + "<iati-activity><iati-identifier>X</iati-identifier></oops>").encode()
    activities = read_activities(broken)
    assert next(activities).identifier == "XM-DAC-7-PTF-1"
    with pytest.raises(XmlSyntaxError):
        next(activities)


class _Synthetic(io.RawIOBase):
    """A large activity file made on the fly (never held in memory as a whole)."""

    def __init__(self, count: int) -> None:
        self._parts = self._generate(count)
        self._buffer = b""

    @staticmethod
    def _generate(count: int) -> Iterator[bytes]:
        yield b'<?xml version="1.0" encoding="UTF-8"?>\n<iati-activities version="2.03">\n'
        for n in range(count):
            yield (f'<iati-activity xml:lang="fr" default-currency="XOF"><iati-identifier>'
                   f'XM-TEST-{n}</iati-identifier><title><narrative>Activité {n} '
                   f'{"x" * 300}</narrative></title><transaction><transaction-type code="3"/>'
                   f'<transaction-date iso-date="2024-01-01"/><value>{n}</value>'
                   f'</transaction></iati-activity>\n').encode()
        yield b"</iati-activities>\n"

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:  # noqa: ANN001 - io's signature
        while len(self._buffer) < len(target):
            part = next(self._parts, None)
            if part is None:
                break
            self._buffer += part
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_large_file_is_read_in_constant_memory():
    count = 60_000  # about 25 MB of XML: a kept tree would hold well over 100 MB
    activities = read_activities(io.BufferedReader(_Synthetic(count)))
    for _ in range(1000):
        next(activities)
    before = _rss_kb()
    seen = 1000
    for activity in activities:
        seen += 1
        if seen == count:
            grown = _rss_kb() - before
            assert activity.identifier == f"XM-TEST-{count - 1}"
    assert seen == count
    assert grown < 30_000, f"memory grew by {grown} kB while reading"


# --- hostile and wrong files --------------------------------------------------------------


def test_malformed_xml_is_refused_in_french_naming_the_line():
    data = activity_xml().replace(b"<activity-status code=\"2\"/>", b"<activity-status>")
    with pytest.raises(XmlSyntaxError) as refused:
        _read(data)
    line = data.decode().splitlines().index("  <activity-status>") + 1
    assert refused.value.line is not None and refused.value.line >= line
    assert f"ligne {refused.value.line}" in refused.value.message
    assert "mal formé" in refused.value.message


def test_an_external_entity_is_refused_without_reading_the_file(tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("secret-4b1d")
    data = (f'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
            '<iati-activities version="2.03"><iati-activity><iati-identifier>&xxe;'
            '</iati-identifier></iati-activity></iati-activities>')
    with pytest.raises(XmlSecurityError) as refused:
        _read(data)
    assert "secret-4b1d" not in str(refused.value)
    assert "DOCTYPE" in refused.value.message and "ligne 3" in refused.value.message


def test_an_external_dtd_and_parameter_entities_are_never_fetched(http_server):
    url, hits = http_server
    external = (f'<?xml version="1.0"?>\n<!DOCTYPE iati-activities SYSTEM "{url}/x.dtd">\n'
                '<iati-activities version="2.03"/>')
    parameter = (f'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY % p SYSTEM "{url}/p.dtd"> %p;'
                 ']>\n<iati-activities version="2.03">&leak;</iati-activities>')
    for data in (external, parameter):
        with pytest.raises(XmlSecurityError):
            _read(data)
    assert hits == []


def test_a_billion_laughs_file_is_refused_quickly():
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)]
    data = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [\n' + "\n".join(entities) + '\n]>\n'
            '<iati-activities version="2.03"><iati-activity><iati-identifier>&lol9;'
            '</iati-identifier></iati-activity></iati-activities>')
    started = time.perf_counter()
    with pytest.raises(XmlSecurityError) as refused:
        _read(data)
    assert time.perf_counter() - started < 2
    assert "rien n'a été résolu" in refused.value.message


@pytest.mark.parametrize(("version", "words"), [
    ("1.05", "n'est plus prise en charge"), ("2.04", "inconnue"), ("", "pas indiquée")])
def test_a_wrong_iati_version_is_refused_naming_the_line(version, words):
    data = activity_xml(version=version)
    with pytest.raises(IatiFileError) as refused:
        _read(data)
    assert refused.value.line == 2
    assert words in refused.value.message and "ligne 2" in refused.value.message


def test_an_organisation_file_given_as_activities_is_refused():
    data = (b'<?xml version="1.0"?>\n<iati-organisations version="2.03">\n <iati-organisation>'
            b'<organisation-identifier>XM-DAC-7</organisation-identifier></iati-organisation>'
            b'\n</iati-organisations>')
    with pytest.raises(IatiFileError) as refused:
        _read(data)
    assert "fichier d'organisations" in refused.value.message
    assert refused.value.line == 2


def test_a_file_that_is_not_iati_or_is_empty_is_refused():
    with pytest.raises(IatiFileError, match="l'élément racine est <html>"):
        _read(b"<html><body/></html>")
    for empty in (b"", b"  \n"):
        with pytest.raises(XmlSyntaxError, match="vide"):
            _read(empty)


def test_an_unreadable_date_or_amount_names_its_line():
    bad_date = activity_xml(paid="2021-13-45")
    with pytest.raises(IatiFileError) as refused:
        _read(bad_date)
    line = next(n for n, text in enumerate(bad_date.decode().splitlines(), 1)
                if "transaction-date" in text)
    assert refused.value.line == line
    assert f"ligne {line} : transaction-date/@iso-date" in refused.value.message
    bad_amount = activity_xml().replace(b">500<", b">cinq cents<")
    with pytest.raises(IatiFileError, match="nombre illisible « cinqcents »"):
        _read(bad_amount)


def test_an_activity_without_identifier_is_refused():
    data = activity_xml(identifier="  ")
    with pytest.raises(IatiFileError, match="ligne 3 : activité sans <iati-identifier>"):
        _read(data)


# --- encodings ---------------------------------------------------------------------------


def _sample(encoding: str) -> str:
    return (f'<?xml version="1.0" encoding="{encoding}"?>\n<iati-activities version="2.03">'
            '<iati-activity xml:lang="fr"><iati-identifier>ML-1</iati-identifier><title>'
            '<narrative>Sécurité alimentaire à Ségou – « été »</narrative></title>'
            '</iati-activity></iati-activities>')


@pytest.mark.parametrize(("encoding", "encode"), [
    ("ISO-8859-1", lambda text: text.replace("–", "-").encode("latin-1")),
    ("windows-1252", lambda text: text.encode("cp1252")),
    ("UTF-16", lambda text: text.encode("utf-16")),
    ("UTF-8", lambda text: b"\xef\xbb\xbf" + text.encode("utf-8")),
])
def test_files_in_other_encodings_read_the_same_text(encoding, encode):
    activity, = _read(encode(_sample(encoding)))
    expected = "Sécurité alimentaire à Ségou – « été »"
    if encoding == "ISO-8859-1":
        expected = expected.replace("–", "-")
    assert activity.title == {"fr": expected}


def test_latin1_bytes_in_a_file_declared_utf8_are_refused_naming_the_line():
    data = _sample("UTF-8").replace("–", "-").encode("latin-1")
    with pytest.raises(XmlSyntaxError) as refused:
        _read(data)
    assert refused.value.line == 2
    assert "ligne 2" in refused.value.message
