"""Check the activities of a large file in several processes, next to the XSD step.

Each activity is checked on its own (codelists and rulesets), so a file splits into ranges
of activities. On Linux the worker processes are forked from the parsed tree: they read it
without copying it, and send back only their findings. Meanwhile the parent validates the
XSD; if that refuses the file, the workers' findings are dropped.

Given the file's bytes (validate_bytes), the workers are forked before anything is parsed
(`Shares`): each parses only the beginning of the file, up to the end of its share of the
activities, and checks that share on its own tree, while the parent parses the whole file,
runs the XSD step and checks the last share. Nothing is shared after the fork, so no page of
the tree is copied on write (touching every element of a shared tree, as lxml does when it
creates its proxies, costs about as much as a third of the checking); the price is parsing
the beginning of the file twice.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from itertools import islice
from multiprocessing.connection import Connection
from typing import TypeVar

from lxml import etree

from iati.codelists import CodelistChecker
from iati.findings import Finding
from iati.lines import LineOf
from iati.rulesets import UNITS, IdSets, Ruleset
from iati.xpath import Env

T = TypeVar("T")
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


def _without_gc(check: Callable[..., T], *args: object) -> T:
    """Run with the cycle collector paused: checking creates no cycles, only short-lived
    objects, and the collector would otherwise rescan the whole tree's proxies again and
    again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return check(*args)
    finally:
        if enabled:
            gc.enable()


def worker_count(requested: int | None, units: int) -> int:
    """How many processes: as asked, else one per idle CPU (at most 8) for large files."""
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
    return max(1, min(idle_cpus(cpus), MAX_WORKERS))


def idle_cpus(cpus: int) -> int:
    """CPUs the other processes leave to this one right now: the machine's idle time over a
    short look (/proc/stat), else the 1-minute load average (which counts this process too
    and lags a minute behind). A worker on a CPU that is busy anyway only adds the cost of
    sharing the file out: on a loaded machine, one process finishes first."""
    idle = sampled_idle(IDLE_SAMPLE_S)
    if idle is None:
        try:
            idle = cpus - max(0.0, os.getloadavg()[0] - 1)
        except OSError:  # pragma: no cover - no load average on this system
            return cpus
    return max(1, min(cpus, int(idle + 0.5)))


IDLE_SAMPLE_S = 0.03  # a look at the CPUs' idle time: about 1 % of a large file's validation


def sampled_idle(seconds: float) -> float | None:
    """How many CPUs were idle (in CPUs, fractional) over the next `seconds`, from the
    kernel's counters in /proc/stat; None where there are none."""
    before = _cpu_ticks()
    if before is None:
        return None
    time.sleep(seconds)
    after = _cpu_ticks()
    if after is None or after[1] <= before[1]:
        return None
    idle, total = after[0] - before[0], after[1] - before[1]
    return idle / total * (os.cpu_count() or 1)  # the first line adds up every online CPU


def _cpu_ticks() -> tuple[int, int] | None:
    """(idle, total) ticks of all CPUs since boot: the first line of /proc/stat."""
    try:
        with open("/proc/stat", "rb") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != b"cpu" or len(fields) < 5:
        return None
    ticks = [int(value) for value in fields[1:9]]  # user ... steal (guest is inside user)
    return ticks[3] + ticks[4], sum(ticks)  # idle + iowait


def fork_available() -> bool:
    """Whether worker processes may be forked here."""
    return "fork" in multiprocessing.get_all_start_methods()


def split_processes(requested: int | None) -> int:
    """Processes (the parent included) that validate_bytes may share a file out to."""
    if requested is not None:
        return max(1, requested) if fork_available() else 1
    if not fork_available() or threading.active_count() > 1:
        return 1
    return worker_count(None, PARALLEL_FROM)


# Costs relative to parsing the whole file (measured on the synthetic portfolio with
# bench/iati): checking codelists and rules takes about twice as long as parsing; what only
# the parent does (the XSD step, then duplicates, sorting, freeing the tree) about 0.45.
CHECK_PER_PARSE = 2.0
PARENT_PER_PARSE = 0.45


def split_points(size: int, processes: int) -> list[int]:
    """Byte offsets ending the share of each of `processes - 1` workers.

    Worker w parses the file up to its offset and checks the units completed since the
    previous one; the parent parses everything, runs the XSD step and checks the units after
    the last offset. With parse cost 1 for the whole file, worker w takes B_w + c (B_w -
    B_w-1) and the parent 1 + x + c (1 - B_last): the offsets make these equal.
    """
    c, x = CHECK_PER_PARSE, PARENT_PER_PARSE
    ratios = []
    a = 0.0
    for _ in range(processes - 1):
        a = (1 + c * a) / (1 + c)  # B_w = a_w * T
        ratios.append(a)
    if not ratios:
        return []
    share = (1 + x + c) / (1 + c * ratios[-1])  # T
    points = sorted({min(size, int(size * r * share)) for r in ratios})
    return [p for p in points if 0 < p < size]


def _run_and_send(work: Callable[[], object], conn: Connection) -> None:
    """In a forked worker: run `work` with the cycle collector paused, send its result (or
    its exception) to the parent."""
    try:
        conn.send(("ok", _without_gc(work)))
    except BaseException as exc:  # noqa: BLE001 - handed to the parent, which raises it
        try:
            conn.send(("error", exc))
        except Exception:  # noqa: BLE001 - an exception that does not pickle
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()


class Forked:
    """One forked process computing `work()`; its result is read back through a pipe."""

    def __init__(self, work: Callable[[], object]) -> None:
        receiver, sender = multiprocessing.Pipe(duplex=False)
        self.process = multiprocessing.get_context("fork").Process(
            target=_run_and_send, args=(work, sender), daemon=True)
        self.process.start()
        sender.close()  # the worker holds the only sending end: EOF when it dies
        self.conn = receiver

    def result(self) -> object:
        """Wait for the result; the worker's exception is raised here."""
        try:
            status, payload = self.conn.recv()
        except EOFError:
            status, payload = "error", RuntimeError("a validation worker process died")
        finally:
            self.conn.close()
            self.process.join()
        if status != "ok":
            raise payload  # type: ignore[misc]
        return payload

    def stop(self) -> None:
        """End the worker (its result is not needed)."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()


@dataclass
class Shares:
    """Workers started before the parse, each checking one range of units (`ranges[w]`, as
    the parent counted them; None: worker w's result cannot be used)."""

    workers: list[Forked]
    ranges: list[tuple[int, int] | None]
    own_start: int  # the parent checks units own_start..end

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()

    def finish(self, job: UnitJob, units: int,
               schema_step: Callable[[], bool]) -> list[Finding] | None:
        """The schema step, then the parent's own units, then the workers' findings, in unit
        order; None when the schema step refuses the file. A range a worker could not check
        as the parent counted it is checked here."""
        try:
            if not schema_step():
                self.stop()
                return None
            own = _without_gc(job.check, self.own_start, units)
            found: list[Finding] = []
            for worker, bounds in zip(self.workers, self.ranges, strict=True):
                result = worker.result()
                if bounds is None:
                    continue
                if isinstance(result, tuple) and result[0] == bounds:
                    found.extend(result[1])
                else:  # the worker saw another file structure: check the range here
                    found.extend(_without_gc(job.check, *bounds))
            return found + own
        except BaseException:
            self.stop()
            raise


def run_units(job: UnitJob, units: int, schema_step: Callable[[], bool],
              workers: int | None, shares: Shares | None = None) -> list[Finding] | None:
    """The units' findings, or None when the schema step refuses the file.

    `shares`: workers started before the parse, checking the first units (validate_bytes)."""
    if shares is not None:
        return shares.finish(job, units, schema_step)
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
