"""`ptfops iati validate`: text lines, --json, --ruleset and the exit status."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ops.cli import main
from tests.iati.conftest import FIXTURES, OFFICIAL_RULESET, activity_xml, needs_shared

pytestmark = pytest.mark.usefixtures("standard")  # the official files, or a clear failure


def _run(*args: str):
    return CliRunner().invoke(main, ["iati", "validate", *args])


def test_a_valid_file_prints_nothing_and_exits_0(tmp_path):
    path = tmp_path / "ok.xml"
    path.write_bytes(activity_xml())
    result = _run(str(path))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "valide" in result.stderr


def test_each_finding_is_one_line_file_line_severity_id_message_xpath(tmp_path):
    path = tmp_path / "bad.xml"
    path.write_bytes(activity_xml(role="9", budget_end="2023-12-31"))
    result = _run(str(path))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines == [
        f"{path}:8: error 9.41.1 rôle de l'organisation participante : « 9 » n'est pas un code "
        "de la liste OrganisationRole (/iati-activities/iati-activity[1]/participating-org/@role)",
        f"{path}:14: error 7.5.3 une période budgétaire ne doit pas dépasser un an (1094 jours) "
        "(/iati-activities/iati-activity[1]/budget/period-end/@iso-date)",
    ]
    assert "2 erreur(s)" in result.stderr


def test_warnings_alone_exit_0(tmp_path):
    path = tmp_path / "warn.xml"
    path.write_bytes(activity_xml(identifier="XM-DAC-7-PTF-1 "))
    result = _run(str(path))
    assert result.exit_code == 0
    assert ": warning 1.3.1 " in result.stdout


def test_json_prints_a_list_of_findings_with_the_five_keys(tmp_path):
    path = tmp_path / "bad.xml"
    path.write_bytes(activity_xml(role="9"))
    result = _run("--json", str(path))
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data == [{"id": "9.41.1", "severity": "error",
                     "message": "rôle de l'organisation participante : « 9 » n'est pas un code "
                                "de la liste OrganisationRole",
                     "xpath": "/iati-activities/iati-activity[1]/participating-org/@role",
                     "line": 8}]


def test_json_of_a_valid_file_is_an_empty_list(tmp_path):
    path = tmp_path / "ok.xml"
    path.write_bytes(activity_xml())
    result = _run("--json", str(path))
    assert (result.exit_code, json.loads(result.stdout)) == (0, [])


def test_a_malformed_file_is_a_critical_finding_not_a_traceback(tmp_path):
    path = tmp_path / "broken.xml"
    path.write_bytes(b"<iati-activities>\n<oops>")
    result = _run("--json", str(path))
    assert result.exit_code == 1
    [finding] = json.loads(result.stdout)
    assert (finding["id"], finding["severity"]) == ("0.1.1", "critical")


def test_a_broken_ruleset_file_is_reported_with_exit_2(tmp_path):
    path, rules = tmp_path / "ok.xml", tmp_path / "rules.json"
    path.write_bytes(activity_xml())
    rules.write_text('{"/iati-activities/iati-activity": {"maybe": {"cases": []}}}')
    result = _run("--ruleset", str(rules), str(path))
    assert result.exit_code == 2
    assert "unknown rule type" in result.stderr


@needs_shared
def test_the_official_ruleset_runs_next_to_ours():
    fixture = FIXTURES / "iati-act-strictSum-error.xml"
    result = _run("--json", "--ruleset", str(OFFICIAL_RULESET), str(fixture))
    assert result.exit_code == 1
    ids = sorted(f["id"] for f in json.loads(result.stdout) if f["severity"] != "warning")
    assert ids == ["3.4.2", "3.4.2"]


@needs_shared
def test_a_version_1_file_is_refused():
    result = _run(str(FIXTURES / "iati-act-no-errors-old-version.xml"))
    assert result.exit_code == 1
    assert ": critical 0.6.1 la version 1.03" in result.stdout
