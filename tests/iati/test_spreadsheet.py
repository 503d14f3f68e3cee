"""The activity spreadsheet as a library: template, round trips, blank cells, hostile files."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import replace
from datetime import date
from decimal import Decimal

import openpyxl
import pytest

from iati import spreadsheet as ss
from iati.model import (
    Activity,
    ActivityDate,
    Budget,
    Description,
    Location,
    OrgRef,
    ParticipatingOrg,
    RecipientCountry,
    Sector,
    Transaction,
    Value,
)
from iati.spreadsheet import SHEETS, Limits, SpreadsheetError
from tests.iati.test_writer import full_activity

SHEET_NAMES = ["Activités", "Lieux", "Budgets", "Transactions", "Mode d'emploi"]


def simple_activity(identifier: str = "XM-PTF-MALI-TEST-1") -> Activity:
    """An activity holding only what the sheets show: it can be built back from them."""
    return Activity(
        identifier=identifier,
        reporting_org=OrgRef("XM-PTF-MALI", "90", {"fr": "Pool technique"}),
        title={"fr": "Santé à Ségou", "en": "Health in Ségou"},
        descriptions=[Description("1", {"fr": "Centres de santé.", "en": "Health centres."})],
        participating_orgs=[ParticipatingOrg("FR-3", "10", {"fr": "AFD"}, role="1"),
                            ParticipatingOrg("", "10", {"fr": "Ministère de la Santé"},
                                             role="4")],
        status="2",
        dates=[ActivityDate("1", date(2024, 1, 1)), ActivityDate("2", date(2024, 2, 1)),
               ActivityDate("3", date(2027, 12, 31))],
        recipient_countries=[RecipientCountry("ML", Decimal(100))],
        locations=[Location(ref="L1", name={"fr": "Ségou"}, description={"fr": "Chef-lieu"},
                            latitude=13.4317, longitude=-6.2157, reach="1", exactness="2",
                            location_class="2", location_ids=[("G1", "2451185")])],
        sectors=[Sector("12220", "1", Decimal(60)), Sector("12240", "1", Decimal("40"))],
        budgets=[Budget(date(2024, 1, 1), date(2024, 12, 31),
                        Value(Decimal("1500000.5"), "XOF", date(2024, 1, 1)), "1", "2")],
        transactions=[Transaction("3", date(2024, 6, 1),
                                  Value(Decimal(250000), "XOF", date(2024, 6, 1)), ref="D1",
                                  description={"fr": "Premier versement"},
                                  provider_org=OrgRef("FR-3", name={"fr": "AFD"}))],
        default_currency="XOF", default_aid_type=[("1", "C01")], default_finance_type="110",
        default_flow_type="10", default_tied_status="5", collaboration_type="1",
        group="gt-sante")


PORTAL = {"XM-PTF-MALI-TEST-1": [{"region": "ML-4", "cercle": "Ségou"}]}


def read_back(data: bytes, name: str, current: Activity | None,
              portal: list[dict[str, str]] | None = None,
              blank: Activity | None = None) -> ss.Applied:
    """Read a file holding one activity and apply it to `current`."""
    upload = ss.read(data, name)
    assert not upload.errors, [str(p) for p in upload.errors]
    [(identifier, rows)] = upload.by_activity().items()
    return ss.apply_rows(identifier, rows, current, portal, blank)


def workbook(sheets: dict[str, list[list]]) -> bytes:
    """A workbook made the way a user's spreadsheet program would, with these rows."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def headers(sheet: str) -> list[str]:
    return [c.title for c in SHEETS[sheet].columns]


def budget_row(identifier: str = "XM-PTF-MALI-TEST-1", **cells) -> list:
    """A Budgets row, by column key."""
    values = {"identifier": identifier, **cells}
    return [values.get(c.key) for c in SHEETS["Budgets"].columns]


def letter_of(sheet: str, key: str) -> str:
    index = [c.key for c in SHEETS[sheet].columns].index(key)
    return openpyxl.utils.get_column_letter(index + 1)


def only_problem(upload: ss.Upload) -> ss.Problem:
    assert len(upload.errors) == 1, [str(p) for p in upload.errors]
    return upload.errors[0]


def edit_xlsx(data: bytes, sheet: str, cells: dict[str, object]) -> bytes:
    """The workbook with some cells rewritten (None empties a cell), as a user would."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    for ref, value in cells.items():
        book[sheet][ref] = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- the template ------------------------------------------------------------------------


def test_the_empty_template_has_one_sheet_per_kind_of_row_with_french_headers():
    book = openpyxl.load_workbook(io.BytesIO(ss.write_xlsx()))
    assert book.sheetnames == SHEET_NAMES
    for name in SHEET_NAMES[:4]:
        sheet = book[name]
        assert [c.value for c in sheet[1]] == headers(name)
        assert sheet.max_row == 1
    assert [c.value for c in book["Activités"][1]][:3] == [
        "Identifiant IATI *", "Groupe", "Titre (français) *"]
    assert "Montant *" in headers("Budgets") and "Région" in headers("Lieux")
    assert book["Budgets"]["A1"].comment is not None


def test_the_help_sheet_explains_every_column_and_lists_the_codes_and_regions():
    book = openpyxl.load_workbook(io.BytesIO(ss.write_xlsx()))
    text = [list(row) for row in book["Mode d'emploi"].values]
    columns = {(row[0], row[1]) for row in text if len(row) >= 4 and row[3]}
    for sheet in SHEETS.values():
        for column in sheet.columns:
            assert (sheet.name, column.header) in columns
    flat = {str(c) for row in text for c in row if c is not None}
    assert {"Liste IATI ActivityStatus", "Liste IATI TransactionType", "Ségou",
            "ML-4"} <= flat
    assert any("Une case vide ne change rien" in c for c in flat)


def test_the_csv_template_is_a_zip_of_utf8_csv_files_with_semicolons_for_french_excel():
    archive = zipfile.ZipFile(io.BytesIO(ss.write_csv_zip([simple_activity()], PORTAL)))
    assert sorted(archive.namelist()) == ["activites.csv", "budgets.csv", "lieux.csv",
                                          "mode-d-emploi.csv", "transactions.csv"]
    raw = archive.read("budgets.csv")
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == headers("Budgets")
    assert rows[1][:6] == ["XM-PTF-MALI-TEST-1", "1", "", "2024-01-01", "2024-12-31",
                           "1500000,5"]
    lieux = list(csv.reader(io.StringIO(archive.read("lieux.csv").decode("utf-8-sig")),
                            delimiter=";"))
    assert lieux[1][4:6] == ["Ségou", "Ségou"]  # region written by name, then the cercle


# --- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize(("writer", "name"), [(ss.write_xlsx, "activites.xlsx"),
                                              (ss.write_csv_zip, "activites.zip")])
def test_an_exported_activity_reads_back_with_no_change_at_all(writer, name):
    activity = full_activity()
    applied = read_back(writer([activity]), name, activity)
    assert applied.changes == [] and applied.problems == []
    assert applied.activity == activity
    assert not applied.changed


@pytest.mark.parametrize(("writer", "name"), [(ss.write_xlsx, "activites.xlsx"),
                                              (ss.write_csv_zip, "activites.zip")])
def test_a_new_activity_is_built_back_whole_from_its_rows(writer, name):
    activity = simple_activity()
    applied = read_back(writer([activity], PORTAL), name, None, blank=Activity(""))
    assert applied.created and not applied.problems
    assert applied.activity == activity
    assert applied.portal == PORTAL[activity.identifier]


def test_blank_cells_leave_fields_untouched_and_one_edited_cell_changes_one_field():
    activity = full_activity()
    data = ss.write_xlsx([activity])
    title, status = letter_of("Activités", "title_fr"), letter_of("Activités", "status")
    amount = letter_of("Budgets", "amount")
    data = edit_xlsx(data, "Activités", {f"{title}2": "Écoles de Kita et Kéniéba",
                                         f"{status}2": None,
                                         f"{letter_of('Activités', 'sectors')}2": None,
                                         f"{letter_of('Activités', 'planned_start')}2": None})
    data = edit_xlsx(data, "Budgets", {f"{amount}2": None, f"{amount}3": 2500000})
    applied = read_back(data, "a.xlsx", activity)
    assert applied.changes == ["Titre (français)", "Budget n° 2 : Montant"]
    expected = replace(activity, title={**activity.title, "fr": "Écoles de Kita et Kéniéba"})
    expected.budgets[1].value.amount = Decimal(2500000)
    assert applied.activity == expected
    assert activity.title["fr"] == "Écoles de Kita"  # the caller's object is left alone


def test_a_dash_clears_an_optional_field_and_is_refused_in_a_required_one():
    activity = simple_activity()
    data = edit_xlsx(ss.write_xlsx([activity]), "Activités", {
        f"{letter_of('Activités', 'title_en')}2": "-",
        f"{letter_of('Activités', 'actual_start')}2": " - "})
    applied = read_back(data, "a.xlsx", activity)
    assert applied.changes == ["Titre (anglais)", "Début effectif"]
    assert applied.activity.title == {"fr": "Santé à Ségou"}
    assert applied.activity.date_of("2") is None
    refused = ss.read(edit_xlsx(data, "Activités", {f"{letter_of('Activités', 'status')}2":
                                                    "-"}), "a.xlsx")
    assert "ne peut pas être vide" in only_problem(refused).message


def test_a_row_without_number_adds_and_supprimer_removes_by_number():
    activity = simple_activity()
    rows = [headers("Budgets"),
            budget_row(number=1, delete="oui"),
            budget_row(period_start="01/01/2025", period_end="31/12/2025", amount="2 000 000",
                       status="2")]
    applied = read_back(workbook({"Budgets": rows}), "b.xlsx", activity)
    assert applied.changes == ["Budget n° 1 supprimé", "Nouveau budget (ligne 3)"]
    assert applied.activity.budgets == [Budget(date(2025, 1, 1), date(2025, 12, 31), Value(
        Decimal(2000000), "", date(2025, 1, 1)), "1", "2")]


def test_a_number_that_does_not_exist_is_refused_rather_than_guessed():
    rows = [headers("Budgets"), budget_row(number=7, amount=5)]
    upload = ss.read(workbook({"Budgets": rows}), "b.xlsx")
    [(identifier, found)] = upload.by_activity().items()
    applied = ss.apply_rows(identifier, found, simple_activity())
    [problem] = applied.errors
    assert (problem.sheet, problem.row, problem.column) == ("Budgets", 2, "N°")
    assert "pas de budget n° 7 (1 en tout)" in problem.message


def test_a_new_activity_needs_its_required_columns_each_named():
    rows = [headers("Activités"), ["XM-PTF-MALI-NOUVEAU", "gt-sante", "Un titre"]]
    upload = ss.read(workbook({"Activités": rows}), "a.xlsx")
    [(identifier, found)] = upload.by_activity().items()
    applied = ss.apply_rows(identifier, found, None)
    assert {(p.column, p.message) for p in applied.errors} == {
        ("Statut *", "obligatoire pour une nouvelle activité"),
        ("Début prévu *", "obligatoire pour une nouvelle activité"),
        ("Devise *", "obligatoire pour une nouvelle activité")}


# --- what French Excel does to CSV files -------------------------------------------------


def test_a_latin1_csv_with_french_dates_and_decimal_commas_is_read_with_a_warning():
    text = (";".join(headers("Budgets")) + "\r\n"
            "XM-PTF-MALI-TEST-1;;;01/01/2025;31/12/2025;1 500 000,50;XOF;;1;2\r\n")
    data = text.encode("cp1252")
    upload = ss.read(data, "budgets.csv")
    assert not upload.errors
    [warning] = upload.warnings
    assert "n'est pas en UTF-8" in warning.message and "Windows-1252" in warning.message
    [row] = upload.rows
    assert row.values["amount"] == Decimal("1500000.50")
    assert row.values["period_start"] == date(2025, 1, 1)


def test_a_comma_separated_csv_is_read_too_and_accents_survive():
    activity = simple_activity()
    lines = [headers("Lieux"),
             ["XM-PTF-MALI-TEST-1", "1", "", "Ségou-Koura", "Ségou", "", "", "13.43", "-6.21"]]
    out = io.StringIO()
    csv.writer(out).writerows(lines)
    applied = read_back(out.getvalue().encode("utf-8"), "lieux.csv", activity,
                        PORTAL[activity.identifier])
    assert applied.changes == ["Lieu n° 1 : Nom du lieu, Latitude, Longitude"]
    assert applied.activity.locations[0].name["fr"] == "Ségou-Koura"


def test_the_sep_line_excel_understands_is_not_taken_for_the_headers():
    text = "sep=,\n" + ",".join(headers("Budgets")) + "\nXM-PTF-MALI-TEST-1,1,,,,7\n"
    upload = ss.read(text.encode(), "budgets.csv")
    assert not upload.errors
    assert (upload.rows[0].row, upload.rows[0].values["amount"]) == (2, 7)


def test_a_csv_cell_starting_with_an_equals_sign_is_refused_as_a_formula():
    text = ";".join(headers("Budgets")) + "\nXM-PTF-MALI-TEST-1;;;01/01/2025;31/12/2025;=1+1\n"
    problem = only_problem(ss.read(text.encode(), "budgets.csv"))
    assert (problem.sheet, problem.row, problem.column, problem.cell) == (
        "Budgets", 2, "Montant *", "F2")
    assert "formule" in problem.message


# --- hostile and wrong files -------------------------------------------------------------


def test_a_formula_in_a_workbook_is_refused_naming_its_cell():
    rows = [headers("Budgets"), budget_row(period_start=date(2025, 1, 1),
                                           period_end=date(2025, 12, 31), amount="=1000*2")]
    problem = only_problem(ss.read(workbook({"Budgets": rows}), "b.xlsx"))
    cell = f"{letter_of('Budgets', 'amount')}2"
    assert (problem.sheet, problem.row, problem.column, problem.cell) == (
        "Budgets", 2, "Montant *", cell)
    assert str(problem).startswith(f"Feuille « Budgets », ligne 2, colonne « Montant * » "
                                   f"({cell}) : cette cellule contient une formule")


def test_text_that_starts_with_an_equals_sign_is_exported_as_text_not_as_a_formula():
    activity = simple_activity()
    activity.transactions[0].ref = "=HYPERLINK(\"http://example.org\")"
    applied = read_back(ss.write_xlsx([activity]), "a.xlsx", activity)
    assert applied.changes == [] and applied.activity == activity
    applied = read_back(ss.write_csv_zip([activity]), "a.zip", activity)
    assert applied.changes == [] and applied.activity == activity


def test_merged_cells_are_refused_naming_the_range():
    book = openpyxl.load_workbook(io.BytesIO(workbook({"Lieux": [
        headers("Lieux"), ["XM-PTF-MALI-TEST-1", None, None, "Kita"],
        ["XM-PTF-MALI-TEST-1", None, None, "Bafoulabé"]]})))
    book["Lieux"].merge_cells("A2:A3")
    out = io.BytesIO()
    book.save(out)
    problem = ss.read(out.getvalue(), "lieux.xlsx").errors[0]
    assert (problem.sheet, problem.row, problem.cell) == ("Lieux", 2, "A2")
    assert problem.column == "Identifiant de l'activité *"
    assert "cellules fusionnées A2:A3" in problem.message


def test_unknown_duplicated_and_missing_columns_are_each_named_in_french():
    columns = headers("Budgets")
    columns[columns.index("Montant *")] = "Montnat"
    columns.append("Devise")
    upload = ss.read(workbook({"Budgets": [columns, budget_row()]}), "b.xlsx")
    messages = {(p.column, p.message) for p in upload.errors}
    assert ("Montnat", "colonne inconnue « Montnat » : vouliez-vous dire « Montant » ?") \
        in messages
    assert ("Devise", "la colonne « Devise » apparaît deux fois (colonnes G et K)") in messages
    assert ("Montant", "la colonne obligatoire « Montant » manque (en-têtes ligne 1)") \
        in messages


def test_headers_are_matched_without_accents_case_or_stars_and_optional_ones_may_be_left_out():
    rows = [["identifiant de l'activite", "n°", "DEBUT DE PERIODE", "Fin de période",
             "montant *"], ["XM-PTF-MALI-TEST-1", 1, None, None, 10]]
    upload = ss.read(workbook({"budgets": rows}), "b.xlsx")
    assert not upload.errors
    assert {p.column for p in upload.warnings} >= {"Devise", "Supprimer", "Type de budget"}
    assert upload.rows[0].values["amount"] == 10


def test_a_cell_that_cannot_be_read_is_named_by_sheet_row_and_column():
    rows = [headers("Budgets"), budget_row(period_start="01/01/2025", period_end="31/12/2025",
                                           amount=100),
            budget_row(period_start="32/01/2025", period_end="31/12/2025", amount="cent",
                       type="9")]
    upload = ss.read(workbook({"Budgets": rows}), "b.xlsx")
    found = {(p.row, p.column): p.message for p in upload.errors}
    assert found[(3, "Début de période *")].startswith("« 32/01/2025 » n'est pas une date")
    assert found[(3, "Montant *")].startswith("« cent » n'est pas un montant")
    assert found[(3, "Type de budget")].startswith("code « 9 » inconnu de la liste IATI "
                                                   "BudgetType (codes possibles : 1, 2)")
    assert [r.valid for r in upload.rows] == [True, False]  # the row keeps its problems
    applied = ss.apply_rows("XM-PTF-MALI-TEST-1", upload.rows, simple_activity())
    assert applied.changes == ["Nouveau budget (ligne 2)"]  # the refused row is not applied
    assert len(applied.errors) == 3


def test_a_file_that_is_not_a_zip_but_named_xlsx_is_refused_clearly():
    with pytest.raises(SpreadsheetError, match="n'est pas un vrai classeur Excel"):
        ss.read(b"Identifiant;Titre\nA;B\n" * 10, "activites.xlsx")


def test_an_old_xls_or_password_protected_workbook_is_refused_clearly():
    with pytest.raises(SpreadsheetError, match=r"Excel 97-2003 \(\.xls\)"):
        ss.read(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "vieux.xls")


def _bomb(entry_size: int) -> bytes:
    """A workbook-shaped ZIP whose one sheet is `entry_size` bytes of the same character."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"<" + b" " * entry_size + b"/>")
    return out.getvalue()


def test_a_zip_bomb_is_refused_before_anything_is_decompressed():
    data = _bomb(70 * 1024 * 1024)
    assert len(data) < 400 * 1024
    with pytest.raises(SpreadsheetError, match="bombe de décompression") as caught:
        ss.read(data, "bombe.xlsx")
    assert "Mo une fois décompressé" in str(caught.value)


def test_a_highly_compressed_entry_is_refused_even_under_the_size_limit():
    with pytest.raises(SpreadsheetError, match=r"se décompresse \d+ fois"):
        ss.read(_bomb(8 * 1024 * 1024), "bombe.xlsx")


def test_too_many_entries_or_rows_are_refused():
    with pytest.raises(SpreadsheetError, match="éléments"):
        ss.read(ss.write_xlsx(), "a.xlsx", Limits(max_entries=5))
    rows = [headers("Budgets")] + [budget_row(number=1)] * 5
    upload = ss.read(workbook({"Budgets": rows}), "b.xlsx", Limits(max_rows=3))
    assert any("plus de 3 lignes" in p.message for p in upload.errors)


def _with_entry(data: bytes, name: str, content: bytes) -> bytes:
    """The workbook with one entry added or replaced."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            if info.filename != name:
                archive.writestr(info, source.read(info))
        archive.writestr(name, content)
    return out.getvalue()


LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
          b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
          b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol2;</t></is></c></row>'
          b'</sheetData></worksheet>')


def test_a_workbook_with_entities_in_its_xml_is_refused_unresolved():
    data = _with_entry(ss.write_xlsx(), "xl/worksheets/sheet1.xml", LAUGHS)
    with pytest.raises(SpreadsheetError, match="déclare une DTD ou des entités"):
        ss.read(data, "a.xlsx")


def test_a_workbook_linked_to_other_workbooks_is_refused():
    data = _with_entry(ss.write_xlsx(), "xl/externalLinks/externalLink1.xml", b"<externalLink/>")
    with pytest.raises(SpreadsheetError, match="liaisons externes"):
        ss.read(data, "a.xlsx")


def test_a_file_with_no_sheet_of_the_template_is_refused_and_extra_sheets_are_ignored():
    with pytest.raises(SpreadsheetError, match="aucune feuille du modèle"):
        ss.read(workbook({"Feuil1": [["a", "b"]]}), "a.xlsx")
    upload = ss.read(workbook({"Feuil1": [["a"]], "Budgets": [headers("Budgets")]}), "a.xlsx")
    assert [p.message for p in upload.warnings] == [
        "feuille « Feuil1 » ignorée : ce n'est pas une feuille du modèle"]


def test_the_same_activity_twice_in_the_activities_sheet_is_refused():
    head = ["XM-PTF-MALI-TEST-1", "gt-sante", "Un titre"]
    rows = [headers("Activités"), head, head]
    problem = only_problem(ss.read(workbook({"Activités": rows}), "a.xlsx"))
    assert (problem.row, problem.column) == (3, "Identifiant IATI *")
    assert "déjà décrite ligne 2" in problem.message


def test_an_identifier_with_a_character_iati_forbids_is_refused():
    rows = [headers("Activités"), ["XM-PTF/MALI-1"]]
    problem = only_problem(ss.read(workbook({"Activités": rows}), "a.xlsx"))
    assert "caractère interdit" in problem.message and problem.cell == "A2"


def test_a_budget_longer_than_a_year_or_a_lone_coordinate_is_refused_on_its_row():
    activity = simple_activity()
    rows = [headers("Budgets"), budget_row(number=1, period_end="31/03/2025")]
    applied = read_back(workbook({"Budgets": rows}), "b.xlsx", activity)
    [problem] = applied.errors
    assert (problem.column, problem.row) == ("Fin de période *", 2)
    assert "un an au plus" in problem.message
    lieux = [headers("Lieux"), ["XM-PTF-MALI-TEST-1", None, None, "Kati", None, None, None,
                                12.74]]
    applied = read_back(workbook({"Lieux": lieux}), "l.xlsx", activity)
    assert [(p.column, p.message) for p in applied.errors] == [
        ("Longitude", "donnez la latitude et la longitude ensemble")]
