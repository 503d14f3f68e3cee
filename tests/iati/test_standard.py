"""Locating the official files: pyIATI's data, kept off sys.path, never shadowing our iati."""

from __future__ import annotations

import subprocess
import sys

import pytest

import iati
from iati.standard import ENV_VAR, StandardMissingError, get_standard, standard_dir
from tests.iati.conftest import REPO

pytestmark = pytest.mark.usefixtures("standard")  # the official files, or a clear failure


def test_the_official_2_03_files_are_found(standard):
    assert standard.activity_schema.is_file() and standard.organisation_schema.is_file()
    assert standard.codelist("Sector").is_file()
    assert standard.root.name == "2-03"


def test_our_iati_package_is_the_one_imported_not_pyiati():
    assert iati.__file__ == str(REPO / "iati" / "__init__.py")
    assert not any(".cache" in entry for entry in sys.path)


def test_pyiati_stays_out_of_a_fresh_interpreter_too():
    out = subprocess.run([sys.executable, "-c", "import iati, sys; print(iati.__file__)"],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(REPO / "iati" / "__init__.py")


def test_the_environment_variable_points_to_another_install(monkeypatch, standard):
    monkeypatch.setenv(ENV_VAR, str(standard.root))  # the 2-03 folder itself also works
    assert standard_dir() == standard.root
    monkeypatch.setenv(ENV_VAR, str(standard.root.parents[3]))  # the pip --target folder
    assert standard_dir() == standard.root


def test_missing_files_name_the_command_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    with pytest.raises(StandardMissingError, match="make iati-standard"):
        get_standard()


def test_non_embedded_codelists_are_known_from_pyiati_layout(standard):
    assert "Sector" in standard.non_embedded and "Country" in standard.non_embedded
    assert "OrganisationRole" not in standard.non_embedded
