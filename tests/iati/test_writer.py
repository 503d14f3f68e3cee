"""The streaming IATI 2.03 writer: schema-valid output, every field round-trips, constant memory."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, date, datetime
from decimal import Decimal

from lxml import etree

from iati.model import (
    Activity,
    ActivityDate,
    Administrative,
    Budget,
    Description,
    DocumentLink,
    Location,
    Organisation,
    OrgRef,
    ParticipatingOrg,
    RecipientCountry,
    RecipientRegion,
    Sector,
    Transaction,
    Value,
)
from iati.schema import load_schema
from iati.writer import (
    XML_LANG,
    activity_element,
    iter_activities,
    write_activities,
    write_organisations,
)

GENERATED = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)


def full_activity(identifier: str = "XM-PTF-MALI-AFD-CML1001") -> Activity:
    """An activity with every field of the model set (and several languages)."""
    return Activity(
        identifier=identifier,
        reporting_org=OrgRef("XM-PTF-MALI", "90", {"fr": "Pool Technique des PTF",
                                                    "en": "PTF Technical Pool"},
                             secondary_reporter=True),
        title={"fr": "Écoles de Kita", "en": "Kita schools"},
        descriptions=[Description("1", {"fr": "Construire des écoles & former.",
                                        "en": "Build schools and train teachers."}),
                      Description("2", {"fr": "Scolariser 10 000 enfants."})],
        participating_orgs=[
            ParticipatingOrg("FR-3", "10", {"fr": "Agence française de développement"},
                             role="1", activity_id="FR-3-CML1001"),
            ParticipatingOrg("", "10", {"fr": "Ministère de l'Éducation nationale",
                                        "en": "Ministry of Education"}, role="4"),
        ],
        status="2",
        dates=[ActivityDate("1", date(2021, 1, 1)), ActivityDate("2", date(2021, 3, 15)),
               ActivityDate("3", date(2026, 12, 31))],
        recipient_countries=[RecipientCountry("ML", Decimal("100"))],
        recipient_regions=[RecipientRegion("289", "1", Decimal("100"))],
        locations=[Location(
            ref="XM-PTF-MALI-AFD-CML1001-KITA", name={"fr": "Kita"},
            description={"fr": "Cercle de Kita, région de Kayes", "en": "Kita district"},
            latitude=13.03885, longitude=-9.48817, reach="1", exactness="1",
            location_class="2", feature_designation="PPLA2",
            location_ids=[("G1", "2455216")],
            administratives=[Administrative("A4", "ML", 0), Administrative("G1", "2455216")])],
        sectors=[Sector("11220", "1", Decimal("60"), name={"fr": "Enseignement primaire"}),
                 Sector("11330", "1", Decimal("40")),
                 Sector("4.1", "99", Decimal("100"), vocabulary_uri="https://example.org/v",
                        name={"en": "Quality education"})],
        budgets=[Budget(date(2025, 1, 1), date(2025, 12, 31),
                        Value(Decimal("1500000000"), "XOF", date(2025, 1, 1)), "1", "2"),
                 Budget(date(2026, 1, 1), date(2026, 12, 31),
                        Value(Decimal("2000000.50"), "EUR", date(2026, 1, 1)), "2", "1")],
        transactions=[
            Transaction("2", date(2021, 3, 15), Value(Decimal("5000000"), "EUR",
                                                      date(2021, 3, 15)),
                        ref="CML1001-C1", description={"fr": "Convention signée"},
                        provider_org=OrgRef("FR-3", "10", {"fr": "AFD"}),
                        receiver_org=OrgRef("ML-NIF-086100001A", "10",
                                            {"fr": "Trésor public du Mali"}),
                        sectors=[Sector("11220", "1")], recipient_country="ML"),
            Transaction("3", date(2022, 6, 30), Value(Decimal("1250000.75"), "USD",
                                                      date(2022, 6, 1))),
        ],
        document_links=[DocumentLink(
            "https://portail.example/documents/12", "application/pdf",
            {"fr": "Rapport annuel", "en": "Annual report"}, ["A07", "B01"], ["fr", "en"],
            date(2025, 2, 1))],
        default_currency="EUR",
        default_lang="fr",
        last_updated=datetime(2026, 2, 1, 10, 0, 5, tzinfo=UTC),
        hierarchy="1",
        default_aid_type=[("1", "C01"), ("2", "1")],
        default_finance_type="110",
        default_flow_type="10",
        default_tied_status="5",
        collaboration_type="1",
    )


def full_organisation() -> Organisation:
    """An organisation record with every field set."""
    return Organisation(
        identifier="XM-PTF-MALI",
        name={"fr": "Pool Technique des PTF au Mali", "en": "PTF Technical Pool, Mali"},
        reporting_org=OrgRef("XM-PTF-MALI", "90", {"fr": "Pool Technique des PTF"}),
        default_currency="XOF",
        default_lang="fr",
        last_updated=datetime(2026, 2, 1, tzinfo=UTC),
        total_budgets=[Budget(date(2026, 1, 1), date(2026, 12, 31),
                              Value(Decimal("350000000"), "XOF", date(2026, 1, 1)),
                              status="2")],
        document_links=[DocumentLink("https://portail.example/pages/pool-technique",
                                     "text/html", {"fr": "Mandat"}, ["B02"], ["fr"],
                                     date(2024, 5, 1))],
    )


# --- a reader for the test only: XML back to the data classes -----------------------------


def _texts(element: etree._Element | None, default_lang: str) -> dict[str, str]:
    if element is None:
        return {}
    return {n.get(XML_LANG, default_lang): n.text or "" for n in element.findall("narrative")}


def _org(element: etree._Element | None, lang: str) -> OrgRef | None:
    if element is None:
        return None
    return OrgRef(element.get("ref", ""), element.get("type", ""), _texts(element, lang),
                  element.get("secondary-reporter") == "1")


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _value(element: etree._Element) -> Value:
    value = element.find("value")
    return Value(Decimal(value.text), value.get("currency", ""), _day(value.get("value-date")))


def _sector(element: etree._Element, lang: str) -> Sector:
    return Sector(element.get("code"), element.get("vocabulary", "1"),
                  _decimal(element.get("percentage")), element.get("vocabulary-uri", ""),
                  _texts(element, lang))


def _budget(element: etree._Element) -> Budget:
    return Budget(_day(element.find("period-start").get("iso-date")),
                  _day(element.find("period-end").get("iso-date")), _value(element),
                  element.get("type", "1"), element.get("status", "1"))


def _location(element: etree._Element, lang: str) -> Location:
    pos = element.findtext("point/pos")
    latitude, longitude = (float(p) for p in pos.split()) if pos else (None, None)

    def code(tag: str) -> str:
        found = element.find(tag)
        return "" if found is None else found.get("code", "")

    return Location(
        ref=element.get("ref", ""), name=_texts(element.find("name"), lang),
        description=_texts(element.find("description"), lang), latitude=latitude,
        longitude=longitude, reach=code("location-reach"), exactness=code("exactness"),
        location_class=code("location-class"), feature_designation=code("feature-designation"),
        location_ids=[(i.get("vocabulary"), i.get("code")) for i in element.findall("location-id")],
        administratives=[Administrative(a.get("vocabulary"), a.get("code"),
                                        int(a.get("level")) if a.get("level") else None)
                         for a in element.findall("administrative")])


def _transaction(element: etree._Element, lang: str) -> Transaction:
    country = element.find("recipient-country")
    return Transaction(
        type=element.find("transaction-type").get("code"),
        transaction_date=_day(element.find("transaction-date").get("iso-date")),
        value=_value(element), ref=element.get("ref", ""),
        description=_texts(element.find("description"), lang),
        provider_org=_org(element.find("provider-org"), lang),
        receiver_org=_org(element.find("receiver-org"), lang),
        sectors=[_sector(s, lang) for s in element.findall("sector")],
        recipient_country="" if country is None else country.get("code"))


def _document_link(element: etree._Element, lang: str) -> DocumentLink:
    when = element.find("document-date")
    return DocumentLink(element.get("url"), element.get("format"),
                        _texts(element.find("title"), lang),
                        [c.get("code") for c in element.findall("category")],
                        [c.get("code") for c in element.findall("language")],
                        None if when is None else _day(when.get("iso-date")))


def _code(element: etree._Element, tag: str) -> str:
    found = element.find(tag)
    return "" if found is None else found.get("code", "")


def read_activity(element: etree._Element) -> Activity:
    """The data classes back from one <iati-activity>."""
    lang = element.get(XML_LANG, "")
    updated = element.get("last-updated-datetime")
    return Activity(
        identifier=element.findtext("iati-identifier"),
        reporting_org=_org(element.find("reporting-org"), lang),
        title=_texts(element.find("title"), lang),
        descriptions=[Description(d.get("type", "1"), _texts(d, lang))
                      for d in element.findall("description")],
        participating_orgs=[ParticipatingOrg(p.get("ref", ""), p.get("type", ""),
                                             _texts(p, lang), role=p.get("role"),
                                             activity_id=p.get("activity-id", ""))
                            for p in element.findall("participating-org")],
        status=_code(element, "activity-status"),
        dates=[ActivityDate(d.get("type"), _day(d.get("iso-date")))
               for d in element.findall("activity-date")],
        recipient_countries=[RecipientCountry(c.get("code"), _decimal(c.get("percentage")))
                             for c in element.findall("recipient-country")],
        recipient_regions=[RecipientRegion(r.get("code"), r.get("vocabulary", "1"),
                                           _decimal(r.get("percentage")))
                           for r in element.findall("recipient-region")],
        locations=[_location(loc, lang) for loc in element.findall("location")],
        sectors=[_sector(s, lang) for s in element.findall("sector")],
        budgets=[_budget(b) for b in element.findall("budget")],
        transactions=[_transaction(t, lang) for t in element.findall("transaction")],
        document_links=[_document_link(d, lang) for d in element.findall("document-link")],
        default_currency=element.get("default-currency", ""),
        default_lang=lang,
        last_updated=datetime.fromisoformat(updated) if updated else None,
        hierarchy=element.get("hierarchy", ""),
        default_aid_type=[(a.get("vocabulary"), a.get("code"))
                          for a in element.findall("default-aid-type")],
        default_finance_type=_code(element, "default-finance-type"),
        default_flow_type=_code(element, "default-flow-type"),
        default_tied_status=_code(element, "default-tied-status"),
        collaboration_type=_code(element, "collaboration-type"),
    )


def read_organisation(element: etree._Element) -> Organisation:
    """The data class back from one <iati-organisation>."""
    lang = element.get(XML_LANG, "")
    return Organisation(
        identifier=element.findtext("organisation-identifier"),
        name=_texts(element.find("name"), lang),
        reporting_org=_org(element.find("reporting-org"), lang),
        default_currency=element.get("default-currency", ""), default_lang=lang,
        last_updated=datetime.fromisoformat(element.get("last-updated-datetime")),
        total_budgets=[Budget(_day(b.find("period-start").get("iso-date")),
                              _day(b.find("period-end").get("iso-date")), _value(b),
                              status=b.get("status", "1"))
                       for b in element.findall("total-budget")],
        document_links=[_document_link(d, lang) for d in element.findall("document-link")])


def _unset_fields(obj: object, path: str = "") -> list[str]:
    """Dataclass fields left at an empty value, recursively (lists: every item)."""
    unset = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        where = f"{path}{f.name}"
        if f.name == "group":  # ptfops only, not written to IATI
            continue
        if value is None or value is False or (not value and isinstance(value, str | list | dict)):
            unset.append(where)
        elif dataclasses.is_dataclass(value):
            unset.extend(_unset_fields(value, where + "."))
        elif isinstance(value, list):
            for n, item in enumerate(value):
                if dataclasses.is_dataclass(item):
                    unset.extend(_unset_fields(item, f"{where}[{n}]."))
    return unset


def _activities_file(*activities: Activity) -> bytes:
    out = io.BytesIO()
    write_activities(out, activities, GENERATED)
    return out.getvalue()


# --- tests ---------------------------------------------------------------------------------


def test_the_sample_activity_sets_every_field_of_the_model_so_the_round_trip_covers_them():
    activity = full_activity()
    # Fields that may stay empty in one item because another item of the same list sets them.
    allowed = {"participating_orgs[1].ref", "participating_orgs[1].activity_id",
               "descriptions[1].text", "sectors[0].vocabulary_uri", "sectors[1].vocabulary_uri",
               "sectors[1].name",
               "sectors[2].name", "transactions[1].ref", "transactions[1].description",
               "transactions[1].provider_org", "transactions[1].receiver_org",
               "transactions[1].sectors", "transactions[1].recipient_country",
               "transactions[0].sectors[0].percentage",
               "transactions[0].sectors[0].vocabulary_uri", "transactions[0].sectors[0].name",
               "transactions[0].provider_org.secondary_reporter",
               "transactions[0].receiver_org.secondary_reporter",
               "participating_orgs[0].secondary_reporter",
               "participating_orgs[1].secondary_reporter",
               "locations[0].administratives[1].level"}
    assert [f for f in _unset_fields(activity) if f not in allowed] == []
    assert _unset_fields(full_organisation()) == ["reporting_org.secondary_reporter"]


def test_an_activity_file_validates_against_the_official_2_03_schema():
    data = _activities_file(full_activity(), full_activity("XM-PTF-MALI-AFD-CML1002"))
    tree = etree.parse(io.BytesIO(data))
    schema = load_schema("iati-activities")
    assert schema.validate(tree), schema.error_log
    root = tree.getroot()
    assert root.tag == "iati-activities"
    assert root.get("version") == "2.03"
    assert root.get("generated-datetime") == "2026-03-01T08:30:00Z"
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")


def test_an_organisation_file_validates_against_the_official_2_03_schema():
    out = io.BytesIO()
    write_organisations(out, [full_organisation()], GENERATED)
    tree = etree.parse(io.BytesIO(out.getvalue()))
    schema = load_schema("iati-organisations")
    assert schema.validate(tree), schema.error_log
    assert tree.getroot().get("version") == "2.03"


def test_every_field_of_an_activity_round_trips_through_the_xml():
    activity = full_activity()
    root = etree.parse(io.BytesIO(_activities_file(activity))).getroot()
    assert read_activity(root[0]) == activity


def test_every_field_of_an_organisation_round_trips_through_the_xml():
    organisation = full_organisation()
    out = io.BytesIO()
    write_organisations(out, [organisation], GENERATED)
    root = etree.parse(io.BytesIO(out.getvalue())).getroot()
    assert read_organisation(root[0]) == organisation


def test_children_come_in_the_order_the_schema_requires_even_when_the_model_lists_differ():
    element = activity_element(full_activity())
    tags = [child.tag for child in element]
    expected = ["iati-identifier", "reporting-org", "title", "description", "participating-org",
                "activity-status", "activity-date", "recipient-country", "recipient-region",
                "location", "sector", "collaboration-type", "default-flow-type",
                "default-finance-type", "default-aid-type", "default-tied-status", "budget",
                "transaction", "document-link"]
    assert [t for i, t in enumerate(tags) if i == 0 or tags[i - 1] != t] == expected
    location = element.find("location")
    assert [c.tag for c in location] == [
        "location-reach", "location-id", "name", "description", "administrative",
        "administrative", "point", "exactness", "location-class", "feature-designation"]


def test_narratives_in_the_default_language_carry_no_xml_lang_and_others_do():
    element = activity_element(full_activity())
    narratives = element.find("title").findall("narrative")
    assert [(n.get(XML_LANG), n.text) for n in narratives] == [
        (None, "Écoles de Kita"), ("en", "Kita schools")]


def test_amounts_are_written_as_plain_decimals_and_special_characters_are_escaped():
    data = _activities_file(full_activity()).decode()
    assert ">1500000000</value>" in data
    assert ">2000000.5</value>" in data
    assert "E+" not in data
    assert "Construire des écoles &amp; former." in data


def test_an_empty_optional_value_is_left_out_rather_written_empty():
    activity = Activity("XM-PTF-MALI-1", OrgRef("XM-PTF-MALI", "90", {"fr": "PTF"}),
                        {"fr": "Titre"})
    element = activity_element(activity)
    assert [c.tag for c in element] == ["iati-identifier", "reporting-org", "title"]
    assert "default-currency" not in element.attrib
    assert 'secondary-reporter' not in element.find("reporting-org").attrib


def test_the_writer_pulls_activities_one_at_a_time_and_emits_chunks_as_it_goes():
    pulled = []

    def portfolio():
        for n in range(3000):
            pulled.append(n)
            yield full_activity(f"XM-PTF-MALI-GEN-{n}")

    chunks = iter_activities(portfolio(), GENERATED, chunk_bytes=16 * 1024)
    first = next(chunks)
    assert first.startswith(b"<?xml")
    assert len(pulled) < 20, "the first chunk must come before the whole portfolio is read"
    rest = b"".join(chunks)
    assert len(pulled) == 3000
    root = etree.fromstring(first + rest)
    assert len(root) == 3000
    assert root[-1].findtext("iati-identifier") == "XM-PTF-MALI-GEN-2999"


def test_an_empty_portfolio_gives_a_well_formed_root_with_no_activity():
    root = etree.fromstring(_activities_file())
    assert root.tag == "iati-activities" and len(root) == 0
