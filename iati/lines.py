"""Exact source lines past 65535, where libxml2's line numbers become unreliable.

libxml2 stores an element's line in 16 bits; beyond line 65535 lxml's `sourceline` is an
estimate. For such elements the line is found again in the raw bytes: the unit (activity)
that holds the element is the k-th `<iati-activity` start tag, and the element is the n-th
start tag inside it. Only done for findings past that line, so valid files cost nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import accumulate

from lxml import etree

LIBXML_LINE_LIMIT = 65535
_BLOCK = 1 << 16  # bytes per block of the newline counts
_SKIP = rb"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>"
_START_TAG = re.compile(_SKIP + rb"|<([^\s/>!?]+)", re.DOTALL)


class LineMap:
    """Exact lines for elements of one parsed document, from its raw bytes."""

    def __init__(self, data: bytes, root: etree._Element, unit_tag: str) -> None:
        self._data = data
        self._root = root
        self._unit_tag = unit_tag
        self._usable = not data.startswith((b"\xff\xfe", b"\xfe\xff")) and b"\x00" not in data[:4]
        self._newlines: list[int] | None = None
        self._unit_offsets: list[int] | None = None
        self._unit_numbers: dict[etree._Element, int] | None = None

    def line(self, element: etree._Element) -> int | None:
        """The element's line: libxml2's when trustworthy, else recomputed from the bytes."""
        line = element.sourceline
        if line is not None and line < LIBXML_LINE_LIMIT or not self._usable:
            return line
        exact = self._locate(element)
        return exact if exact is not None else line

    def _locate(self, element: etree._Element) -> int | None:
        unit = element
        while unit is not None and unit.getparent() is not self._root:
            unit = unit.getparent()
        if unit is None or unit.tag != self._unit_tag:
            return None
        number = self._unit_number(unit)
        offsets = self._offsets()
        if number >= len(offsets):
            return None
        ordinal = next(i for i, node in enumerate(unit.iter()) if node is element)
        seen = -1
        for match in _START_TAG.finditer(self._data, offsets[number]):
            if match.group(1) is not None:
                seen += 1
                if seen == ordinal:
                    return self._line_at(match.start())
        return None

    def _unit_number(self, unit: etree._Element) -> int:
        if self._unit_numbers is None:
            self._unit_numbers = {u: i for i, u in
                                  enumerate(self._root.iterchildren(self._unit_tag))}
        return self._unit_numbers[unit]

    def _offsets(self) -> list[int]:
        if self._unit_offsets is None:
            tag = re.escape(self._unit_tag.encode())
            pattern = re.compile(_SKIP + rb"|<(" + tag + rb")[\s/>]", re.DOTALL)
            self._unit_offsets = [m.start() for m in pattern.finditer(self._data)
                                  if m.group(1) is not None]
        return self._unit_offsets

    def _line_at(self, offset: int) -> int:
        """1 + the newlines before `offset`: counted block by block once, then within the
        offset's block (bytes.count runs in C; no list of every newline)."""
        data = self._data
        if self._newlines is None:
            counts = (data.count(b"\n", start, start + _BLOCK)
                      for start in range(0, len(data), _BLOCK))
            self._newlines = list(accumulate(counts, initial=0))  # newlines before block k
        block = offset // _BLOCK
        return self._newlines[block] + data.count(b"\n", block * _BLOCK, offset) + 1


def plain_line(element: etree._Element) -> int | None:
    """libxml2's own line (for trees parsed without their bytes at hand)."""
    return element.sourceline


LineOf = Callable[[etree._Element], int | None]
