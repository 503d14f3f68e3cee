"""The aid-activity spreadsheet of ptfops: template, reading and applying, without a database.

Sheets « Activités », « Lieux », « Budgets », « Transactions » (plus « Mode d'emploi »), French
headers; XLSX or a ZIP of CSV files. `write_xlsx`/`write_csv_zip` write it from
`iati.model.Activity` objects; `read` turns an upload into typed rows, every problem located
by sheet, row and column; `apply_rows` applies one activity's rows (blank cells leave fields
unchanged). See docs/iati.md, « Spreadsheets ».
"""

from iati.spreadsheet.archive import Limits
from iati.spreadsheet.changes import Applied, SheetRow, apply_rows
from iati.spreadsheet.columns import (
    ACTIVITIES,
    BUDGETS,
    HELP_SHEET,
    LOCATIONS,
    SHEETS,
    TRANSACTIONS,
    Column,
    Sheet,
)
from iati.spreadsheet.problems import ERROR, WARNING, Problem, SpreadsheetError
from iati.spreadsheet.reader import Upload, read
from iati.spreadsheet.writer import table, write_csv_zip, write_xlsx

__all__ = ["ACTIVITIES", "BUDGETS", "ERROR", "HELP_SHEET", "LOCATIONS", "SHEETS", "TRANSACTIONS",
           "WARNING", "Applied", "Column", "Limits", "Problem", "Sheet", "SheetRow",
           "SpreadsheetError", "Upload", "apply_rows", "read", "table", "write_csv_zip",
           "write_xlsx"]
