"""Which files this validator accepts: IATI activity or organisation files, version 2.0x.

The official 2.03 files are used for every 2.0x version: decimal upgrades of the standard are
backwards compatible, so a valid 2.01 or 2.02 file is checked against the 2.03 rules.
Version 1.x files (0.6.1, no longer supported) and unknown versions are refused.
"""

from __future__ import annotations

from lxml import etree

from iati.findings import CRITICAL, Finding

STANDARD_VERSION = "2.03"
ACCEPTED_VERSIONS = ("2.01", "2.02", "2.03")
ROOTS = ("iati-activities", "iati-organisations")
NOT_IATI_ID = "0.2.1"
VERSION_ID = "0.6.1"


def file_kind(root: etree._Element) -> str | None:
    """'iati-activities', 'iati-organisations', or None for anything else."""
    return root.tag if root.tag in ROOTS else None


def check_version(root: etree._Element) -> list[Finding]:
    """Critical findings when the file is not IATI or its version is not supported."""
    kind = file_kind(root)
    if kind is None:
        tag = root.tag if isinstance(root.tag, str) else "?"
        return [Finding(NOT_IATI_ID, CRITICAL,
                        f"ce n'est pas un fichier IATI : l'élément racine est <{tag}>, "
                        f"<iati-activities> ou <iati-organisations> attendu",
                        f"/{tag}", root.sourceline)]
    version = root.get("version")
    if version is None:
        return []  # the XSD step reports the missing attribute
    xpath = f"/{kind}/@version"
    if version.strip().startswith("1."):
        return [Finding(VERSION_ID, CRITICAL,
                        f"la version {version} de la norme IATI n'est plus prise en charge : "
                        f"publiez en version {STANDARD_VERSION}", xpath, root.sourceline)]
    if version not in ACCEPTED_VERSIONS:
        return [Finding(VERSION_ID, CRITICAL,
                        f"version « {version} » de la norme IATI non prise en charge "
                        f"(acceptées : {', '.join(ACCEPTED_VERSIONS)})", xpath, root.sourceline)]
    return []
