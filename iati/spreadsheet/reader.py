"""Read an uploaded spreadsheet (XLSX, a ZIP of CSV files, or one CSV) into typed rows.

Every problem is located by sheet, row and column, in French. Headers are matched without
regard to accents, case or the " *" of required columns; unknown, duplicated or missing
columns are named.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import openpyxl

from iati.spreadsheet import archive as safe
from iati.spreadsheet.cells import CellError, is_blank, parse
from iati.spreadsheet.changes import SheetRow
from iati.spreadsheet.columns import (
    ACTIVITIES,
    HELP_SHEET,
    SHEETS,
    Column,
    Sheet,
    normalize,
    sheet_named,
)
from iati.spreadsheet.problems import ERROR, WARNING, Problem, SpreadsheetError, column_letter

_CELL = re.compile(r"^([A-Z]{1,3})(\d+)$")
_HEADER_SEARCH = 10  # the header is the first non-empty row among the first ten


@dataclass
class Upload:
    """What a file holds: its rows, typed, and the problems found while reading it.

    `problems` are the file's own (headers, sheets, merged cells…); each row keeps those of
    its cells, so that the activity it belongs to is refused with them.
    """

    format: str
    rows: list[SheetRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    sheets: list[str] = field(default_factory=list)

    @property
    def all_problems(self) -> list[Problem]:
        """The file's problems, then those of its rows."""
        return self.problems + [p for row in self.rows for p in row.problems]

    @property
    def errors(self) -> list[Problem]:
        """Problems that refuse the import (of the file or of a row)."""
        return [p for p in self.all_problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        """Problems shown but not blocking."""
        return [p for p in self.all_problems if not p.is_error]

    def by_activity(self) -> dict[str, list[SheetRow]]:
        """The rows grouped by activity identifier, in the order they first appear."""
        grouped: dict[str, list[SheetRow]] = {}
        for row in self.rows:
            grouped.setdefault(row.identifier, []).append(row)
        return grouped


class _Collector:
    """Problems, up to a limit (then one last message says the rest was not read)."""

    def __init__(self, upload: Upload, limit: int) -> None:
        self.upload, self.limit, self.full, self.count = upload, limit, False, 0

    def add(self, problem: Problem, row: SheetRow | None = None) -> None:
        """Report a problem of the file, or of one row (kept with the row)."""
        self.count += 1
        if self.count <= self.limit:
            (row.problems if row is not None else self.upload.problems).append(problem)
        elif not self.full:
            self.full = True
            self.upload.problems.append(Problem(
                f"plus de {self.limit} problèmes : la lecture s'est arrêtée là ; corrigez "
                "ceux-ci et renvoyez le fichier"))


def _header_text(value: Any) -> str:
    return "" if is_blank(value) else str(value).strip()


def _match_columns(sheet: Sheet, row_number: int, cells: list[Any],
                   out: _Collector) -> dict[int, Column | None]:
    """Column index -> the column its header names (None: no header)."""
    by_name = {normalize(c.header): c for c in sheet.columns}
    found: dict[int, Column | None] = {}
    seen: dict[str, int] = {}
    for index, value in enumerate(cells, start=1):
        header = _header_text(value)
        letter = column_letter(index)
        if not header:
            found[index] = None
            continue
        column = by_name.get(normalize(header))
        if column is None:
            near = difflib.get_close_matches(normalize(header), list(by_name), n=1, cutoff=0.6)
            hint = f" : vouliez-vous dire « {by_name[near[0]].header} » ?" if near else (
                " : elle ne fait pas partie du modèle (voir la feuille « Mode d'emploi »)")
            out.add(Problem(f"colonne inconnue « {header} »{hint}", sheet.name, row_number,
                            header, letter))
            continue
        if column.key in seen:
            out.add(Problem(f"la colonne « {column.header} » apparaît deux fois (colonnes "
                            f"{column_letter(seen[column.key])} et {letter})", sheet.name,
                            row_number, header, letter))
            continue
        seen[column.key] = index
        found[index] = column
    for column in sheet.columns:
        if column.key in seen:
            continue
        if column.required or column.key == "number":
            out.add(Problem(f"la colonne obligatoire « {column.header} » manque (en-têtes "
                            f"ligne {row_number})", sheet.name, row_number, column.header))
        else:
            out.add(Problem(f"la colonne « {column.header} » manque : ses valeurs restent "
                            "inchangées", sheet.name, row_number, column.header,
                            severity=WARNING))
    return found


def _located(sheet: Sheet, refs: list[str], headers: dict[int, str], message: str,
             out: _Collector) -> None:
    """One problem per cell reference of the scan (merged ranges, formulas)."""
    for ref in refs:
        match = _CELL.match(ref.split(":", 1)[0])
        if match is None:
            out.add(Problem(message.replace("{ref}", ref), sheet.name))
            continue
        letters, row = match.group(1), int(match.group(2))
        index = sum((ord(c) - 64) * 26 ** n for n, c in enumerate(reversed(letters)))
        out.add(Problem(message.replace("{ref}", ref), sheet.name, row, headers.get(index, ""),
                        letters))


def read_table(sheet: Sheet, rows: Iterable[tuple[int, list[Any]]], out: _Collector,
               limits: safe.Limits, scan: safe.SheetScan | None = None) -> list[SheetRow]:
    """The filled rows of one sheet (or CSV file), typed; problems go to `out`."""
    iterator: Iterator[tuple[int, list[Any]]] = iter(rows)
    header_row, header_cells = 0, []
    for number, cells in iterator:
        if any(not is_blank(c) for c in cells):
            header_row, header_cells = number, cells
            break
        if number >= _HEADER_SEARCH:
            break
    if not header_row:
        out.add(Problem("la feuille est vide : la première ligne doit porter les en-têtes du "
                        "modèle", sheet.name))
        return []
    columns = _match_columns(sheet, header_row, header_cells, out)
    headers = {i: _header_text(v) for i, v in enumerate(header_cells, start=1)}
    if scan is not None:
        _located(sheet, scan.merged, headers,
                 "cellules fusionnées {ref} : annulez la fusion et remplissez chaque case",
                 out)
        _located(sheet, scan.formulas, headers,
                 "cette cellule contient une formule : remplacez-la par sa valeur (copier, "
                 "puis « Collage spécial > Valeurs »)", out)
    result: list[SheetRow] = []
    count = 0
    for number, cells in iterator:
        if all(is_blank(c) for c in cells):
            continue
        count += 1
        if count > limits.max_rows:
            out.add(Problem(f"plus de {limits.max_rows} lignes : envoyez le fichier en "
                            "plusieurs fois", sheet.name, number))
            break
        row = _read_row(sheet, number, cells, columns, headers, out)
        if row is not None:
            result.append(row)
    return result


def _read_row(sheet: Sheet, number: int, cells: list[Any], columns: dict[int, Column | None],
              headers: dict[int, str], out: _Collector) -> SheetRow | None:
    """The row, typed, with its problems attached (None, its problems reported, when it
    names no activity)."""
    row = SheetRow(sheet.name, number, "")
    for index, column in columns.items():
        if column is not None:
            row.letters[column.key] = column_letter(index)
            row.headers[column.key] = headers.get(index) or column.header
    found: list[Problem] = []
    for index, raw in enumerate(cells, start=1):
        if is_blank(raw) or index not in columns:  # unknown or duplicated: already reported
            continue
        column = columns[index]
        if column is None:
            found.append(Problem("valeur dans une colonne sans en-tête : donnez un en-tête du "
                                 "modèle à la colonne ou videz-la", sheet.name, number, "",
                                 column_letter(index)))
            continue
        if isinstance(raw, Formula):
            found.append(row.problem(column.key, "cette cellule contient une formule : "
                                                 "remplacez-la par sa valeur"))
            continue
        try:
            parsed = parse(column, raw)
        except CellError as exc:
            found.append(row.problem(column.key, str(exc)))
            continue
        if parsed is None:
            continue
        if parsed.warning:
            found.append(row.problem(column.key, parsed.warning, WARNING))
        if column.key == "identifier":
            row.identifier = parsed.value
        elif column.key == "number":
            row.number = parsed.value
        elif column.key == "delete":
            row.delete = bool(parsed.value)
        else:
            row.values[column.key] = parsed.value
    if not row.identifier:
        if not any(p.is_error for p in found):
            found.append(row.problem("identifier", "l'identifiant de l'activité manque"))
        for problem in found:
            out.add(problem)
        return None
    row.values["identifier"] = row.identifier
    for problem in found:
        out.add(problem, row)
    return row


def _check_duplicates(upload: Upload, out: _Collector) -> None:
    first: dict[str, int] = {}
    for row in upload.rows:
        if row.sheet != ACTIVITIES:
            continue
        if row.identifier in first:
            out.add(row.problem("identifier", f"l'activité « {row.identifier} » est déjà "
                                              f"décrite ligne {first[row.identifier]}"), row)
        else:
            first[row.identifier] = row.row


# --- the three formats ---------------------------------------------------------------------


def _read_xlsx(data: bytes, upload: Upload, out: _Collector, limits: safe.Limits) -> None:
    with safe.open_zip(data, limits, "le classeur") as archive:
        safe.check_workbook(archive)
        parts = safe.sheet_parts(archive)
        chosen = _choose_sheets(list(parts), out)
        present = set(archive.namelist())
        scans = {title: safe.scan_sheet(archive, parts[title]) for title in chosen
                 if parts[title] in present}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True,
                                          keep_links=False)
    except Exception as exc:  # openpyxl raises many kinds on a damaged file
        raise SpreadsheetError(f"le classeur est illisible ({type(exc).__name__})") from exc
    try:
        for title, sheet in chosen.items():
            worksheet = book[title]
            if not hasattr(worksheet, "iter_rows"):
                continue
            rows = worksheet.iter_rows(min_row=1, max_row=limits.max_rows + _HEADER_SEARCH + 1,
                                       max_col=limits.max_columns, values_only=True)
            numbered = ((n, list(cells)) for n, cells in enumerate(rows, start=1))
            upload.rows += read_table(sheet, numbered, out, limits, scans.get(title))
            upload.sheets.append(sheet.name)
    except SpreadsheetError:
        raise
    except Exception as exc:  # a damaged sheet may raise anything inside openpyxl
        raise SpreadsheetError(f"le classeur est illisible ({type(exc).__name__})") from exc
    finally:
        book.close()


def _choose_sheets(names: list[str], out: _Collector) -> dict[str, Sheet]:
    """Sheet title in the file -> the template's sheet it is."""
    chosen: dict[str, Sheet] = {}
    taken: dict[str, str] = {}
    for title in names:
        sheet = sheet_named(title)
        if sheet is None:
            if normalize(title) != normalize(HELP_SHEET):
                out.add(Problem(f"feuille « {title} » ignorée : ce n'est pas une feuille du "
                                "modèle", title, severity=WARNING))
            continue
        if sheet.name in taken:
            out.add(Problem(f"deux feuilles « {taken[sheet.name]} » et « {title} » : gardez-en "
                            "une seule", title))
            continue
        taken[sheet.name] = title
        chosen[title] = sheet
    if not chosen:
        raise SpreadsheetError(_NO_SHEET)
    return chosen


_NO_SHEET = ("aucune feuille du modèle dans ce fichier : il faut les feuilles « Activités », "
             "« Lieux », « Budgets » ou « Transactions » (téléchargez le modèle)")


def _csv_rows(text: str, name: str) -> Iterator[tuple[int, list[Any]]]:
    hint = re.match(r"sep=(.)\r?\n", text)  # Excel's "sep=;" first line: not a row
    if hint:
        text = text[hint.end():]
    delimiter = hint.group(1) if hint else safe.sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            yield number, [_unquote(c) for c in cells]
    except csv.Error as exc:
        raise SpreadsheetError(f"« {name} », ligne {number + 1} : CSV illisible ({exc})") from exc


class Formula(str):
    """A CSV cell starting with "=": what Excel would run as a formula."""

    __slots__ = ()


def _unquote(value: str) -> str:
    """A CSV cell as text: '=… is how the export keeps text from running as a formula."""
    if value[:2] in ("'=", "'+", "'@"):
        return value[1:]
    return Formula(value) if value.lstrip().startswith("=") else value


def _read_csv(data: bytes, name: str, sheet: Sheet | None, upload: Upload, out: _Collector,
              limits: safe.Limits) -> None:
    text, warning = safe.decode_text(data, name)
    rows = _csv_rows(text, name)
    if sheet is None:  # a lone CSV file: its headers say which sheet it is
        first = next(((n, c) for n, c in rows if any(not is_blank(x) for x in c)), None)
        if first is None:
            raise SpreadsheetError(f"« {name} » est vide")
        sheet = _sheet_of_headers(first[1])
        if sheet is None:
            raise SpreadsheetError(
                f"« {name} » : ses en-têtes ne sont ceux d'aucune feuille du modèle "
                "(Activités, Lieux, Budgets, Transactions)")
        rows = _chain([first], rows)
    if warning:
        out.add(Problem(warning, sheet.name, severity=WARNING))
    upload.rows += read_table(sheet, rows, out, limits)
    upload.sheets.append(sheet.name)


def _chain(first: list[tuple[int, list[Any]]],
           rest: Iterator[tuple[int, list[Any]]]) -> Iterator[tuple[int, list[Any]]]:
    yield from first
    yield from rest


def _sheet_of_headers(cells: list[Any]) -> Sheet | None:
    given = {normalize(_header_text(c)) for c in cells if not is_blank(c)}
    best, score = None, 0
    for sheet in SHEETS.values():
        common = len(given & {normalize(c.header) for c in sheet.columns})
        if common > score:
            best, score = sheet, common
    return best if score >= 2 else None


def _read_csv_zip(data: bytes, upload: Upload, out: _Collector, limits: safe.Limits) -> None:
    with safe.open_zip(data, limits, "l'archive") as archive:
        taken: dict[str, str] = {}
        for info in archive.infolist():
            name = info.filename
            base = name.rsplit("/", 1)[-1]
            if info.is_dir() or name.startswith("__MACOSX/") or base.startswith("."):
                continue
            if not base.lower().endswith(".csv"):
                out.add(Problem(f"« {name} » ignoré : seuls les fichiers CSV sont lus",
                                severity=WARNING))
                continue
            sheet = sheet_named(base)
            if sheet is None:
                if normalize(base[:-4]) not in ("mode d'emploi", "mode-d-emploi"):
                    out.add(Problem(f"« {name} » ignoré : ce n'est pas un fichier du modèle "
                                    "(activites.csv, lieux.csv, budgets.csv, transactions.csv)",
                                    severity=WARNING))
                continue
            if sheet.name in taken:
                out.add(Problem(f"deux fichiers « {taken[sheet.name]} » et « {name} » pour la "
                                f"feuille « {sheet.name} » : gardez-en un seul", sheet.name))
                continue
            taken[sheet.name] = name
            _read_csv(safe.read_entry(archive, name, "l'archive"), base, sheet, upload, out,
                      limits)
    if not taken:
        raise SpreadsheetError(_NO_SHEET)


def read(data: bytes, filename: str = "", limits: safe.Limits | None = None) -> Upload:
    """Read an upload; raise SpreadsheetError when the file as a whole is refused."""
    limits = limits or safe.Limits()
    kind = safe.kind_of(data, filename, limits)
    upload = Upload("xlsx" if kind == "xlsx" else "csv")
    out = _Collector(upload, limits.max_problems)
    if kind == "xlsx":
        _read_xlsx(data, upload, out, limits)
    elif kind == "csvzip":
        _read_csv_zip(data, upload, out, limits)
    else:
        _read_csv(data, filename or "fichier.csv", None, upload, out, limits)
    _check_duplicates(upload, out)
    return upload


__all__ = ["ERROR", "WARNING", "Upload", "read", "read_table"]
