"""The activity spreadsheet in the portal: template, dry run, all-or-nothing import, groups."""

from __future__ import annotations

import html
import io
import re
import zipfile
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from iati import spreadsheet as ss
from iati.spreadsheet import SHEETS
from sites.extensions import db
from sites.iati_mapping import to_model
from sites.iati_spreadsheet import apply, dry_run
from sites.models import AuditEvent, Group, IatiActivity, Membership, MembershipRole, User
from tests.test_iati_files import make_activity, store

PAGE = "/admin/iati/tableur"
NEW_ID = "XM-PTF-MALI-TABLEUR-1"


@pytest.fixture
def focal(make_user, auth):
    """A focal point of gt-sante, signed in."""
    account = make_user("focal", "gt-sante")
    auth.login(account)
    return account


def new_activity_rows(identifier: str = NEW_ID, group: str = "", status: str = "2",
                      **extra: object) -> list[object]:
    """An « Activités » row creating an activity."""
    values = {"identifier": identifier, "group": group, "title_fr": "Cantines scolaires à Gao",
              "status": status, "planned_start": "01/09/2025", "default_currency": "XOF",
              "sectors": "11220", **extra}
    return [values.get(c.key) for c in SHEETS["Activités"].columns]


def row_of(sheet: str, **values: object) -> list[object]:
    return [values.get(c.key) for c in SHEETS[sheet].columns]


def workbook(sheets: dict[str, list[list[object]]]) -> bytes:
    """A workbook with these rows under the template's headers."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        sheet.append([c.title for c in SHEETS[name].columns])
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client, data: bytes, name: str = "activites.xlsx"):
    return client.post(PAGE, data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def token_of(response) -> str:
    found = re.search(r'name="token" type="hidden" value="([^"]+)"', response.get_data(
        as_text=True))
    assert found, "no confirmation form on the page"
    return found.group(1)


def activity_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(IatiActivity))


def staged_files(app) -> list[Path]:
    folder = Path(app.instance_path) / "iati-tableur"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def user(app, account) -> User:
    return db.session.get(User, account.id)


def test_the_page_offers_the_empty_and_the_group_templates(client, focal):
    page = text_of(client.get(PAGE))
    assert "Modèle vide" in page
    assert "/admin/iati/tableur/modele.xlsx?activites=1&groupe=gt-sante" in page
    assert "/admin/iati/tableur/modele.zip" in page
    response = client.get("/admin/iati/tableur/modele.xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["Activités", "Lieux", "Budgets", "Transactions", "Mode d'emploi"]


def test_the_filled_template_of_a_focal_point_holds_only_its_groups_activities(app, client,
                                                                               focal):
    store(app, make_activity("XM-PTF-MALI-SANTE-1", "gt-sante"),
          make_activity("XM-PTF-MALI-NUTRITION-1", "sgt-nutrition"),
          make_activity("XM-PTF-MALI-EDUCATION-1", "gt-education"))
    data = client.get("/admin/iati/tableur/modele.zip?activites=1").data
    rows = zipfile.ZipFile(io.BytesIO(data)).read("activites.csv").decode("utf-8-sig")
    assert "XM-PTF-MALI-SANTE-1" in rows and "XM-PTF-MALI-NUTRITION-1" in rows
    assert "XM-PTF-MALI-EDUCATION-1" not in rows
    assert client.get("/admin/iati/tableur/modele.xlsx?activites=1&groupe=gt-education") \
        .status_code == 403


def test_the_dry_run_shows_what_would_be_created_and_stores_nothing(app, client, focal):
    data = workbook({"Activités": [new_activity_rows()],
                     "Lieux": [row_of("Lieux", identifier=NEW_ID, name="Gao", region="Gao")]})
    response = upload(client, data)
    assert response.status_code == 200
    page = text_of(response)
    assert "Activités à créer" in page and NEW_ID in page
    assert "1 à créer, 0 à mettre à jour, 0 inchangée(s), 0 refusée(s)" in page
    assert activity_count(app) == 0
    assert len(staged_files(app)) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action.like("iati.spreadsheet%"))) == 0


def test_confirming_stores_the_dry_run_in_the_focal_points_group_and_logs_it(app, client,
                                                                             focal):
    data = workbook({"Activités": [new_activity_rows()],
                     "Lieux": [row_of("Lieux", identifier=NEW_ID, name="Tombouctou",
                                      geonames_id="2449067")],
                     "Budgets": [row_of("Budgets", identifier=NEW_ID,
                                        period_start="01/09/2025", period_end="31/08/2026",
                                        amount="12 500 000")]})
    token = token_of(upload(client, data))
    response = client.post(f"{PAGE}/appliquer", data={"token": token})
    assert response.status_code == 302
    assert "Enregistré : 1 activités créées" in text_of(client.get(PAGE))
    with app.app_context():
        row = db.session.scalar(select(IatiActivity).where(IatiActivity.identifier == NEW_ID))
        assert row.group.slug == "gt-sante"
        assert row.title_fr == "Cantines scolaires à Gao"
        assert row.reporting_org_ref == app.config["IATI_PUBLISHER_REF"]
        [location] = row.locations
        assert location.region == "ML-6"  # from the GeoNames town, with its point
        assert location.latitude == pytest.approx(16.77, abs=0.05)
        assert row.budgets[0].amount == 12500000
        actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions[-2:] == ["iati.spreadsheet.create", "iati.spreadsheet.import"]
    assert staged_files(app) == []
    again = client.post(f"{PAGE}/appliquer", data={"token": token})
    assert again.status_code == 302 and activity_count(app) == 1


def test_one_refused_row_refuses_the_whole_import(app, client, focal):
    good, bad = new_activity_rows(), new_activity_rows("XM-PTF-MALI-TABLEUR-2", status="9")
    response = upload(client, workbook({"Activités": [good, bad]}))
    page = text_of(response)
    assert "1 erreur : rien ne peut être enregistré" in page
    assert 'name="token"' not in page
    assert staged_files(app) == []
    with app.app_context():
        run = apply(workbook({"Activités": [good, bad]}), "activites.xlsx",
                    user(app, focal))
        assert not run.stored and [o.action for o in run.outcomes] == ["create", "refuse"]
    assert activity_count(app) == 0


def test_errors_name_the_sheet_row_and_column_in_french(client, focal):
    rows = [row_of("Budgets", identifier=NEW_ID, period_start="01/01/2026",
                   period_end="31/12/2026", amount=1000),
            row_of("Budgets", identifier=NEW_ID, period_start="01/01/2027",
                   period_end="31/12/2027", amount="mille")]
    page = text_of(upload(client, workbook({"Activités": [new_activity_rows()],
                                            "Budgets": rows})))
    assert re.search(r"<td>Budgets</td><td>3</td><td>Montant \*</td><td>F3</td><td>« mille » "
                     r"n'est pas un montant", page)


@pytest.mark.parametrize("fmt", ["xlsx", "zip"])
def test_export_edit_one_cell_and_reimport_updates_just_that_without_duplicates(app, client,
                                                                                 focal, fmt):
    store(app, make_activity("XM-PTF-MALI-SANTE-1", "gt-sante"))
    with app.app_context():
        row = db.session.scalar(select(IatiActivity))
        row.locations[0].cercle = "Kita"
        db.session.commit()
        before = to_model(row)
    data = client.get(f"/admin/iati/tableur/modele.{fmt}?activites=1&groupe=gt-sante").data
    if fmt == "xlsx":
        book = openpyxl.load_workbook(io.BytesIO(data))
        book["Transactions"]["F3"] = 450000  # N° 2, « Montant »
        out = io.BytesIO()
        book.save(out)
        edited = out.getvalue()
    else:
        archive = zipfile.ZipFile(io.BytesIO(data))
        files = {n: archive.read(n) for n in archive.namelist()}
        files["transactions.csv"] = files["transactions.csv"].replace(b";400000;", b";450000;")
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as target:
            for name, content in files.items():
                target.writestr(name, content)
        edited = out.getvalue()
    response = upload(client, edited, f"activites.{fmt}")
    page = text_of(response)
    assert "0 à créer, 1 à mettre à jour" in page
    assert "Transaction n° 2 : Montant" in page
    assert client.post(f"{PAGE}/appliquer",
                       data={"token": token_of(response)}).status_code == 302
    with app.app_context():
        [row] = db.session.scalars(select(IatiActivity)).all()
        after = to_model(row)
        assert row.locations[0].cercle == "Kita" and row.locations[0].region == "ML-1"
    assert after.transactions[1].value.amount == 450000
    before.transactions[1].value.amount = after.transactions[1].value.amount
    assert replace(after, last_updated=None) == replace(before, last_updated=None)


def test_reimporting_an_unchanged_export_changes_nothing(app, client, focal):
    store(app, make_activity("XM-PTF-MALI-SANTE-1", "gt-sante"))
    data = client.get("/admin/iati/tableur/modele.xlsx?activites=1").data
    page = text_of(upload(client, data))
    assert "Ce fichier ne change rien." in page and 'name="token"' not in page


def test_a_focal_point_may_not_touch_another_groups_activities(app, client, make_user, auth):
    store(app, make_activity("XM-PTF-MALI-SANTE-1", "gt-sante"))
    auth.login(make_user("focal", "gt-education"))
    data = workbook({
        "Activités": [new_activity_rows(group="gt-sante")],
        "Budgets": [row_of("Budgets", identifier="XM-PTF-MALI-SANTE-1",
                           period_start="01/01/2026", period_end="31/12/2026", amount=5)]})
    page = text_of(upload(client, data))
    assert re.search(r"<td>Activités</td><td>2</td><td>Groupe</td><td>B2</td><td>vous n’êtes "
                     r"pas point focal du groupe « gt-sante »", page)
    assert re.search(r"<td>Budgets</td><td>2</td><td>Identifiant de l'activité \*</td><td>A2"
                     r"</td><td>vous ne pouvez pas modifier cette activité", page)
    assert activity_count(app) == 1


def test_a_new_activity_goes_to_the_focal_points_group_or_must_name_one(app, make_user):
    account = make_user("focal", "gt-sante")  # edits gt-sante and its sub-groups
    with app.test_request_context():
        run = dry_run(workbook({"Activités": [new_activity_rows()]}), "a.xlsx",
                      db.session.get(User, account.id))
        assert run.ok and run.outcomes[0].group.slug == "gt-sante"
        education = db.session.scalar(select(Group).where(Group.slug == "gt-education"))
        db.session.add(Membership(user_id=account.id, group=education,
                                  role=MembershipRole.FOCAL))
        db.session.commit()
        run = dry_run(workbook({"Activités": [new_activity_rows()]}), "a.xlsx",
                      db.session.get(User, account.id))
        [problem] = run.errors
        assert (problem.sheet, problem.row, problem.cell) == ("Activités", 2, "B2")
        assert problem.message.startswith("indiquez le groupe de cette nouvelle activité")


def test_a_hostile_file_gets_a_french_message_and_nothing_is_kept(app, client, focal):
    page = text_of(upload(client, b"ceci n'est pas un classeur" * 50, "piege.xlsx"))
    assert "« piege.xlsx » n'est pas un vrai classeur Excel (.xlsx)" in page
    assert staged_files(app) == [] and activity_count(app) == 0
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", b"<" + b" " * (70 * 1024 * 1024) + b"/>")
    page = text_of(upload(client, bomb.getvalue(), "bombe.xlsx"))
    assert "bombe de décompression" in page and staged_files(app) == []


def test_the_token_of_another_user_stores_nothing(app, client, focal, make_user):
    token = token_of(upload(client, workbook({"Activités": [new_activity_rows()]})))
    other = app.test_client()
    account = make_user("admin")
    other.post("/connexion", data={"email": account.email, "password": account.password})
    response = other.post(f"{PAGE}/appliquer", data={"token": token})
    assert response.status_code == 302 and activity_count(app) == 0
    assert len(staged_files(app)) == 1


def test_the_library_and_the_portal_agree_on_a_new_activity(app, make_user):
    account = make_user("admin")
    data = ss.write_xlsx([replace(make_activity(NEW_ID, "gt-education"), last_updated=None)])
    with app.test_request_context():
        run = apply(data, "a.xlsx", db.session.get(User, account.id))
        assert run.stored and [o.action for o in run.outcomes] == ["create"]
        row = db.session.scalar(select(IatiActivity))
        assert row.group.slug == "gt-education" and len(row.transactions) == 2
