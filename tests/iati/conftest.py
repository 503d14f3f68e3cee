"""Fixtures for the iati/ library tests: the official files, ../shared data, sample XML."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from iati.standard import StandardMissingError, get_standard

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
SHARED_IATI = SHARED / "data" / "iati"
FIXTURES = SHARED_IATI / "validator-fixtures"
OFFICIAL_RULESET = SHARED_IATI / "reference" / "rulesets-standard-2.03.json"
CATALOGUE = SHARED_IATI / "reference" / "validator-data-quality-rules.csv"

needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(),
    reason=f"{SHARED} is absent (a clone outside the workplace): the shared IATI data is not here")


@pytest.fixture(scope="session")
def standard():
    """The official 2.03 files; a clear failure when `make iati-standard` was not run."""
    try:
        return get_standard()
    except StandardMissingError as exc:
        pytest.fail(str(exc))


ACTIVITY = """<?xml version="1.0" encoding="UTF-8"?>
<iati-activities version="{version}" generated-datetime="2024-01-01T00:00:00Z">
 <iati-activity xml:lang="fr" default-currency="XOF" last-updated-datetime="{updated}">
  <iati-identifier>{identifier}</iati-identifier>
  <reporting-org ref="XM-DAC-7" type="10"><narrative>Pays-Bas</narrative></reporting-org>
  <title><narrative>Eau potable à Mopti</narrative></title>
  <description type="1"><narrative>Forages et adductions.</narrative></description>
  <participating-org ref="XM-DAC-7" role="{role}" type="10"/>
  <activity-status code="2"/>
  <activity-date iso-date="{start}" type="2"/>
  <recipient-country code="ML"/>
  {sectors}
  <budget type="1" status="1">
   <period-start iso-date="2021-01-01"/><period-end iso-date="{budget_end}"/>
   <value value-date="2021-01-01">1000</value>
  </budget>
  <transaction>
   <transaction-type code="3"/><transaction-date iso-date="{paid}"/>
   <value value-date="{paid}">500</value>
  </transaction>
 </iati-activity>
</iati-activities>
"""
DEFAULTS = {"version": "2.03", "updated": "2024-01-01T00:00:00Z",
            "identifier": "XM-DAC-7-PTF-1", "role": "1", "start": "2020-01-01",
            "sectors": '<sector vocabulary="1" code="14030"/>', "budget_end": "2021-12-31",
            "paid": "2021-03-01"}


def activity_xml(**changes: str) -> bytes:
    """A small, fully valid IATI 2.03 activity file, with some fields changed."""
    return ACTIVITY.format(**{**DEFAULTS, **changes}).encode()


@pytest.fixture
def http_server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that counts the requests it receives."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            hits.append(self.path)
            body = b'<!ENTITY leak "fetched">'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
