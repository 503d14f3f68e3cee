"""Check the activities of a large file in several processes, next to the XSD step.

Each activity is checked on its own (codelists and rulesets), so a file splits into ranges
of activities. On Linux the worker processes are forked from the parsed tree: they read it
without copying it, and send back only their findings. Meanwhile the parent validates the
XSD; if that refuses the file, the workers' findings are dropped.

Given the file's bytes, the workers start even before the parse ends (`Batches`): the parent
parses chunk by chunk, and forks a process for the activities complete so far whenever a CPU
is free, so parsing (about a third of the work) overlaps with checking.
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
from multiprocessing.connection import Connection

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

    def descendant_tags(self) -> tuple[str, ...]:
        """Descendants looked for in every unit, found in one walk per unit."""
        tags = set(self.codelists.descendant_tags())
        for rules in self.rulesets:
            tags |= rules.descendant_tags(self.kind)
        return tuple(sorted(tags))

    def check(self, start: int, stop: int) -> list[Finding]:
        """Codelists and rulesets for units start..stop-1 (0-based)."""
        out: list[Finding] = []
        env = Env(line_of=self.line_of)
        prefetch = self.descendant_tags()
        units = islice(self.root.iterchildren(UNITS[self.kind]), start, stop)
        for number, unit in enumerate(units, start + 1):
            env.prefetch(unit, prefetch)
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


def fork_available() -> bool:
    """Whether worker processes may be forked here."""
    return "fork" in multiprocessing.get_all_start_methods()


def stream_limit(requested: int | None) -> int:
    """Processes (the parent included) a file streamed by Batches may use; 1: none forked."""
    if requested is not None:
        return max(1, requested) if fork_available() else 1
    if not fork_available() or threading.active_count() > 1:
        return 1
    return worker_count(None, PARALLEL_FROM)


def _send(job: UnitJob, start: int, stop: int, conn: Connection) -> None:
    """In a forked worker: check units start..stop-1, send the findings (or the error)."""
    try:
        conn.send(("ok", _without_gc(job.check, start, stop)))
    except BaseException as exc:  # noqa: BLE001 - handed to the parent, which raises it
        try:
            conn.send(("error", exc))
        except Exception:  # noqa: BLE001 - an exception that does not pickle
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()


@dataclass
class _Batch:
    start: int
    stop: int
    process: multiprocessing.process.BaseProcess
    conn: Connection
    result: tuple[str, object] | None = None


class Batches:
    """Worker processes forked while the file is still being parsed, one range of complete
    units each; `finish` forks the rest once the whole tree is there."""

    def __init__(self, job: UnitJob, limit: int, requested: int | None) -> None:
        self.job = job
        self.limit = limit          # processes at a time, the parent included
        self.requested = requested  # workers= as given (None: automatic)
        self.assigned = 0           # units 0..assigned-1 have a process
        self.batches: list[_Batch] = []

    def _running(self) -> int:
        """Processes still checking (a finished one's findings are read as they come)."""
        busy = 0
        for batch in self.batches:
            if batch.result is None and batch.conn.poll():
                batch.result = _receive(batch.conn)
            if batch.result is None:
                busy += 1
        return busy

    def start(self, stop: int) -> None:
        """Fork a process checking units assigned..stop-1."""
        receiver, sender = multiprocessing.Pipe(duplex=False)
        process = multiprocessing.get_context("fork").Process(
            target=_send, args=(self.job, self.assigned, stop, sender), daemon=True)
        process.start()
        sender.close()  # the worker holds the only sending end: EOF when it dies
        self.batches.append(_Batch(self.assigned, stop, process, receiver))
        self.assigned = stop

    def offer(self, complete: int, fed: int, size: int) -> None:
        """While parsing: `complete` units are whole after `fed` of `size` bytes; fork a
        process for some waiting ones if a CPU is free and the file is worth it.

        Batches stay small (a sixth of a CPU's share): whatever is still running when the
        parse ends cannot be shared out any more, while the units left then are split
        evenly by `finish`."""
        waiting = complete - self.assigned
        if waiting <= 0 or self._running() >= self.limit - 1:  # the parent is parsing
            return
        estimate = complete * size // max(fed, 1)
        if self.requested is None and estimate < PARALLEL_FROM:
            return
        batch = max(1, estimate // (self.limit * 6))
        if waiting >= batch:
            self.start(self.assigned + batch)

    def finish(self, units: int, schema_step: Callable[[], bool]) -> list[Finding] | None:
        """Fork processes for the units left, run the schema step meanwhile; every unit's
        findings in order, or None when the schema step refuses the file."""
        try:
            left = units - self.assigned
            if left > 0:
                parts = max(1, min(self.limit, left // 50))
                step = -(-left // parts)
                for stop in range(self.assigned + step, units + step, step):
                    self.start(min(stop, units))
            if not schema_step():
                self.stop()
                return None
            found: list[Finding] = []
            for batch in self.batches:
                if batch.result is None:
                    batch.result = _receive(batch.conn)
                batch.process.join()
                status, payload = batch.result
                if status != "ok":
                    raise payload  # type: ignore[misc]
                found.extend(payload)  # type: ignore[arg-type]
            return found
        except BaseException:
            self.stop()
            raise
        finally:
            for batch in self.batches:
                batch.conn.close()

    def stop(self) -> None:
        """End every worker (their findings are not needed)."""
        for batch in self.batches:
            if batch.process.is_alive():
                batch.process.kill()
        for batch in self.batches:
            batch.process.join()
            batch.conn.close()


def _receive(conn: Connection) -> tuple[str, object]:
    try:
        return conn.recv()
    except EOFError:
        return ("error", RuntimeError("a validation worker process died"))


def run_units(job: UnitJob, units: int, schema_step: Callable[[], bool],
              workers: int | None, started: Batches | None = None) -> list[Finding] | None:
    """The units' findings, or None when the schema step refuses the file.

    `started`: processes already checking the first units (a streamed parse)."""
    if started is not None and started.batches:
        return started.finish(units, schema_step)
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
