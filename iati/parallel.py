"""Check the activities of a large file in several processes, next to the XSD step.

Each activity is checked on its own (codelists and rulesets), so a file splits into ranges
of activities. On Linux the worker processes are forked once the tree is parsed: they read it
without copying it, and send back only their findings. Meanwhile the parent validates the
XSD; if that refuses the file, the workers' findings are dropped.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from itertools import islice

from lxml import etree

from iati.codelists import CodelistChecker
from iati.findings import Finding
from iati.lines import LineOf
from iati.rulesets import UNITS, IdSets, Ruleset
from iati.xpath import Env

PARALLEL_FROM = 2000  # activities: below this, starting processes costs more than it saves
MAX_WORKERS = 8


@dataclass
class UnitJob:
    """Everything needed to check activities (or organisations) of one parsed file."""

    root: etree._Element
    kind: str
    rulesets: list[Ruleset]
    messages: dict[str, str]  # French messages by rule id, for rulesets other than ours
    today: date
    ids: IdSets
    codelists: CodelistChecker
    line_of: LineOf

    def units(self) -> list[etree._Element]:
        return list(self.root.iterchildren(UNITS[self.kind]))

    def unit_path(self, number: int) -> str:
        return f"/{self.kind}/{UNITS[self.kind]}[{number}]"

    def check(self, start: int, stop: int) -> list[Finding]:
        """Codelists and rulesets for units start..stop-1 (0-based)."""
        out: list[Finding] = []
        env = Env(line_of=self.line_of)
        units = islice(self.root.iterchildren(UNITS[self.kind]), start, stop)
        for number, unit in enumerate(units, start + 1):
            unit_path = self.unit_path(number)
            out.extend(self.codelists.check_unit(unit, self.kind, unit_path, env))
            for position, rules in enumerate(self.rulesets):
                # other rulesets speak English: our French message for the ids we share
                out.extend(rules.check(unit, self.kind, unit_path, env, self.today, self.ids,
                                       self.messages if position else None))
            env.reset()
        return out


_JOB: UnitJob | None = None  # what forked workers read


def _work(bounds: tuple[int, int]) -> list[Finding]:
    assert _JOB is not None
    return _without_gc(_JOB.check, *bounds)


def _without_gc(check: Callable[[int, int], list[Finding]], start: int,
                stop: int) -> list[Finding]:
    """Run with the cycle collector paused: checking creates no cycles, only short-lived
    objects, and the collector would otherwise rescan the whole tree's proxies again and
    again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return check(start, stop)
    finally:
        if enabled:
            gc.enable()


def worker_count(requested: int | None, units: int) -> int:
    """How many processes: as asked, else one per CPU (at most 8) for large files."""
    if requested is not None:
        return max(1, requested)
    if units < PARALLEL_FROM or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if threading.active_count() > 1:  # forking a threaded process is not safe
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_WORKERS))


def run_units(job: UnitJob, units: int, schema_step: Callable[[], bool],
              workers: int | None) -> list[Finding] | None:
    """The units' findings, or None when the schema step refuses the file."""
    count = worker_count(workers, units)
    if count <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        if not schema_step():
            return None
        return _without_gc(job.check, 0, units)
    global _JOB
    _JOB = job
    step = max(1, -(-units // (count * 4)))
    ranges = [(start, min(start + step, units)) for start in range(0, units, step)]
    try:
        with multiprocessing.get_context("fork").Pool(count) as pool:
            pending = pool.map_async(_work, ranges)
            if not schema_step():
                pool.terminate()
                return None
            return [finding for chunk in pending.get() for finding in chunk]
    finally:
        _JOB = None
