"""What is wrong in an uploaded spreadsheet, and where: sheet, row and column, in French."""

from __future__ import annotations

from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"


def column_letter(index: int) -> str:
    """The spreadsheet letter of a 1-based column index (1 -> A, 27 -> AA)."""
    letters = ""
    while index > 0:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@dataclass(frozen=True)
class Problem:
    """One finding about the file, located like CoVE does: sheet, row, column and cell.

    `row` is the row number the spreadsheet shows (the header is row 1); `column` is the
    column's header as written in the file, `letter` its letter (A, B…).
    """

    message: str
    sheet: str = ""
    row: int | None = None
    column: str = ""
    letter: str = ""
    severity: str = ERROR

    @property
    def cell(self) -> str:
        """The cell reference (e.g. "D5"), or the column letter, or ""."""
        if self.letter and self.row:
            return f"{self.letter}{self.row}"
        return self.letter

    def where(self) -> str:
        """« Feuille « Budgets », ligne 5, colonne « Montant » (D5) », or less when unknown."""
        parts = []
        if self.sheet:
            parts.append(f"Feuille « {self.sheet} »")
        if self.row:
            parts.append(f"ligne {self.row}")
        if self.column or self.letter:
            name = f"colonne « {self.column} »" if self.column else "colonne"
            parts.append(f"{name} ({self.cell})" if self.cell else name)
        return ", ".join(parts) or "Fichier"

    def __str__(self) -> str:
        return f"{self.where()} : {self.message}"

    @property
    def is_error(self) -> bool:
        """True for an error (the import is refused), False for a warning."""
        return self.severity == ERROR


class SpreadsheetError(ValueError):
    """The file cannot be read at all (not a workbook, zip bomb, DTD…): nothing is kept."""

    def __init__(self, problem: Problem | str) -> None:
        self.problem = problem if isinstance(problem, Problem) else Problem(problem)
        super().__init__(str(self.problem))
