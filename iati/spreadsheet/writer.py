"""Write the template: an XLSX workbook, or a ZIP of CSV files (UTF-8 with BOM, ";").

Empty for a new portfolio, or pre-filled from `iati.model.Activity` objects: then each row of
a child sheet carries its number (N°) in the activity, which is how a re-import finds it.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from iati.model import Activity
from iati.spreadsheet import fields
from iati.spreadsheet.cells import to_cell
from iati.spreadsheet.columns import (
    ACTIVITIES,
    CHILD_SHEETS,
    HELP_SHEET,
    SHEETS,
    Column,
    Sheet,
    code_labels,
    codelist,
    regions,
)

Portal = Mapping[str, Sequence[Mapping[str, str]]]  # identifier -> per location: region, cercle
HELP_CSV = "mode-d-emploi.csv"
_HEADER_FILL = PatternFill("solid", fgColor="1F5F8B")
_HEADER_FONT = Font(bold=True, color="FFFFFF")
_TITLE_FONT = Font(bold=True, size=13)
_LISTED = 15       # code columns with at most this many codes get a drop-down list
_TYPED_ROWS = 2000  # rows that get the column formats and drop-down lists beyond the data
_LONG_LISTS = ("Currency", "Country")  # too long for the help sheet: named only

INTRODUCTION = (
    "Modèle de saisie des activités d'aide (IATI 2.03) du portail du Pool technique",
    "",
    "1. Une ligne par activité dans la feuille « Activités » ; une ligne par lieu, budget ou "
    "transaction dans les feuilles « Lieux », « Budgets » et « Transactions », reliée à son "
    "activité par la colonne « Identifiant de l'activité ».",
    "2. Pour modifier des activités : téléchargez le modèle pré-rempli, changez les cases "
    "voulues et renvoyez le fichier. Une case vide ne change rien ; un tiret « - » seul "
    "efface une valeur facultative. Ne changez pas l'identifiant d'une activité existante : "
    "le portail créerait une autre activité.",
    "3. Pour ajouter un lieu, un budget ou une transaction : une nouvelle ligne, la case « N° » "
    "vide. Pour en supprimer un : « oui » dans la colonne « Supprimer » de sa ligne. "
    "Ne changez pas les numéros « N° » écrits par le portail.",
    "4. Les colonnes marquées * sont obligatoires pour créer une ligne. Ne renommez ni les "
    "feuilles ni les en-têtes ; ne fusionnez pas de cellules ; pas de formules : des "
    "valeurs seulement.",
    "5. Dates au format JJ/MM/AAAA ; montants en chiffres, sans symbole de devise ; codes : "
    "voir les listes plus bas.",
    "6. Au dépôt, le portail montre ce qui sera créé, modifié ou refusé, sans rien "
    "enregistrer. Il n'enregistre qu'après votre confirmation, et seulement si aucune ligne "
    "n'est refusée : tout ou rien.",
    "7. En CSV : un fichier par feuille (activites.csv, lieux.csv, budgets.csv, "
    "transactions.csv), séparateur point-virgule, encodage UTF-8 ; renvoyez-les dans un ZIP.",
)


def _row_values(sheet: Sheet, activity: Activity, item: Any, number: int,
                extras: Mapping[str, str]) -> list[Any]:
    values = []
    for column in sheet.columns:
        if column.key == "identifier":
            values.append(activity.identifier)
        elif column.key == "number":
            values.append(number)
        elif column.key == "delete":
            values.append(None)
        elif column.key in fields.PORTAL_KEYS:
            values.append(extras.get(column.key, ""))
        else:
            values.append(fields.get(sheet.name, item, column.key))
    return values


def table(activities: Sequence[Activity], portal: Portal | None = None) -> dict[str, list[list]]:
    """The typed values of every sheet's rows (headers excluded), activity by activity."""
    rows: dict[str, list[list[Any]]] = {name: [] for name in SHEETS}
    head = SHEETS[ACTIVITIES]
    for activity in activities:
        rows[ACTIVITIES].append([fields.get(ACTIVITIES, activity, c.key) for c in head.columns])
        extras = list((portal or {}).get(activity.identifier, ()))
        for name in CHILD_SHEETS:
            for number, item in enumerate(fields.items(name, activity), start=1):
                extra = extras[number - 1] if number <= len(extras) else {}
                rows[name].append(_row_values(SHEETS[name], activity, item, number, extra))
    return rows


def _code_help(column: Column) -> str:
    if not column.codelist:
        return ""
    return f"liste IATI {column.codelist}"


def help_rows() -> list[list[str]]:
    """The « Mode d'emploi » content, as rows of text (the same in XLSX and CSV)."""
    rows: list[list[str]] = [[line] for line in INTRODUCTION]
    rows += [[""], ["Les colonnes"],
             ["Feuille", "Colonne", "Obligatoire", "Explication", "Exemple", "Codes"]]
    for sheet in SHEETS.values():
        for column in sheet.columns:
            rows.append([sheet.name, column.header, "oui" if column.required else "",
                         column.help, column.example, _code_help(column)])
    rows += [[""], ["Les régions du Mali (colonne « Région » de la feuille « Lieux »)"],
             ["Région", "Code"]]
    rows += [[name, code] for code, name in regions().items()]
    used = dict.fromkeys(c.codelist for s in SHEETS.values() for c in s.columns if c.codelist)
    used["Sector"] = None
    for name in used:
        if name in _LONG_LISTS:
            continue
        labels = code_labels(name)
        if not labels:
            continue
        rows += [[""], [f"Liste IATI {name}"], ["Code", "Libellé"]]
        rows += [[code, label] for code, label in sorted(
            labels.items(), key=lambda item: (len(item[0]), item[0]))]
    rows += [[""], ["Devises : codes ISO 4217 (XOF franc CFA, EUR euro, USD dollar…) ; pays : "
                    "codes ISO 3166-1 (ML Mali)."]]
    return rows


# --- XLSX --------------------------------------------------------------------------------


def _put(sheet: Worksheet, row: int, col: int, value: Any) -> Any:
    cell = sheet.cell(row, col)
    cell.value = value
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"  # text, never a formula
    return cell


def _drop_down(column: Column) -> DataValidation | None:
    if column.kind == "yesno":
        codes = ["oui"]
    else:
        found = codelist(column.codelist) if column.codelist else None
        if found is None or not found.embedded or len(found.codes) > _LISTED:
            return None
        codes = sorted(found.codes - found.withdrawn, key=lambda c: (len(c), c))
    return DataValidation(type="list", formula1='"' + ",".join(codes) + '"', allow_blank=True,
                          showErrorMessage=True, errorTitle="Code inconnu",
                          error="Choisissez un code de la liste (voir « Mode d'emploi »).")


def _data_sheet(book: Workbook, sheet: Sheet, rows: list[list[Any]]) -> None:
    ws = book.create_sheet(sheet.name)
    for index, column in enumerate(sheet.columns, start=1):
        cell = _put(ws, 1, index, column.title)
        cell.font, cell.fill = _HEADER_FONT, _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        note = column.help + (f" Exemple : {column.example}." if column.example else "")
        cell.comment = Comment(note, "Portail", width=320, height=140)
        letter = cell.column_letter
        ws.column_dimensions[letter].width = min(max(len(column.title) + 4, 14), 45)
        validation = _drop_down(column)
        if validation is not None:
            ws.add_data_validation(validation)
            validation.add(f"{letter}2:{letter}{len(rows) + _TYPED_ROWS}")
    ws.freeze_panes = "B2" if sheet.name == ACTIVITIES else "C2"
    formats = [_number_format(c) for c in sheet.columns]
    for r, values in enumerate(rows, start=2):
        for c, (column, value) in enumerate(zip(sheet.columns, values, strict=True), start=1):
            written = to_cell(column, value, for_csv=False)
            if written is None:
                continue
            cell = _put(ws, r, c, written)
            if formats[c - 1]:
                cell.number_format = formats[c - 1]


def _number_format(column: Column) -> str:
    if column.kind == "date":
        return "DD/MM/YYYY"
    if column.kind in ("text", "code", "identifier", "group", "sectors", "geonames", "region"):
        return "@"
    return ""


def _help_sheet(book: Workbook) -> None:
    ws = book.create_sheet(HELP_SHEET)
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 30
    ws.column_dimensions["D"].width = 90
    for r, values in enumerate(help_rows(), start=1):
        for c, value in enumerate(values, start=1):
            cell = _put(ws, r, c, value or None)
            if len(values) == 1 and r > 1 and value and not value[0].isdigit():
                cell.font = _TITLE_FONT
    ws.cell(1, 1).font = _TITLE_FONT


def write_xlsx(activities: Sequence[Activity] = (), portal: Portal | None = None) -> bytes:
    """The template as an XLSX workbook (no rows for an empty template)."""
    book = Workbook()
    book.remove(book.active)
    rows = table(activities, portal)
    for name, sheet in SHEETS.items():
        _data_sheet(book, sheet, rows[name])
    _help_sheet(book)
    book.active = 0
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- CSV ---------------------------------------------------------------------------------


def _csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "@") else text


def csv_text(rows: list[list[Any]]) -> str:
    """Rows as CSV the way French Excel reads it: ";" between cells, CRLF line ends."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return out.getvalue()


def write_csv_zip(activities: Sequence[Activity] = (), portal: Portal | None = None) -> bytes:
    """The template as a ZIP of CSV files, one per sheet, UTF-8 with BOM (for Excel)."""
    rows = table(activities, portal)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, sheet in SHEETS.items():
            lines = [[c.title for c in sheet.columns]]
            lines += [[to_cell(c, v, for_csv=True) for c, v in zip(sheet.columns, values,
                                                                   strict=True)]
                      for values in rows[name]]
            archive.writestr(sheet.csv_name, "\ufeff" + csv_text(lines))
        archive.writestr(HELP_CSV, "\ufeff" + csv_text(help_rows()))
    return out.getvalue()
