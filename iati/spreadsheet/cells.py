"""One cell: read a typed value from what the user wrote, and write a value back.

Readers accept what French Excel produces: dates as real dates or JJ/MM/AAAA (or ISO), decimal
commas, spaces between thousands, codes typed as numbers. A blank cell means "leave unchanged";
a cell holding only "-" clears an optional value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from iati.spreadsheet.columns import Column, codelist, region_code, regions


class _Clear:
    """The value of a cell holding "-": clear the field."""

    def __repr__(self) -> str:
        return "CLEAR"


CLEAR: Any = _Clear()
CLEAR_MARK = "-"
#: Mali's bounding box, with a margin (lat, lon): points outside it get a warning.
MALI_BOX = ((10.0, 25.2), (-12.4, 4.4))
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SECTOR = re.compile(r"^(\d{5})\s*(?:[:=(]\s*([0-9]+(?:[.,][0-9]+)?)\s*%?\s*\)?)?$")
_DATE_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d", "%Y/%m/%d")
_YES = {"oui", "o", "yes", "y", "x", "1", "vrai", "true"}
_NO = {"non", "n", "no", "0", "faux", "false"}


class CellError(ValueError):
    """A cell that cannot be read; the message is in French."""


@dataclass(frozen=True)
class Parsed:
    """A cell's value, and a warning to show with it ("" when none)."""

    value: Any
    warning: str = ""


def is_blank(raw: object) -> bool:
    """True for an empty cell (nothing, or only spaces)."""
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _text(raw: object) -> str:
    if isinstance(raw, bool):
        return "oui" if raw else "non"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, datetime):
        return raw.date().isoformat() if raw.time() == datetime.min.time() else raw.isoformat()
    if isinstance(raw, Decimal):
        return format_decimal(raw, ".")
    return str(raw).strip()


def format_decimal(value: Decimal | float | int, point: str = ",") -> str:
    """A number in plain notation, without trailing zeros, with `point` as decimal mark."""
    text = format(Decimal(str(value)) if isinstance(value, float) else Decimal(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", point)


def _decimal(raw: object, what: str) -> Decimal:
    if isinstance(raw, bool):
        raise CellError(f"« {_text(raw)} » n'est pas {what}")
    if isinstance(raw, int | Decimal):
        return Decimal(raw)
    if isinstance(raw, float):
        return Decimal(repr(raw))
    text = re.sub(r"[\s\u00a0\u202f']", "", str(raw))
    if "," in text and "." in text:  # the last mark is the decimal one
        thousands = "." if text.rfind(",") > text.rfind(".") else ","
        text = text.replace(thousands, "")
    text = text.replace(",", ".")
    if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)", text):
        raise CellError(f"« {_text(raw)} » n'est pas {what}")
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise CellError(f"« {_text(raw)} » n'est pas {what}") from exc


def _date(raw: object) -> date:
    if isinstance(raw, datetime):
        value = raw.date()
    elif isinstance(raw, date):
        value = raw
    elif isinstance(raw, int | float | Decimal):
        raise CellError(f"« {_text(raw)} » n'est pas une date : écrivez-la JJ/MM/AAAA "
                        "(ex. 31/12/2025)")
    else:
        text = re.sub(r"[ T]00:00(:00)?$", "", str(raw).strip())
        value = None
        for pattern in _DATE_FORMATS:
            try:
                value = datetime.strptime(text, pattern).date()
                break
            except ValueError:
                continue
        if value is None:
            raise CellError(f"« {text} » n'est pas une date valide : écrivez-la JJ/MM/AAAA "
                            "(ex. 31/12/2025)")
    if not 1950 <= value.year <= 2100:
        raise CellError(f"la date {value:%d/%m/%Y} est hors des années 1950 à 2100")
    return value


def _code(column: Column, raw: object) -> Parsed:
    code = _text(raw)
    if column.upper:
        code = code.upper()
    _check_length(column, code)
    found = codelist(column.codelist)
    if found is None or code in found.codes:
        if found is not None and code in found.withdrawn:
            return Parsed(code, f"le code « {code} » est retiré de la liste IATI "
                                f"{column.codelist} : choisissez-en un autre")
        return Parsed(code)
    if found.embedded:
        shown = sorted(found.codes - found.withdrawn, key=lambda c: (len(c), c))
        listed = ", ".join(shown[:15]) + (" …" if len(shown) > 15 else "")
        raise CellError(f"code « {code} » inconnu de la liste IATI {column.codelist} "
                        f"(codes possibles : {listed})")
    return Parsed(code, f"le code « {code} » n'est pas dans la copie de la liste IATI "
                        f"{column.codelist} du portail : vérifiez-le")


def _check_length(column: Column, text: str) -> None:
    if column.max_length and len(text) > column.max_length:
        raise CellError(f"texte trop long ({len(text)} caractères, {column.max_length} au plus)")
    if _CONTROL.search(text):
        raise CellError("la cellule contient un caractère de contrôle invisible : retapez-la")


def _sectors(raw: object) -> Parsed:
    items = [part.strip() for part in re.split(r"[;\n]", _text(raw)) if part.strip()]
    sectors: list[tuple[str, Decimal | None]] = []
    warnings = []
    for item in items:
        match = _SECTOR.match(item)
        if match is None:
            raise CellError(f"« {item} » : écrivez un code CAD à 5 chiffres suivi de sa part "
                            "en %, ex. 12220:60; 12240:40")
        code, share = match.group(1), match.group(2)
        percentage = Decimal(share.replace(",", ".")) if share else None
        if percentage is not None and not 0 <= percentage <= 100:
            raise CellError(f"la part du secteur {code} doit être entre 0 et 100 %")
        if code in (c for c, _ in sectors):
            raise CellError(f"le secteur {code} est écrit deux fois")
        found = codelist("Sector")
        if found is not None and code not in found.codes:
            warnings.append(f"le code secteur « {code} » n'est pas dans la liste CAD du portail")
        sectors.append((code, percentage))
    if len(sectors) > 1 or any(p is not None for _, p in sectors):
        if any(p is None for _, p in sectors):
            raise CellError("donnez la part en % de chaque secteur, ex. 12220:60; 12240:40")
        total = sum((p for _, p in sectors if p is not None), Decimal(0))
        if abs(total - 100) > Decimal("0.01"):
            raise CellError(f"les parts des secteurs font {format_decimal(total)} % au lieu "
                            "de 100 %")
    return Parsed(tuple(sectors), "; ".join(warnings))


def _coordinate(raw: object, kind: str) -> Parsed:
    what = "une latitude" if kind == "latitude" else "une longitude"
    value = float(_decimal(raw, f"{what} en degrés décimaux (ex. 12,6392)"))
    limit = 90 if kind == "latitude" else 180
    if not -limit <= value <= limit:
        raise CellError(f"{what} va de -{limit} à {limit} (« {_text(raw)} »)")
    low, high = MALI_BOX[0] if kind == "latitude" else MALI_BOX[1]
    if not low <= value <= high:
        return Parsed(value, f"{what} {format_decimal(value)} est hors du Mali : vérifiez "
                             "(latitude et longitude inversées ?)")
    return Parsed(value)


def parse(column: Column, raw: object) -> Parsed | None:
    """The value a cell holds for `column` (None when blank; CLEAR for "-").

    Raises CellError with a French message when the cell cannot be read.
    """
    if is_blank(raw):
        return None
    kind = column.kind
    if isinstance(raw, str) and raw.strip() == CLEAR_MARK and kind not in ("amount",):
        if column.required or kind in ("identifier", "number", "yesno"):
            raise CellError("« - » efface une valeur, mais cette colonne ne peut pas être vide")
        return Parsed(CLEAR)
    if kind in ("identifier", "text", "group"):
        text = _text(raw)
        _check_length(column, text)
        if kind == "identifier":
            if any(c in text for c in "/&|?"):
                raise CellError(f"l'identifiant « {text} » contient un caractère interdit "
                                "par IATI (/ & | ?)")
            if re.search(r"\s", text):
                raise CellError(f"l'identifiant « {text} » contient une espace")
        return Parsed(text.lower() if kind == "group" else text)
    if kind == "code":
        return _code(column, raw)
    if kind == "date":
        return Parsed(_date(raw))
    if kind == "amount":
        value = _decimal(raw, "un montant (écrivez-le en chiffres, ex. 1500000)")
        if abs(value) >= Decimal(10) ** 17:
            raise CellError(f"le montant « {_text(raw)} » est trop grand")
        return Parsed(value)
    if kind in ("latitude", "longitude"):
        return _coordinate(raw, kind)
    if kind == "number":
        value = _decimal(raw, "un numéro de ligne (1, 2, 3…)")
        if value != value.to_integral_value() or value < 1:
            raise CellError(f"« {_text(raw)} » n'est pas un numéro de ligne (1, 2, 3…)")
        return Parsed(int(value))
    if kind == "yesno":
        text = _text(raw).casefold()
        if text in _YES:
            return Parsed(True)
        if text in _NO:
            return Parsed(False)
        raise CellError(f"« {_text(raw)} » : écrivez « oui » ou laissez vide")
    if kind == "sectors":
        return _sectors(raw)
    if kind == "region":
        code = region_code(_text(raw))
        if code is None:
            raise CellError(f"région inconnue « {_text(raw)} » : écrivez le nom (Ségou) ou le "
                            "code (ML-4) d'une région du Mali")
        return Parsed(code)
    if kind == "geonames":
        text = _text(raw)
        if not text.isdigit() or len(text) > (column.max_length or 20):
            raise CellError(f"« {text} » n'est pas un identifiant GeoNames (un nombre)")
        return Parsed(text)
    raise ValueError(f"unknown column kind {kind!r}")


def to_cell(column: Column, value: Any, for_csv: bool) -> Any:
    """What to write in the cell for `value` (a CSV gets text with decimal commas)."""
    if value is None or value == "" or value == ():
        return "" if for_csv else None
    kind = column.kind
    if kind == "date":
        return value.isoformat() if for_csv else value
    if kind == "amount":
        return format_decimal(value) if for_csv else value
    if kind in ("latitude", "longitude"):
        return repr(float(value)).replace(".", ",") if for_csv else float(value)
    if kind == "sectors":
        return "; ".join(code if share is None else f"{code}:{format_decimal(share)}"
                         for code, share in value)
    if kind == "region":
        return regions().get(value, value)
    if kind == "yesno":
        return "oui" if value else ""
    return value
