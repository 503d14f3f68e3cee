"""A hardened XML parser: no DTD, no entity expansion, no network, line numbers kept.

Any DOCTYPE (internal DTD, entity declarations, external DTD) is refused with a clear error;
nothing is resolved, read from disk or fetched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from lxml import etree

_DOCTYPE = re.compile(rb"<!DOCTYPE|<\x00!\x00D\x00O\x00C\x00T\x00Y\x00P\x00E|"
                      rb"\x00<\x00!\x00D\x00O\x00C\x00T\x00Y\x00P\x00E")
_ENTITY_WORDS = ("entity", "entité", "amplification")


class XmlError(ValueError):
    """The file cannot be read as safe XML; `message` is in French."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class XmlSyntaxError(XmlError):
    """The file is not well-formed XML."""


class XmlSecurityError(XmlError):
    """The file declares a DTD or entities: refused without resolving anything."""


#: The hardened parser settings (XMLParser, XMLPullParser and iterparse all take them).
PARSER_OPTIONS = {
    "resolve_entities": False,  # never expand entities, internal or external
    "load_dtd": False,          # never read a DTD
    "dtd_validation": False,
    "no_network": True,         # never fetch anything
    "huge_tree": False,         # keep libxml2's limits against oversized nodes
    "remove_comments": True,    # comments carry no data; fewer nodes to walk
    "remove_pis": True,
    "collect_ids": False,
}
STREAM_CHUNK = 1 << 20  # bytes fed to the incremental parser at a time


def _parser() -> etree.XMLParser:
    """A fresh parser (lxml parsers must not be shared between threads)."""
    return etree.XMLParser(**PARSER_OPTIONS)


def _refuse_doctype(line: int | None) -> XmlSecurityError:
    return XmlSecurityError(
        "le fichier déclare un DOCTYPE (DTD ou entités) : refusé, rien n'a été résolu "
        "ni téléchargé ; un fichier IATI n'en contient jamais", line)


def parse_bytes(data: bytes) -> etree._ElementTree:
    """Parse XML bytes safely; raise XmlSyntaxError or XmlSecurityError."""
    if not data or data.isspace():  # as `not data.strip()`, without copying the data
        raise XmlSyntaxError("le fichier est vide", None)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or None
        text = str(exc)
        if _DOCTYPE.search(data[:65536]) or any(w in text.lower() for w in _ENTITY_WORDS):
            raise _refuse_doctype(line) from exc
        raise XmlSyntaxError(f"XML mal formé (ligne {line}) : {text}", line) from exc
    return _checked(root.getroottree(), data)


def _checked(tree: etree._ElementTree, data: bytes) -> etree._ElementTree:
    """The tree, once it is known to hold no DTD and no entity reference."""
    root = tree.getroot()
    docinfo = tree.docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise _refuse_doctype(1)
    if _may_hold_entities(data):  # defensive: unexpanded references
        for _entity in root.iter(etree.Entity):
            raise _refuse_doctype(_entity.sourceline)
    return tree


def _may_hold_entities(data: bytes) -> bool:
    """Whether entity reference nodes are possible at all: an entity must be declared in a
    DTD (libxml2 rejects an undeclared one as malformed), so bytes declaring none cannot hold
    any. Files not starting with an ASCII `<` (UTF-16, EBCDIC…) are always walked."""
    if not data[:1024].removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n").startswith(b"<"):
        return True
    return b"<!DOCTYPE" in data or b"<!ENTITY" in data


def may_stream(data: bytes) -> bool:
    """Whether `data` may be parsed by UnitStream: plain XML without any DTD (anything
    else goes through parse_bytes, which refuses or reports it)."""
    return bool(data) and not _may_hold_entities(data)


class UnitStream:
    """Parse bytes as parse_bytes does, chunk by chunk, saying which units are complete.

    Iterating yields, after each chunk, (bytes fed so far, the elements named in `tags`
    closed by that chunk). Chunks also end at each of `stops`, so that processes feeding the
    same bytes with the same stops see the same units closed at each stop. The tree is the one
    parse_bytes builds (same parser options). Errors surface as lxml's XMLSyntaxError or as
    XmlError from close(); parse_bytes gives the reported form.
    """

    def __init__(self, data: bytes, tags: tuple[str, ...], stops: Iterable[int] = (),
                 chunk: int = STREAM_CHUNK) -> None:
        self._data = data
        self._ends = sorted({*range(chunk, len(data), chunk), *(
            stop for stop in stops if 0 < stop < len(data)), len(data)})
        self._parser = etree.XMLPullParser(events=("end",), tag=tags, **PARSER_OPTIONS)

    def __iter__(self) -> Iterator[tuple[int, list[etree._Element]]]:
        data, parser, start = self._data, self._parser, 0
        for end in self._ends:
            parser.feed(data[start:end])
            start = end
            yield end, [element for _, element in parser.read_events()]

    def close(self) -> etree._ElementTree:
        """Finish parsing; the tree, checked as parse_bytes checks it."""
        root = self._parser.close()
        return _checked(root.getroottree(), self._data)


def parse_file(path: str | Path) -> etree._ElementTree:
    """Parse an XML file safely (read as bytes: the XML declaration names the encoding)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise XmlSyntaxError(f"lecture impossible de {path} : {exc.strerror}") from exc
    return parse_bytes(data)
