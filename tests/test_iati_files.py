"""IATI publication: the database mapping, the streamed files, the Registry metadata, the export
and the demo portfolio, on both backends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import event, func, select

from iati.model import (
    Activity,
    ActivityDate,
    Description,
    Location,
    OrgRef,
    ParticipatingOrg,
    RecipientCountry,
    Sector,
    Transaction,
    Value,
)
from iati.schema import load_schema
from iati.validate import validate_bytes
from sites.extensions import db
from sites.iati_mapping import from_model, region_of, to_model, town_named
from sites.models import Group, IatiActivity, IatiLocation, IatiTransaction
from tests.iati.test_writer import full_activity

PUBLISHER = OrgRef("XM-PTF-MALI", "90", {"fr": "Pool Technique des PTF"}, True)


def make_activity(identifier: str, group: str = "", funder: tuple[str, str] = ("FR-3", "AFD"),
                  sector: str = "11220", town: str = "Kita", status: str = "2",
                  start: date = date(2022, 1, 1), end: date = date(2025, 12, 31),
                  commitment: str = "1000000", disbursement: str = "400000",
                  currency: str = "XOF", paid: date = date(2023, 5, 1)) -> Activity:
    """A small, valid activity; amounts in `currency`."""
    place = town_named(town)
    ref, name = funder
    return Activity(
        identifier=identifier, reporting_org=PUBLISHER,
        title={"fr": f"Activité {identifier}", "en": f"Activity {identifier}"},
        descriptions=[Description("1", {"fr": "Une activité de test."})],
        participating_orgs=[ParticipatingOrg(ref, "10", {"fr": name}, role="1"),
                            ParticipatingOrg("", "10", {"fr": "Ministère"}, role="4")],
        status=status, dates=[ActivityDate("1", start), ActivityDate("2", start),
                              ActivityDate("3", end)],
        recipient_countries=[RecipientCountry("ML", Decimal(100))],
        locations=[Location(ref=f"{identifier}-L1", name={"fr": place.name},
                            latitude=place.latitude, longitude=place.longitude, reach="1",
                            exactness="2", location_class="2",
                            location_ids=[("G1", place.geonames_id)])],
        sectors=[Sector(sector, "1", Decimal(100))],
        transactions=[Transaction("2", start, Value(Decimal(commitment), currency, start)),
                      Transaction("3", paid, Value(Decimal(disbursement), currency, paid))],
        default_currency=currency, last_updated=datetime(2026, 1, 15, tzinfo=UTC), group=group)


def store(app, *activities: Activity) -> None:
    """Save activities as the portal would."""
    with app.app_context():
        for activity in activities:
            db.session.add(from_model(activity))
        db.session.commit()


def xml_root(data: bytes) -> etree._Element:
    return etree.fromstring(data)


def identifiers(data: bytes) -> set[str]:
    return {a.findtext("iati-identifier") for a in xml_root(data)}


def assert_schema_valid(data: bytes, kind: str = "iati-activities") -> None:
    schema = load_schema(kind)
    tree = etree.ElementTree(etree.fromstring(data))
    assert schema.validate(tree), schema.error_log


# --- the database mapping --------------------------------------------------------------------


def test_an_activity_stored_and_read_back_is_the_same_activity(app):
    activity = full_activity()
    activity.group = "gt-education"
    with app.app_context():
        db.session.add(from_model(activity))
        db.session.commit()
        db.session.expunge_all()
        row = db.session.scalar(select(IatiActivity))
        assert to_model(row) == activity
        assert row.group.slug == "gt-education"


def test_storing_a_location_keeps_its_geonames_id_and_finds_its_mali_region(app):
    store(app, make_activity("XM-PTF-MALI-T-1", town="Sikasso"),
          make_activity("XM-PTF-MALI-T-2", town="Ménaka"))
    with app.app_context():
        rows = {r.geonames_id: r.region for r in db.session.scalars(select(IatiLocation))}
    assert rows == {town_named("Sikasso").geonames_id: "ML-3",
                    town_named("Ménaka").geonames_id: "ML-9"}


def test_a_region_given_as_an_administrative_area_wins_over_the_geonames_lookup():
    from iati.model import Administrative

    located = Location(location_ids=[("G1", town_named("Kayes").geonames_id)],
                       administratives=[Administrative("A9", "ML-BKO", 1)])
    assert region_of(located) == "ML-BKO"
    assert region_of(Location()) == ""


def test_rewriting_an_activity_replaces_its_children_instead_of_adding_more(app):
    from sites.iati_mapping import apply_model

    store(app, make_activity("XM-PTF-MALI-T-1"))
    with app.app_context():
        row = db.session.scalar(select(IatiActivity))
        changed = make_activity("XM-PTF-MALI-T-1", commitment="5000")
        changed.transactions = changed.transactions[:1]
        apply_model(row, changed)
        db.session.commit()
        amounts = db.session.scalars(select(IatiTransaction.amount)).all()
    assert amounts == [Decimal(5000)]


# --- the files on the web --------------------------------------------------------------------


def test_the_activity_file_of_the_demo_portfolio_passes_the_official_schema_and_rules(app, client):
    from sites.demo import seed

    with app.app_context():
        seed()
        stored = db.session.scalar(select(func.count()).select_from(IatiActivity))
    response = client.get("/iati/activities.xml")
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    data = response.get_data()
    assert_schema_valid(data)
    assert len(xml_root(data)) == stored
    report = validate_bytes(data)
    assert not report.has_errors, [f.to_dict() for f in report.findings if f.severity != "warning"]


def test_the_organisation_file_names_the_publisher_and_passes_the_schema(client):
    response = client.get("/iati/organisation.xml")
    assert response.status_code == 200
    data = response.get_data()
    assert_schema_valid(data, "iati-organisations")
    organisation = xml_root(data)[0]
    assert organisation.findtext("organisation-identifier") == "XM-PTF-MALI"
    assert organisation.find("reporting-org").get("ref") == "XM-PTF-MALI"


def test_a_group_file_holds_that_groups_activities_and_no_other(app, client):
    store(app, make_activity("XM-PTF-MALI-A-1", "gt-sante"),
          make_activity("XM-PTF-MALI-A-2", "gt-sante"),
          make_activity("XM-PTF-MALI-A-3", "sgt-nutrition"),
          make_activity("XM-PTF-MALI-A-4", "gt-education"), make_activity("XM-PTF-MALI-A-5"))
    sante = client.get("/iati/groupes/gt-sante.xml")
    assert sante.status_code == 200
    assert identifiers(sante.get_data()) == {"XM-PTF-MALI-A-1", "XM-PTF-MALI-A-2"}
    assert_schema_valid(sante.get_data())
    assert identifiers(client.get("/iati/groupes/sgt-nutrition.xml").get_data()) == {
        "XM-PTF-MALI-A-3"}
    assert len(identifiers(client.get("/iati/activities.xml").get_data())) == 5


def test_unknown_and_archived_groups_have_no_file(app, client):
    with app.app_context():
        db.session.scalar(select(Group).where(Group.slug == "gt-genre")).archived = True
        db.session.commit()
    assert client.get("/iati/groupes/inconnu.xml").status_code == 404
    assert client.get("/iati/groupes/gt-genre.xml").status_code == 404


def test_a_file_answers_304_until_an_activity_changes(app, client):
    store(app, make_activity("XM-PTF-MALI-E-1", "gt-sante"))
    first = client.get("/iati/groupes/gt-sante.xml")
    etag = first.headers["ETag"].strip('"')
    assert client.get("/iati/groupes/gt-sante.xml",
                      headers={"If-None-Match": f'"{etag}"'}).status_code == 304
    with app.app_context():
        db.session.scalar(select(IatiActivity)).title_fr = "Nouveau titre"
        db.session.commit()
    again = client.get("/iati/groupes/gt-sante.xml", headers={"If-None-Match": f'"{etag}"'})
    assert again.status_code == 200
    assert "Nouveau titre" in again.get_data(as_text=True)


def test_registry_metadata_lists_each_file_with_its_count_and_resource(app, client):
    app.config["SITE_URL"] = "https://ptf-mali.example"
    store(app, make_activity("XM-PTF-MALI-R-1", "gt-sante"),
          make_activity("XM-PTF-MALI-R-2", "gt-sante"),
          make_activity("XM-PTF-MALI-R-3", "gt-education"),
          make_activity("XM-PTF-MALI-R-4"))
    response = client.get("/iati/registry.json")
    assert response.status_code == 200
    metadata = response.get_json()
    datasets = {d["name"]: d for d in metadata["datasets"]}
    assert set(datasets) == {"ptf-mali-org", "ptf-mali-activities", "ptf-mali-gt-sante",
                             "ptf-mali-gt-education"}
    activities = datasets["ptf-mali-activities"]
    assert activities["filetype"] == "activity"
    assert activities["activity_count"] == 4
    assert activities["data_updated"] == "2026-01-15 00:00:00"
    assert activities["resources"] == [{"url": "https://ptf-mali.example/iati/activities.xml",
                                        "format": "IATI-XML"}]
    assert datasets["ptf-mali-gt-sante"]["activity_count"] == 2
    assert datasets["ptf-mali-gt-sante"]["resources"][0]["url"].endswith(
        "/iati/groupes/gt-sante.xml")
    assert datasets["ptf-mali-org"]["filetype"] == "organisation"
    for dataset in datasets.values():
        assert dataset["title"] and dataset["owner_org"] == "ptf-mali"
        url = dataset["resources"][0]["url"].removeprefix("https://ptf-mali.example")
        served = client.get(url)
        assert served.status_code == 200
        units = xml_root(served.get_data())
        if dataset["filetype"] == "activity":
            assert len(units) == dataset["activity_count"]
    assert metadata["publisher"]["iati_identifier"] == "XM-PTF-MALI"


# --- streaming -------------------------------------------------------------------------------


def _bulk_portfolio(app, count: int) -> None:
    template = make_activity("XM-PTF-MALI-S")
    with app.app_context():
        for n in range(count):
            db.session.add(from_model(replace(template, identifier=f"XM-PTF-MALI-S-{n:05d}")))
            if n % 500 == 499:
                db.session.flush()
        db.session.commit()


def test_a_2000_activity_portfolio_streams_without_loading_every_activity_first(app, client):
    _bulk_portfolio(app, 2000)
    loaded: list[int] = []

    def count(target, _context):
        loaded.append(target.id)

    event.listen(IatiActivity, "load", count)
    try:
        response = client.get("/iati/activities.xml", buffered=False)
        assert response.status_code == 200
        assert response.is_streamed
        chunks: Iterator[bytes] = iter(response.response)
        first = next(chunks)
        assert first.startswith(b"<?xml")
        assert 0 < len(loaded) < 2000, "the first bytes must leave before every row is read"
        body = first + b"".join(chunks)
        response.close()
    finally:
        event.remove(IatiActivity, "load", count)
    root = xml_root(body)
    assert len(root) == 2000
    assert root[0].findtext("iati-identifier") == "XM-PTF-MALI-S-00000"
    assert root[-1].findtext("iati-identifier") == "XM-PTF-MALI-S-01999"


# --- the export ------------------------------------------------------------------------------


def test_export_writes_the_same_files_to_disk_and_replaces_them_atomically(app, client, tmp_path):
    from sites.iati_files import export_files

    store(app, make_activity("XM-PTF-MALI-X-1", "gt-sante"),
          make_activity("XM-PTF-MALI-X-2", "gt-education"))
    out = tmp_path / "export"
    stale = out / "groupes" / "gt-genre.xml"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    with app.test_request_context():
        written = export_files(out, "https://ptf-mali.example")
    names = sorted(str(p.relative_to(out)) for p in written)
    assert names == ["activities.xml", "groupes/gt-education.xml", "groupes/gt-sante.xml",
                     "organisation.xml", "registry.json"]
    assert not stale.exists()
    assert list(out.rglob("*.tmp")) == []
    assert (out / "activities.xml").read_bytes() == client.get("/iati/activities.xml").get_data()
    assert_schema_valid((out / "activities.xml").read_bytes())
    registry = json.loads((out / "registry.json").read_text())
    assert {d["name"] for d in registry["datasets"]} == {
        "ptf-mali-org", "ptf-mali-activities", "ptf-mali-gt-sante", "ptf-mali-gt-education"}


def test_a_file_refused_by_its_check_does_not_replace_the_published_one(app, tmp_path):
    from sites.iati_files import ExportError, export_files

    store(app, make_activity("XM-PTF-MALI-X-1", "gt-sante"))
    out = tmp_path / "export"
    out.mkdir()
    (out / "activities.xml").write_text("published")

    def refuse(path: Path) -> str | None:
        return "refusé" if b"iati-activities" in path.read_bytes() else None

    with app.test_request_context(), pytest.raises(ExportError):
        export_files(out, "https://ptf-mali.example", check=refuse)
    assert (out / "activities.xml").read_text() == "published"
    assert list(out.rglob("*.tmp")) == []


# --- the demo portfolio ----------------------------------------------------------------------


def test_the_demo_seed_adds_a_portfolio_over_every_region_and_the_groups_once(app):
    from iati.geo import regions
    from sites.demo import seed_activities

    with app.app_context():
        added = seed_activities()
        db.session.commit()
        assert 60 <= added <= 120
        assert seed_activities() == 0
        assert db.session.scalar(select(func.count()).select_from(IatiActivity)) == added
        covered = set(db.session.scalars(select(IatiLocation.region).distinct()))
        assert covered == set(regions())
        assert db.session.scalar(select(func.count()).select_from(IatiLocation).where(
            IatiLocation.cercle == "")) == 0
        by_group = dict(db.session.execute(
            select(Group.slug, func.count(IatiActivity.id)).join(IatiActivity.group)
            .group_by(Group.slug)).all())
        education = db.session.scalars(select(IatiActivity).join(IatiActivity.group).where(
            Group.slug == "gt-education")).all()
        currencies = set(db.session.scalars(select(IatiTransaction.currency).distinct()))
        funders = {p.ref for a in education for p in a.participating_orgs if p.role == "1"}
        assert education and all(s.code.startswith("11") for a in education for s in a.sectors)
    assert len(by_group) >= 15
    assert funders <= {"XM-DAC-301-2", "FR-3", "XM-DAC-41122", "XM-DAC-44000",
                       "XI-IATI-EC_INTPA"}
    assert currencies == {"XOF", "EUR", "USD"}


def test_the_demo_portfolio_is_the_same_on_every_seed(app, tmp_path):
    from sites.demo import seed_activities

    def snapshot() -> list[tuple]:
        return [(a.identifier, a.title_fr, a.status, a.start_date,
                 tuple((t.type, t.amount, t.currency) for t in a.transactions))
                for a in db.session.scalars(select(IatiActivity).order_by(
                    IatiActivity.identifier))]

    with app.app_context():
        seed_activities()
        first = snapshot()
        for row in db.session.scalars(select(IatiActivity)):
            db.session.delete(row)
        db.session.commit()
        seed_activities()
        assert snapshot() == first


def test_ptfops_iati_export_writes_validated_files_to_the_folder(app, database_url, tmp_path):
    from click.testing import CliRunner

    from ops.cli import main

    store(app, make_activity("XM-PTF-MALI-C-1", "gt-sante"),
          make_activity("XM-PTF-MALI-C-2", "gt-sante"))
    out = tmp_path / "publication"
    env = {"DATABASE_URL": database_url, "PTFOPS_INSTANCE": str(tmp_path / "cli-instance"),
           "PTFOPS_SITE_URL": "https://ptf-mali.example", "PTFOPS_INVENTORY": None}
    result = CliRunner().invoke(main, ["iati", "export", "--out", str(out)], env=env,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == [
        "activities.xml", "gt-sante.xml", "organisation.xml", "registry.json"]
    assert identifiers((out / "activities.xml").read_bytes()) == {"XM-PTF-MALI-C-1",
                                                                  "XM-PTF-MALI-C-2"}
    registry = json.loads((out / "registry.json").read_text())
    urls = {d["resources"][0]["url"] for d in registry["datasets"]}
    assert "https://ptf-mali.example/iati/groupes/gt-sante.xml" in urls


def test_ptfops_iati_export_refuses_a_file_that_fails_the_schema(app, database_url, tmp_path):
    from click.testing import CliRunner

    from ops.cli import main

    broken = make_activity("XM-PTF-MALI-C-1")
    broken.descriptions = []  # the schema wants at least one description
    store(app, broken)
    out = tmp_path / "publication"
    env = {"DATABASE_URL": database_url, "PTFOPS_INSTANCE": str(tmp_path / "cli-instance"),
           "PTFOPS_INVENTORY": None}
    result = CliRunner().invoke(main, ["iati", "export", "--out", str(out)], env=env,
                                catch_exceptions=False)
    assert result.exit_code == 1
    assert "activities.xml" in result.output and "schéma" in result.output
    assert not (out / "activities.xml").exists()
