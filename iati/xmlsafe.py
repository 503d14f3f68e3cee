"""A hardened XML parser: no DTD, no entity expansion, no network, line numbers kept.

Any DOCTYPE (internal DTD, entity declarations, external DTD) is refused with a clear error;
nothing is resolved, read from disk or fetched.
"""

from __future__ import annotations

import re
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


def _parser() -> etree.XMLParser:
    """A fresh parser (lxml parsers must not be shared between threads)."""
    return etree.XMLParser(
        resolve_entities=False,  # never expand entities, internal or external
        load_dtd=False,          # never read a DTD
        dtd_validation=False,
        no_network=True,         # never fetch anything
        huge_tree=False,         # keep libxml2's limits against oversized nodes
        remove_comments=True,    # comments carry no data; fewer nodes to walk
        remove_pis=True,
        collect_ids=False,
    )


def _refuse_doctype(line: int | None) -> XmlSecurityError:
    return XmlSecurityError(
        "le fichier déclare un DOCTYPE (DTD ou entités) : refusé, rien n'a été résolu "
        "ni téléchargé ; un fichier IATI n'en contient jamais", line)


def parse_bytes(data: bytes) -> etree._ElementTree:
    """Parse XML bytes safely; raise XmlSyntaxError or XmlSecurityError."""
    if not data.strip():
        raise XmlSyntaxError("le fichier est vide", None)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or None
        text = str(exc)
        if _DOCTYPE.search(data[:65536]) or any(w in text.lower() for w in _ENTITY_WORDS):
            raise _refuse_doctype(line) from exc
        raise XmlSyntaxError(f"XML mal formé (ligne {line}) : {text}", line) from exc
    tree = root.getroottree()
    docinfo = tree.docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise _refuse_doctype(1)
    for _entity in root.iter(etree.Entity):  # defensive: unexpanded references
        raise _refuse_doctype(_entity.sourceline)
    return tree


def parse_file(path: str | Path) -> etree._ElementTree:
    """Parse an XML file safely (read as bytes: the XML declaration names the encoding)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise XmlSyntaxError(f"lecture impossible de {path} : {exc.strerror}") from exc
    return parse_bytes(data)
