"""Importing IATI XML into the portal: the Senegal file whole, re-imports, all or nothing, the
command line and the upload form, on both backends."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from iati.model import Activity, Transaction, Value
from iati.writer import write_activities
from ops.cli import main
from sites.extensions import db
from sites.iati_import import ImportRefusedError, import_file
from sites.models import (
    AuditEvent,
    Group,
    IatiActivity,
    IatiLocation,
    IatiParticipatingOrg,
    IatiTransaction,
    SiteState,
)
from tests.conftest import SHARED
from tests.test_iati_files import make_activity, store

SENEGAL = SHARED / "data" / "iati" / "senegal-aims-2.03.xml"
needs_senegal = pytest.mark.skipif(
    not SENEGAL.is_file(),
    reason=f"{SHARED} is absent (a clone outside the workplace): no Senegal IATI file to import")
TOKEN = re.compile(r'name="token" value="([^"]+)"')
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def xml_file(*activities: Activity) -> bytes:
    """An IATI 2.03 activity file of `activities`, as the portal writes them."""
    stream = io.BytesIO()
    write_activities(stream, activities, datetime(2026, 1, 20, tzinfo=UTC))
    return stream.getvalue()


def write(tmp_path: Path, *activities: Activity, name: str = "import.xml") -> Path:
    path = tmp_path / name
    path.write_bytes(xml_file(*activities))
    return path


def counts(app) -> tuple[int, int, int]:
    """(activities, locations, transactions) in the database."""
    with app.app_context():
        return tuple(db.session.scalar(select(func.count()).select_from(model))
                     for model in (IatiActivity, IatiLocation, IatiTransaction))


def imports_recorded(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.summary).where(
            AuditEvent.action == "iati.import").order_by(AuditEvent.id)))


def run_import(app, path: Path, group: str = "", **options):
    """import_file in an app context, with the group given by slug."""
    with app.app_context():
        owner = db.session.scalar(select(Group).where(Group.slug == group)) if group else None
        return import_file(path, group=owner, **options)


# --- the Senegal file ------------------------------------------------------------------


@needs_senegal
def test_the_senegal_file_imports_whole_with_a_quality_report(app):
    summary = run_import(app, SENEGAL, "gt-sante")
    assert (summary.activities, summary.locations, summary.transactions) == (701, 471, 2256)
    assert (summary.created, summary.updated) == (701, 0)
    assert counts(app) == (701, 471, 2256)
    quality = {f.code: (f.count, f.total) for f in summary.quality.findings}
    assert quality["no-participating-org-ref"] == (903, 903)
    assert quality["no-location-reach"] == (471, 471)
    assert summary.severity_counts()["critical"] == 0
    assert summary.severity_counts()["error"] > 0  # reported, not refused
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(IatiParticipatingOrg).where(
            IatiParticipatingOrg.ref == "")) == 903
        sante = db.session.scalar(select(Group.id).where(Group.slug == "gt-sante"))
        assert set(db.session.scalars(select(IatiActivity.group_id))) == {sante}
        fatick = db.session.scalar(select(IatiLocation).where(IatiLocation.name_en == "Fatick"))
        assert (fatick.latitude, fatick.longitude, fatick.geonames_id) == (14.28333, -16.5,
                                                                             "2251910")
    assert imports_recorded(app) == [
        "senegal-aims-2.03.xml : 701 activités importées (701 nouvelles, 0 mises à jour), "
        "471 lieux, 2256 transactions, groupe gt-sante"]


@needs_senegal
def test_re_importing_the_senegal_file_updates_and_never_duplicates(app):
    run_import(app, SENEGAL, "gt-sante")
    with app.app_context():
        before = sorted(db.session.scalars(select(IatiActivity.id)))
    again = run_import(app, SENEGAL)  # no group: each activity keeps its own
    assert (again.created, again.updated, again.activities) == (0, 701, 701)
    assert counts(app) == (701, 471, 2256)
    with app.app_context():
        assert sorted(db.session.scalars(select(IatiActivity.id))) == before
        assert db.session.scalar(select(func.count()).select_from(IatiActivity).where(
            IatiActivity.group_id.is_(None))) == 0


# --- re-imports, all or nothing --------------------------------------------------------


def test_a_re_import_replaces_the_children_of_an_activity(app, tmp_path):
    first = make_activity("XM-PTF-MALI-R-1")
    run_import(app, write(tmp_path, first))
    changed = replace(first, title={"fr": "Nouveau titre"}, transactions=[
        Transaction("3", first.transactions[1].transaction_date,
                    Value(first.transactions[1].value.amount, "XOF"))], locations=[])
    summary = run_import(app, write(tmp_path, changed, make_activity("XM-PTF-MALI-R-2")))
    assert (summary.created, summary.updated) == (1, 1)
    assert counts(app) == (2, 1, 3)
    with app.app_context():
        row = db.session.scalar(select(IatiActivity).where(
            IatiActivity.identifier == "XM-PTF-MALI-R-1"))
        assert row.title_fr == "Nouveau titre"
        assert [t.type for t in row.transactions] == ["3"]


def test_an_identifier_repeated_in_the_file_is_stored_once(app, tmp_path):
    one = make_activity("XM-PTF-MALI-D-1")
    summary = run_import(app, write(tmp_path, one, replace(one, title={"fr": "Doublon"})),
                         batch=1)
    assert (summary.activities, summary.created, summary.updated) == (1, 1, 0)
    assert counts(app) == (1, 1, 2)
    assert any(f.id == "1.1.2" for f in summary.findings)


def test_a_failure_in_the_middle_of_the_file_stores_nothing(app, tmp_path):
    activities = [make_activity(f"XM-PTF-MALI-M-{n}") for n in range(5)]
    activities[3] = make_activity("XM-PTF-MALI-" + "M" * 250)  # no room in the identifier column
    with app.app_context():
        version = db.session.get(SiteState, 1).version
    with pytest.raises(ImportRefusedError) as refused:
        run_import(app, write(tmp_path, *activities), "gt-sante", batch=2)
    assert "trop longue" in refused.value.message and "rien n'a été importé" in (
        refused.value.message)
    assert counts(app) == (0, 0, 0)
    assert imports_recorded(app) == []
    with app.app_context():
        assert db.session.get(SiteState, 1).version == version


def test_a_focal_point_scope_refuses_an_activity_of_another_group_and_stores_nothing(
        app, tmp_path):
    store(app, make_activity("XM-PTF-MALI-EDU-1", "gt-education"))
    with app.app_context():
        sante = db.session.scalar(select(Group).where(Group.slug == "gt-sante"))
        path = write(tmp_path, make_activity("XM-PTF-MALI-S-1"), make_activity("XM-PTF-MALI-S-2"),
                     make_activity("XM-PTF-MALI-EDU-1"))
        with pytest.raises(ImportRefusedError, match="appartient déjà à un autre groupe"):
            import_file(path, group=sante, editable_group_ids={sante.id}, batch=1)
    assert counts(app)[0] == 1


def test_names_too_long_for_the_database_are_shortened_and_counted(app, tmp_path):
    long_title = replace(make_activity("XM-PTF-MALI-L-1"), title={"fr": "T" * 700})
    summary = run_import(app, write(tmp_path, long_title))
    assert summary.shortened_texts == 1
    with app.app_context():
        title = db.session.scalar(select(IatiActivity.title_fr))
        assert len(title) == 500 and title.endswith("…")


def test_an_amount_too_large_for_the_database_refuses_the_file_on_both_backends(app, tmp_path):
    huge = make_activity("XM-PTF-MALI-H-1", commitment="12345678901234567890")
    with pytest.raises(ImportRefusedError) as refused:
        run_import(app, write(tmp_path, make_activity("XM-PTF-MALI-H-0"), huge))
    assert refused.value.message == (
        "activité « XM-PTF-MALI-H-1 » : le nombre 12345678901234567890 (amount) est trop grand "
        "pour être enregistré (18 chiffres avant la virgule au plus) ; rien n'a été importé")
    assert counts(app) == (0, 0, 0)


@pytest.mark.parametrize(("data", "words"), [
    (b"<iati-activities version='2.03'><iati-activity>", "XML mal formé"),
    (b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "b">]>\n<iati-activities version="2.03"/>',
     "DOCTYPE"),
    (b'<iati-activities version="1.05"/>', "1.05"),
    (b'<?xml version="1.0"?>\n<iati-organisations version="2.03"><iati-organisation>'
     b'<organisation-identifier>XM-DAC-7</organisation-identifier><name><narrative>Pays-Bas'
     b'</narrative></name><reporting-org ref="XM-DAC-7" type="10"/></iati-organisation>'
     b'</iati-organisations>', "fichier d'organisations"),
])
def test_a_file_the_import_cannot_read_is_refused_in_french_and_stores_nothing(
        app, tmp_path, data, words):
    path = tmp_path / "bad.xml"
    path.write_bytes(data)
    with pytest.raises(ImportRefusedError) as refused:
        run_import(app, path)
    assert words in refused.value.message
    assert refused.value.message.startswith("fichier refusé, rien n'a été importé")
    assert counts(app) == (0, 0, 0) and imports_recorded(app) == []


def test_a_dry_run_counts_and_stores_nothing(app, tmp_path):
    store(app, make_activity("XM-PTF-MALI-DRY-1"))
    path = write(tmp_path, make_activity("XM-PTF-MALI-DRY-1"), make_activity("XM-PTF-MALI-DRY-2"))
    summary = run_import(app, path, dry_run=True)
    assert (summary.activities, summary.created, summary.updated) == (2, 1, 1)
    assert counts(app) == (1, 1, 2) and imports_recorded(app) == []


# --- the command line ------------------------------------------------------------------


def _cli(database_url: str, tmp_path: Path, *args: str):
    env = {"DATABASE_URL": database_url, "PTFOPS_INSTANCE": str(tmp_path / "cli-instance"),
           "PTFOPS_INVENTORY": None}
    return CliRunner().invoke(main, ["iati", "import", *args], env=env, catch_exceptions=False)


def test_ptfops_iati_import_json_prints_the_counts_and_the_quality_findings(
        app, database_url, tmp_path):
    bare = replace(make_activity("XM-PTF-MALI-CLI-1"), budgets=[])
    bare.participating_orgs[0].ref = ""
    path = write(tmp_path, bare, make_activity("XM-PTF-MALI-CLI-2"))
    result = _cli(database_url, tmp_path, str(path), "--group", "gt-education", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["activities"], summary["locations"], summary["transactions"]) == (2, 2, 4)
    assert (summary["created"], summary["updated"], summary["group"]) == (2, 0, "gt-education")
    quality = {q["code"]: q for q in summary["quality"]}
    assert quality["no-participating-org-ref"]["count"] == 3  # both ministries and bare's AFD
    assert quality["no-participating-org-ref"]["label"] == (
        "organisations participantes sans référence (ref)")
    assert summary["validation"]["critical"] == 0
    assert counts(app) == (2, 2, 4)


def test_ptfops_iati_import_prints_a_french_summary_and_refuses_bad_files(
        app, database_url, tmp_path):
    path = write(tmp_path, make_activity("XM-PTF-MALI-CLI-3"))
    result = _cli(database_url, tmp_path, str(path))
    assert result.exit_code == 0, result.output
    assert "1 activités importées (1 nouvelles, 0 mises à jour), 1 lieux, 2 transactions" in (
        result.stdout)
    broken = tmp_path / "broken.xml"
    broken.write_bytes(b'<?xml version="1.0"?>\n<iati-activities version="2.03">\n<oops>\n')
    refused = _cli(database_url, tmp_path, str(broken))
    assert refused.exit_code == 1
    assert "fichier refusé, rien n'a été importé : ligne" in refused.stderr
    unknown = _cli(database_url, tmp_path, str(path), "--group", "gt-inconnu")
    assert unknown.exit_code == 2 and "groupe inconnu" in unknown.stderr
    assert counts(app) == (1, 1, 2)


# --- the upload form -------------------------------------------------------------------


def _upload(client, data: bytes, group: str = "", name: str = "partenaire.xml", **extra):
    return client.post("/admin/iati/import", data={"file": (io.BytesIO(data), name),
                                                   "group": group, **extra},
                       content_type="multipart/form-data")


def _staged(app) -> list[Path]:
    return sorted((Path(app.instance_path) / "iati-imports").glob("*.xml"))


def test_the_upload_form_dry_run_stores_nothing_and_the_confirmation_stores(
        app, client, auth, make_user):
    auth.login(make_user("admin"))
    store(app, make_activity("XM-PTF-MALI-F-1"))
    data = xml_file(make_activity("XM-PTF-MALI-F-1"), make_activity("XM-PTF-MALI-F-2"))
    page = _upload(client, data, "gt-sante")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Simulation : rien n’est encore enregistré" in html
    assert 'data-count="created">1<' in html and 'data-count="updated">1<' in html
    assert 'data-count="transactions">4<' in html
    assert counts(app) == (1, 1, 2) and len(_staged(app)) == 1
    token = TOKEN.search(html).group(1)
    done = client.post("/admin/iati/import/confirmer", data={"token": token})
    assert done.status_code == 302
    assert counts(app) == (2, 2, 4) and _staged(app) == []
    with app.app_context():
        groups = set(db.session.scalars(select(Group.slug).join(IatiActivity.group)))
    assert groups == {"gt-sante"}
    assert imports_recorded(app)[0].startswith("partenaire.xml : 2 activités importées")
    follow = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Import terminé : 2 activités (1 nouvelles, 1 mises à jour)" in follow
    again = client.post("/admin/iati/import/confirmer", data={"token": token})
    assert "Cet import a expiré" in client.get(again.headers["Location"]).get_data(as_text=True)
    assert counts(app) == (2, 2, 4)


def test_a_focal_point_imports_into_its_group_only(app, client, auth, make_user):
    auth.login(make_user("focal", "gt-sante"))
    form = client.get("/admin/iati/import").get_data(as_text=True)
    assert 'value="gt-sante"' in form and 'value="gt-education"' not in form
    data = xml_file(make_activity("XM-PTF-MALI-FP-1"))
    assert _upload(client, data, "gt-education").status_code == 403
    assert _upload(client, data, "").status_code == 403
    assert _staged(app) == [] and counts(app) == (0, 0, 0)
    page = _upload(client, data, "sgt-nutrition")  # a sub-group of its GT
    token = TOKEN.search(page.get_data(as_text=True)).group(1)
    assert client.post("/admin/iati/import/confirmer", data={"token": token}).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Group.slug).join(IatiActivity.group)) == "sgt-nutrition"


def test_a_focal_point_cannot_confirm_an_import_into_another_group(app, client, auth, make_user):
    admin = make_user("admin")
    auth.login(admin)
    page = _upload(client, xml_file(make_activity("XM-PTF-MALI-X-1")), "gt-education")
    token = TOKEN.search(page.get_data(as_text=True)).group(1)
    auth.logout()
    auth.login(make_user("focal", "gt-sante"))
    assert client.post("/admin/iati/import/confirmer", data={"token": token}).status_code == 403
    assert counts(app) == (0, 0, 0) and len(_staged(app)) == 1


def test_a_focal_point_cannot_update_an_activity_of_another_group(app, client, auth, make_user):
    store(app, make_activity("XM-PTF-MALI-EDU-9", "gt-education"))
    auth.login(make_user("focal", "gt-sante"))
    page = _upload(client, xml_file(make_activity("XM-PTF-MALI-EDU-9")), "gt-sante")
    html = page.get_data(as_text=True)
    assert "Fichier refusé : rien n’a été importé" in html
    assert "appartient déjà à un autre groupe" in html and 'name="token"' not in html
    assert _staged(app) == []
    with app.app_context():
        assert db.session.scalar(select(Group.slug).join(IatiActivity.group)) == "gt-education"


def test_members_and_visitors_cannot_reach_the_import(app, client, auth, make_user):
    assert client.get("/admin/iati/import").status_code == 302
    auth.login(make_user("member", "gt-sante"))
    assert client.get("/admin/iati/import").status_code == 403
    assert _upload(client, xml_file(make_activity("XM-PTF-MALI-MB-1")), "gt-sante"
                   ).status_code == 403
    assert counts(app) == (0, 0, 0)


def test_an_oversized_or_malformed_upload_is_refused_in_french(app, client, auth, make_user):
    auth.login(make_user("admin"))
    app.config["IATI_IMPORT_MAX_BYTES"] = 1024 * 1024
    html = _upload(client, b" " * (1024 * 1024 + 1)).get_data(as_text=True)
    assert "Le fichier est trop volumineux (1 Mo au plus). Rien n’a été importé." in html
    html = _upload(client, b'<?xml version="1.0"?>\n<iati-activities version="2.03">\n<a>'
                   ).get_data(as_text=True)
    assert "Fichier refusé : rien n’a été importé" in html
    assert "XML mal formé" in html and "ligne 3" in html
    assert _staged(app) == [] and counts(app) == (0, 0, 0)


@pytest.mark.csrf
def test_the_dry_run_and_the_confirmation_carry_csrf_tokens(app, client, make_user):
    admin = make_user("admin")
    token = CSRF.search(client.get("/connexion").get_data(as_text=True)).group(1)
    client.post("/connexion", data={"email": admin.email, "password": admin.password,
                                    "csrf_token": token})
    form = client.get("/admin/iati/import").get_data(as_text=True)
    page = _upload(client, xml_file(make_activity("XM-PTF-MALI-CS-1")),
                   csrf_token=CSRF.search(form).group(1)).get_data(as_text=True)
    import_token = TOKEN.search(page).group(1)
    assert client.post("/admin/iati/import/confirmer",
                       data={"token": import_token}).status_code == 400
    assert counts(app) == (0, 0, 0)
    confirm_csrf = CSRF.findall(page)[-2]  # the confirmation form's, before the upload form's
    done = client.post("/admin/iati/import/confirmer",
                       data={"token": import_token, "csrf_token": confirm_csrf})
    assert done.status_code == 302 and counts(app) == (1, 1, 2)


def test_a_file_with_rule_errors_but_no_critical_finding_is_imported(app, tmp_path):
    planned = make_activity("XM-PTF-MALI-E-1")
    activity = replace(planned, dates=[d for d in planned.dates if d.type == "3"])  # no start
    summary = run_import(app, write(tmp_path, activity))
    assert any(f.id == "6.11.1" for f in summary.findings)
    assert counts(app) == (1, 1, 2)
