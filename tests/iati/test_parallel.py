"""Several processes find exactly what one process finds, and a schema refusal wins."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from iati.parallel import PARALLEL_FROM, idle_cpus, sampled_idle, worker_count
from iati.validate import validate_bytes
from tests.iati.conftest import activity_xml

pytestmark = pytest.mark.usefixtures("standard")  # the official files, or a clear failure


def _file(count: int, broken: int | None = None, schema_error: int | None = None) -> bytes:
    head, tail = activity_xml().split(b"<iati-activity ", 1)
    unit = b"<iati-activity " + tail.rsplit(b"</iati-activities>", 1)[0]
    units = []
    for number in range(count):
        text = unit.replace(b"PTF-1<", b"PTF-%d<" % number)
        if number == broken:
            text = text.replace(b'role="1"', b'role="9"')
        if number == schema_error:
            text = text.replace(b"<activity-status", b"<statut/><activity-status")
        units.append(text)
    units.append(unit)  # a duplicate identifier, PTF-1, at the end
    return head + b"".join(units) + b"</iati-activities>\n"


def _summary(report):
    return [(f.id, f.line, f.xpath) for f in report.findings]


def test_workers_find_exactly_what_one_process_finds():
    data = _file(60, broken=41)
    one = validate_bytes(data, workers=1)
    three = validate_bytes(data, workers=3)
    assert _summary(three) == _summary(one)
    assert [f.id for f in one.findings] == ["9.41.1", "1.1.2"]
    assert one.units == three.units == 61


def test_a_schema_error_refuses_the_file_even_with_workers():
    report = validate_bytes(_file(30, broken=3, schema_error=20), workers=2)
    assert report.refused and {f.id for f in report.findings} == {"0.3.1"}


def test_small_files_stay_in_one_process_and_large_ones_use_the_cpus():
    assert worker_count(None, 10) == 1
    assert worker_count(4, 10) == 4
    assert worker_count(None, PARALLEL_FROM) >= 1


def test_cpus_kept_busy_by_other_processes_leave_one_process():
    # Real load: one busy loop per CPU. The idle time is looked at now (/proc/stat), not
    # from the 1-minute load average, which would still show the quiet minute before.
    cpus = os.cpu_count() or 1
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(cpus)]
    try:
        time.sleep(0.3)
        assert sampled_idle(0.2) < 0.5
        assert idle_cpus(cpus) == 1
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def test_sharing_a_file_before_parsing_finds_exactly_what_one_process_finds(monkeypatch):
    import iati.validate as validate_module

    data = _file(400, broken=7)  # the broken unit lands in the worker's share
    data = data.replace(b"PTF-390<", b"PTF-390 <")  # a trailing space in the parent's share
    monkeypatch.setattr(validate_module, "SHARE_FROM", len(data) // 2)  # take the shared path
    one = validate_bytes(data, workers=1)
    two = validate_bytes(data, workers=2)
    assert _summary(two) == _summary(one)
    assert {"9.41.1", "1.1.2"} <= {f.id for f in two.findings}
    assert one.units == two.units == 401
