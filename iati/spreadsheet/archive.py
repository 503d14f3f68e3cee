"""Open an uploaded file safely before anything reads its cells.

A workbook (.xlsx) or a ZIP of CSV files is checked as an archive first: number of entries,
size once decompressed, compression ratio (zip bombs), encryption. A workbook is then
refused if any of its XML parts declares a DTD or entities, if it links to other workbooks or
external data, and its sheets are scanned for merged cells and formulas, named by cell.
CSV text is decoded as UTF-8, else as Windows-1252/Latin-1 with a warning.
"""

from __future__ import annotations

import codecs
import io
import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml import etree

from iati.spreadsheet.problems import SpreadsheetError
from iati.xmlsafe import XmlError, parse_bytes

MIB = 1024 * 1024
_DECLARATION = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_STRICT_REL_ID = "{http://purl.oclc.org/ooxml/officeDocument/relationships}id"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class Limits:
    """How big an upload may get once opened."""

    max_unpacked: int = 64 * MIB      # total size of the archive's entries, decompressed
    max_ratio: int = 100              # decompressed / compressed, per entry
    ratio_floor: int = MIB            # smaller entries are not held to the ratio
    max_entries: int = 300
    max_rows: int = 20_000            # per sheet
    max_columns: int = 200
    max_problems: int = 300


@dataclass
class SheetScan:
    """What the raw XML of one worksheet shows: merged ranges and formula cells."""

    merged: list[str] = field(default_factory=list)
    formulas: list[str] = field(default_factory=list)


def kind_of(data: bytes, filename: str, limits: Limits) -> str:
    """"xlsx", "csvzip" or "csv", from the content (the name only helps the messages)."""
    name = filename.lower()
    if not data.strip():
        raise SpreadsheetError("le fichier est vide")
    if data.startswith(_OLE):
        raise SpreadsheetError(
            "ce classeur est au format Excel 97-2003 (.xls) ou protégé par un mot de passe : "
            "enregistrez-le en « Classeur Excel (.xlsx) », sans mot de passe")
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        with open_zip(data, limits, "l'archive") as archive:
            names = set(archive.namelist())
            if "xl/workbook.xml" in names:
                return "xlsx"
            if "mimetype" in names and b"opendocument" in archive.read("mimetype")[:100]:
                raise SpreadsheetError(
                    "ce classeur est au format OpenDocument (.ods) : enregistrez-le en "
                    "« Classeur Excel (.xlsx) » ou en CSV")
            if any(n.lower().endswith(".csv") for n in names):
                return "csvzip"
        raise SpreadsheetError("cette archive ZIP ne contient ni classeur Excel ni fichier CSV")
    if name.endswith((".xlsx", ".xlsm")):
        raise SpreadsheetError(
            f"« {filename} » n'est pas un vrai classeur Excel (.xlsx) : son contenu n'est pas "
            "une archive ZIP (fichier renommé ?). Ouvrez-le dans Excel et enregistrez-le en "
            "« Classeur Excel (.xlsx) »")
    if name.endswith(".zip"):
        raise SpreadsheetError(f"« {filename} » n'est pas une archive ZIP lisible")
    return "csv"


def open_zip(data: bytes, limits: Limits, what: str) -> zipfile.ZipFile:
    """The archive, once its table of contents passes the limits (no zip bomb)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise SpreadsheetError(f"{what} est endommagé(e) : ce n'est pas une archive ZIP "
                               "lisible") from exc
    if len(infos) > limits.max_entries:
        raise SpreadsheetError(f"{what} contient {len(infos)} éléments ({limits.max_entries} "
                               "au plus) : refusé(e)")
    total = sum(info.file_size for info in infos)
    if total > limits.max_unpacked:
        raise SpreadsheetError(
            f"{what} ferait {total // MIB} Mo une fois décompressé(e) "
            f"({limits.max_unpacked // MIB} Mo au plus) : refusé(e), c'est peut-être une "
            "« bombe de décompression »")
    for info in infos:
        if info.flag_bits & 0x1:
            raise SpreadsheetError(f"{what} est protégé(e) par un mot de passe : enregistrez-"
                                   "le sans mot de passe")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise SpreadsheetError(f"{what} utilise une compression non prise en charge "
                                   f"(élément « {info.filename} »)")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_floor and ratio > limits.max_ratio:
            raise SpreadsheetError(
                f"l'élément « {info.filename} » de {what} se décompresse {int(ratio)} fois "
                f"({limits.max_ratio} au plus) : refusé(e), c'est une « bombe de "
                "décompression »")
    return archive


def chunks(archive: zipfile.ZipFile, name: str, what: str) -> Iterator[bytes]:
    """The entry's bytes, 64 KiB at a time (zipfile holds each entry to its declared size)."""
    try:
        with archive.open(name) as entry:
            while chunk := entry.read(64 * 1024):
                yield chunk
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise SpreadsheetError(f"{what} est endommagé(e) (élément « {name} »)") from exc


def read_entry(archive: zipfile.ZipFile, name: str, what: str) -> bytes:
    """A whole entry (already held to the archive's size limits)."""
    return b"".join(chunks(archive, name, what))


def _refuse_declarations(archive: zipfile.ZipFile) -> None:
    for info in archive.infolist():
        if not info.filename.lower().endswith((".xml", ".rels", ".vml")):
            continue
        tail = b""
        for chunk in chunks(archive, info.filename, "le classeur"):
            if _DECLARATION.search(tail + chunk):
                raise SpreadsheetError(
                    f"l'élément « {info.filename} » du classeur déclare une DTD ou des entités "
                    "XML : refusé, rien n'a été résolu ni téléchargé")
            tail = chunk[-16:]


def sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> the archive path of its XML part."""
    try:
        book = parse_bytes(read_entry(archive, "xl/workbook.xml", "le classeur")).getroot()
        rels_name = "xl/_rels/workbook.xml.rels"
        rels = parse_bytes(read_entry(archive, rels_name, "le classeur")).getroot() \
            if rels_name in archive.namelist() else None
    except XmlError as exc:
        raise SpreadsheetError(f"le classeur est endommagé : {exc.message}") from exc
    targets = {} if rels is None else {
        rel.get("Id"): rel.get("Target", "") for rel in rels if rel.get("Target")}
    parts = {}
    for sheet in book.iter():
        if not isinstance(sheet.tag, str) or etree.QName(sheet).localname != "sheet":
            continue
        target = targets.get(sheet.get(_REL_ID) or sheet.get(_STRICT_REL_ID), "")
        if target:
            path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                posixpath.join("xl", target))
            parts[sheet.get("name", "")] = path
    return parts


def scan_sheet(archive: zipfile.ZipFile, part: str) -> SheetScan:
    """Merged ranges and formula cells of one worksheet part, read as a stream."""
    scan = SheetScan()
    parser = etree.XMLPullParser(events=("start", "end"), resolve_entities=False,
                                 load_dtd=False, no_network=True, huge_tree=False)
    cell = ""
    try:
        for chunk in chunks(archive, part, "le classeur"):
            parser.feed(chunk)
            for event, element in parser.read_events():
                name = etree.QName(element).localname
                if event == "start" and name == "c":
                    cell = element.get("r", "")
                elif event == "start" and name == "f" and len(scan.formulas) < 100:
                    if not scan.formulas or scan.formulas[-1] != cell:
                        scan.formulas.append(cell)
                elif event == "start" and name == "mergeCell" and len(scan.merged) < 100:
                    scan.merged.append(element.get("ref", ""))
                elif event == "end" and name == "row":
                    element.clear()
                    while element.getprevious() is not None:
                        del element.getparent()[0]
        parser.close()
    except etree.XMLSyntaxError as exc:
        raise SpreadsheetError(f"le classeur est endommagé (élément « {part} » : {exc})") from exc
    return scan


def check_workbook(archive: zipfile.ZipFile) -> None:
    """Refuse links to other workbooks, external data, and any DTD or entity declaration."""
    names = [n.lower() for n in archive.namelist()]
    if any(n.startswith("xl/externallinks/") for n in names):
        raise SpreadsheetError(
            "le classeur est lié à d'autres classeurs (liaisons externes) : copiez les "
            "cellules puis « Collage spécial > Valeurs », et supprimez les liaisons")
    if "xl/connections.xml" in names:
        raise SpreadsheetError("le classeur se connecte à des données externes : enregistrez "
                               "une copie avec les valeurs seulement")
    _refuse_declarations(archive)


def decode_text(data: bytes, name: str) -> tuple[str, str]:
    """The text of a CSV file, and a warning when it was not UTF-8 ("" otherwise)."""
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        try:
            return data.decode("utf-16"), ""
        except UnicodeDecodeError as exc:
            raise SpreadsheetError(f"« {name} » : texte UTF-16 illisible") from exc
    if b"\x00" in data:
        raise SpreadsheetError(f"« {name} » n'est pas un fichier texte CSV (contenu binaire)")
    try:
        return data.decode("utf-8-sig"), ""
    except UnicodeDecodeError:
        pass
    try:
        text, encoding = data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        text, encoding = data.decode("latin-1"), "ISO-8859-1 (Latin-1)"
    return text, (f"« {name} » n'est pas en UTF-8 : il a été lu en {encoding}, l'encodage "
                  "d'Excel en français ; vérifiez les accents dans l'aperçu, ou enregistrez-le "
                  "en « CSV UTF-8 »")


def sniff_delimiter(text: str) -> str:
    """The separator of a CSV text: ";" (French Excel), "," or a tab, read off the header."""
    header = text.split("\n", 1)[0]
    header = re.sub(r'"[^"]*"', "", header)
    counts = {sep: header.count(sep) for sep in (";", ",", "\t")}
    best = max(counts, key=lambda sep: (counts[sep], sep == ";"))
    return best if counts[best] else ";"
