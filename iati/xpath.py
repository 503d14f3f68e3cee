"""XPath 1.0 compiled once to Python closures over lxml trees, with per-element child indexes.

Rulesets evaluate hundreds of small XPath expressions per activity. Calling libxml2 for each one
re-scans every child of the activity; here each element's children are indexed by tag once per
evaluation (`Env`), and the common subset of XPath (relative paths, predicates, comparisons,
count/not/sum/number/string functions) runs as plain Python. Anything outside that subset is
handed to lxml's own XPath engine, so every XPath 1.0 expression still evaluates correctly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from lxml import etree

XML_NS = "http://www.w3.org/XML/1998/namespace"
NAMESPACES = {"xml": XML_NS}
_ElementType = etree._Element


class XPathError(ValueError):
    """An expression that is not valid XPath."""


class _Leaf:
    """A node without children or attributes (duck-typed like an element for the steps)."""

    __slots__ = ()
    tag = None

    def get(self, name: str, default: Any = None) -> Any:
        return default

    def iterchildren(self, *args: Any, **kwargs: Any) -> tuple:
        return ()

    def iter(self, *args: Any, **kwargs: Any) -> tuple:
        return ()


class Attr(_Leaf):
    """An attribute node: its owner element, (Clark) name and value."""

    __slots__ = ("owner", "name", "value")

    def __init__(self, owner: etree._Element, name: str, value: str) -> None:
        self.owner, self.name, self.value = owner, name, value

    def getparent(self) -> etree._Element:
        return self.owner


class Text(_Leaf):
    """A text node: its parent element and text."""

    __slots__ = ("owner", "value")

    def __init__(self, owner: etree._Element, value: str) -> None:
        self.owner, self.value = owner, value

    def getparent(self) -> etree._Element:
        return self.owner


class Env:
    """Evaluation state: variables and the per-element child index (cleared with reset())."""

    __slots__ = ("variables", "line_of", "_index", "_desc")

    def __init__(self, variables: dict[str, Any] | None = None,
                 line_of: Callable[[Any], int | None] | None = None) -> None:
        self.variables = variables or {}
        self.line_of = line_of or (lambda element: element.sourceline)
        self._index: dict[etree._Element, dict[str, list]] = {}
        self._desc: dict[tuple[etree._Element, str], list] = {}

    def reset(self) -> None:
        """Forget the indexes (call between activities to keep memory flat)."""
        self._index.clear()
        self._desc.clear()

    @property
    def indexes(self) -> dict[etree._Element, dict[str, list]]:
        """The child indexes built so far, by element (what index() returns for them)."""
        return self._index

    def index(self, el: etree._Element) -> dict[str, list]:
        """Children of `el` grouped by tag, built once."""
        idx = self._index.get(el)  # not try/except: most calls build a new index
        if idx is not None:
            return idx
        idx = {}
        if isinstance(el, _Leaf):
            return idx
        for child in el[:]:  # a slice: cheaper than iterchildren(etree.Element)
            tag = child.tag
            if tag.__class__ is not str:  # a comment, processing instruction or entity
                continue
            group = idx.get(tag)
            if group is None:
                idx[tag] = [child]
            else:
                group.append(child)
        self._index[el] = idx
        return idx

    def named(self, el: etree._Element, tag: str) -> Iterable:
        """The children of `el` named `tag`, in order: from the index when it is built,
        else read directly (without indexing every child)."""
        idx = self._index.get(el)
        if idx is not None:
            return idx.get(tag, _EMPTY)
        if isinstance(el, _Leaf):
            return _EMPTY
        return [child for child in el[:] if child.tag == tag]  # cheaper than iterchildren

    def children(self, el: etree._Element, tag: str) -> list:
        try:
            return self._index[el].get(tag, _EMPTY)
        except KeyError:
            return self.index(el).get(tag, _EMPTY)

    def descendants_or_self(self, el: etree._Element, tag: str) -> list:
        """`el` itself when named `tag`, then its descendants named `tag`."""
        found = self.descendants(el, tag)
        return [el, *found] if el.tag == tag else found

    def prefetch(self, el: etree._Element, tags: tuple[str, ...]) -> None:
        """Find the descendants of `el` named each of `tags` in one walk (what descendants()
        would then find tag by tag)."""
        if not tags or isinstance(el, _Leaf):
            return
        found: dict[str, list] = {tag: [] for tag in tags}
        for node in el.iter(*tags):
            if node is not el:
                found[node.tag].append(node)
        for tag, nodes in found.items():
            self._desc[(el, tag)] = nodes

    def descendants(self, el: etree._Element, tag: str) -> list:
        """Descendant elements named `tag` (not `el` itself), in document order."""
        key = (el, tag)
        found = self._desc.get(key)
        if found is None:
            found = [d for d in el.iter(tag) if d is not el] if not isinstance(el, _Leaf) else []
            self._desc[key] = found
        return found


_EMPTY: list = []


def string_value(node: Any) -> str:
    """XPath string-value of a node."""
    if isinstance(node, (Attr, Text)):
        return node.value
    if len(node) == 0:
        return node.text or ""
    return "".join(node.itertext())


_NUMBER = re.compile(r"\s*(-?(?:\d+(?:\.\d*)?|\.\d+))\s*\Z")


def to_number(value: Any) -> float:
    """XPath number() of any value."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, float):
        return value
    if isinstance(value, list):
        value = string_value(value[0]) if value else ""
    if isinstance(value, (int,)):
        return float(value)
    return text_number(str(value))  # a plain str: the cache keeps no lxml "smart" string


@lru_cache(maxsize=16384)
def text_number(text: str) -> float:
    """XPath number() of a string (cached: amounts and percentages repeat)."""
    match = _NUMBER.match(text)
    return float(match.group(1)) if match else math.nan


def to_string(value: Any) -> str:
    """XPath string() of any value."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return str(int(value)) if value == int(value) else repr(value)
    if isinstance(value, list):
        return string_value(value[0]) if value else ""
    return str(value)


def to_boolean(value: Any) -> bool:
    """XPath boolean() of any value."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return not (value == 0 or math.isnan(value))
    return bool(value)


# --- tokenizer -------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<literal>"[^"]*"|'[^']*')
  | (?P<number>\d+(?:\.\d*)?|\.\d+)
  | (?P<op>//|::|\.\.|!=|<=|>=|[()\[\]@,/|+\-=<>*.$])
  | (?P<name>[A-Za-z_][\w.\-]*(?::(?:[A-Za-z_][\w.\-]*|\*))?)
""", re.VERBOSE)

_OPERATOR_NAMES = {"and", "or", "div", "mod"}
_NO_OPERATOR_BEFORE = {"@", "::", "(", "[", ",", "/", "//", "|", "+", "-", "=", "!=", "<",
                       "<=", ">", ">=", "and", "or", "div", "mod", "*op", "$"}


def tokenize(expr: str) -> list[tuple[str, str]]:
    """Tokens as (kind, text); kinds: literal number op name opname."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(expr):
        match = _TOKEN.match(expr, pos)
        if match is None:
            raise XPathError(f"unexpected character {expr[pos]!r} in {expr!r}")
        pos = match.end()
        kind = match.lastgroup
        text = match.group()
        if kind == "space":
            continue
        prev = tokens[-1] if tokens else None
        operand_before = prev is not None and not (
            prev[1] in _NO_OPERATOR_BEFORE and prev[0] in ("op", "opname"))
        if kind == "op" and text == "*" and operand_before:
            kind, text = "opname", "*op"
        elif kind == "name" and text in _OPERATOR_NAMES and operand_before:
            kind = "opname"
        tokens.append((kind, text))
    return tokens


# --- parser: tokens -> AST (tuples) ----------------------------------------------------------

class _UnsupportedError(Exception):
    """Valid XPath outside the compiled subset: lxml evaluates it instead."""


_AXES = {"child", "attribute", "self", "parent", "descendant", "descendant-or-self"}
_NODE_TESTS = {"text", "node"}


class _Parser:
    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.tokens = tokenize(expr)
        self.i = 0

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def take(self, text: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (text is not None and tok[1] != text):
            raise XPathError(f"expected {text or 'more'} in {self.expr!r}")
        self.i += 1
        return tok

    def at(self, *texts: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[1] in texts and tok[0] in ("op", "opname")

    def parse(self) -> tuple:
        node = self.or_expr()
        if self.peek() is not None:
            raise XPathError(f"unexpected {self.peek()[1]!r} in {self.expr!r}")
        return node

    def _binary(self, sub: Callable[[], tuple], ops: tuple[str, ...]) -> tuple:
        left = sub()
        while self.at(*ops):
            op = self.take()[1]
            left = ("binop", op, left, sub())
        return left

    def or_expr(self) -> tuple:
        return self._binary(self.and_expr, ("or",))

    def and_expr(self) -> tuple:
        return self._binary(self.eq_expr, ("and",))

    def eq_expr(self) -> tuple:
        return self._binary(self.rel_expr, ("=", "!="))

    def rel_expr(self) -> tuple:
        return self._binary(self.add_expr, ("<", "<=", ">", ">="))

    def add_expr(self) -> tuple:
        return self._binary(self.mul_expr, ("+", "-"))

    def mul_expr(self) -> tuple:
        return self._binary(self.unary_expr, ("*op", "div", "mod"))

    def unary_expr(self) -> tuple:
        if self.at("-"):
            self.take()
            return ("neg", self.unary_expr())
        return self.union_expr()

    def union_expr(self) -> tuple:
        parts = [self.path_expr()]
        while self.at("|"):
            self.take()
            parts.append(self.path_expr())
        return parts[0] if len(parts) == 1 else ("union", parts)

    def path_expr(self) -> tuple:
        tok = self.peek()
        if tok is None:
            raise XPathError(f"unexpected end of {self.expr!r}")
        kind, text = tok
        is_function = (kind == "name" and self.peek(1) == ("op", "(")
                       and text not in _NODE_TESTS)
        if kind in ("literal", "number") or (kind == "op" and text in ("(", "$")) or is_function:
            primary = self.primary()
            preds = self.predicates()
            if self.at("/", "//"):
                steps = self.relative_path()
                return ("filterpath", primary, preds, steps)
            return ("filter", primary, preds) if preds else primary
        if kind == "op" and text in ("/", "//"):
            raise _UnsupportedError("absolute path")
        return ("path", self.relative_path_first())

    def primary(self) -> tuple:
        kind, text = self.take()
        if kind == "literal":
            return ("literal", text[1:-1])
        if kind == "number":
            return ("number", float(text))
        if text == "(":
            inner = self.or_expr()
            self.take(")")
            return inner
        if text == "$":
            return ("var", self.take()[1])
        self.take("(")
        args = []
        if not self.at(")"):
            args.append(self.or_expr())
            while self.at(","):
                self.take()
                args.append(self.or_expr())
        self.take(")")
        return ("call", text, args)

    def predicates(self) -> list[tuple]:
        preds = []
        while self.at("["):
            self.take()
            preds.append(self.or_expr())
            self.take("]")
        return preds

    def relative_path_first(self) -> list[tuple]:
        steps = [self.step()]
        return self._more_steps(steps)

    def relative_path(self) -> list[tuple]:
        return self._more_steps([])

    def _more_steps(self, steps: list[tuple]) -> list[tuple]:
        while self.at("/", "//"):
            sep = self.take()[1]
            step = self.step()
            if sep == "//":
                if step[0] != "step" or step[1] != "child" or any(
                        _positional(p) for p in step[3]):
                    raise _UnsupportedError("// before a non-child step")
                step = ("step", "descendant", step[2], step[3])
            steps.append(step)
        return steps

    def step(self) -> tuple:
        if self.at("."):
            self.take()
            return ("step", "self", ("node",), [])
        if self.at(".."):
            self.take()
            return ("step", "parent", ("node",), [])
        axis = "child"
        if self.at("@"):
            self.take()
            axis = "attribute"
        elif self.peek() and self.peek()[0] == "name" and self.peek(1) == ("op", "::"):
            axis = self.take()[1]
            self.take("::")
            if axis not in _AXES:
                raise _UnsupportedError(f"axis {axis}")
        kind, text = self.take()
        if kind == "op" and text == "*":
            test: tuple = ("any",)
        elif kind == "name" and text in _NODE_TESTS and self.at("("):
            self.take("(")
            self.take(")")
            test = (text,)
        elif kind in ("name", "opname"):
            test = ("name", _clark(text))
        else:
            raise XPathError(f"unexpected {text!r} in {self.expr!r}")
        return ("step", axis, test, self.predicates())


def _clark(name: str) -> str:
    if ":" not in name:
        return name
    prefix, local = name.split(":", 1)
    if prefix != "xml":
        raise _UnsupportedError(f"namespace prefix {prefix}")
    return f"{{{XML_NS}}}{local}"


def _positional(pred: tuple) -> bool:
    """A predicate that may depend on position (numbers, position(), last())."""
    if pred[0] == "number":
        return True
    return "position" in repr(pred) or "last" in repr(pred)


# --- compiler: AST -> closures f(node, env, pos, size) ---------------------------------------

Fn = Callable[[Any, Env, int, int], Any]
Test = Callable[[Any, Env], bool]


def _attr_name(ast: tuple) -> str | None:
    """The attribute name when `ast` is a bare `@name` path, else None."""
    if ast[0] == "path" and len(ast[1]) == 1:
        _, axis, test, preds = ast[1][0]
        if axis == "attribute" and test[0] == "name" and not preds:
            return test[1]
    return None


def _child_name(ast: tuple) -> str | None:
    """The element name when `ast` is a bare `name` child path, else None."""
    if ast[0] == "path" and len(ast[1]) == 1:
        _, axis, test, preds = ast[1][0]
        if axis == "child" and test[0] == "name" and not preds:
            return test[1]
    return None


def _compile_test(ast: tuple) -> Test:
    """A boolean test on one node, with fast paths for attribute tests."""
    kind = ast[0]
    if kind == "binop" and ast[1] in ("or", "and"):
        left, right = _compile_test(ast[2]), _compile_test(ast[3])
        if ast[1] == "or":
            return lambda n, e: left(n, e) or right(n, e)
        return lambda n, e: left(n, e) and right(n, e)
    if kind == "binop" and ast[1] in ("=", "!="):
        fast = _attr_compare(ast[1], ast[2], ast[3])
        if fast is not None:
            return fast
    if kind == "call" and ast[1] == "not" and len(ast[2]) == 1:
        name = _attr_name(ast[2][0])
        if name is not None:
            return lambda n, e: n.get(name) is None
        child = _child_name(ast[2][0])
        if child is not None:
            return lambda n, e: not e.children(n, child)
        inner = _compile_test(ast[2][0])
        return lambda n, e: not inner(n, e)
    name = _attr_name(ast)
    if name is not None:
        return lambda n, e: n.get(name) is not None
    child = _child_name(ast)
    if child is not None:
        return lambda n, e: bool(e.children(n, child))
    fn = _compile(ast)
    return lambda n, e: to_boolean(fn(n, e, 1, 1))


def _attr_compare(op: str, left: tuple, right: tuple) -> Test | None:
    """`@a = 'x'`, `@a != 1`… as a direct attribute lookup (XPath node-set semantics)."""
    name, other = _attr_name(left), right
    if name is None:
        name, other = _attr_name(right), left
    if name is None or other[0] not in ("literal", "number"):
        return None
    value = other[1]
    if other[0] == "literal":
        if op == "=":
            return lambda n, e: n.get(name) == value
        return lambda n, e: (v := n.get(name)) is not None and v != value
    if op == "=":
        return lambda n, e: (v := n.get(name)) is not None and to_number(v) == value
    return lambda n, e: (v := n.get(name)) is not None and to_number(v) != value


def _compile(ast: tuple) -> Fn:
    kind = ast[0]
    if kind == "literal":
        value = ast[1]
        return lambda n, e, p, s: value
    if kind == "number":
        number = ast[1]
        return lambda n, e, p, s: number
    if kind == "var":
        name = ast[1]
        return lambda n, e, p, s: e.variables[name]
    if kind == "neg":
        inner = _compile(ast[1])
        return lambda n, e, p, s: -to_number(inner(n, e, p, s))
    if kind == "binop":
        if ast[1] in ("or", "and") or (ast[1] in ("=", "!=") and _attr_compare(
                ast[1], ast[2], ast[3]) is not None):
            test = _compile_test(ast)
            return lambda n, e, p, s: test(n, e)
        return _compile_binop(ast[1], _compile(ast[2]), _compile(ast[3]))
    if kind == "union":
        parts = [_compile(part) for part in ast[1]]

        def union(n: Any, e: Env, p: int, s: int) -> list:
            result: list = []
            for part in parts:
                value = part(n, e, p, s)
                if not isinstance(value, list):
                    raise XPathError("| joins node-sets only")
                result.extend(value)
            return _dedupe(result)
        return union
    if kind == "path":
        return _compile_steps(ast[1])
    if kind == "filter":
        primary = _compile(ast[1])
        preds = [_compile_predicate(p) for p in ast[2]]

        def filtered(n: Any, e: Env, p: int, s: int) -> list:
            nodes = primary(n, e, p, s)
            for pred in preds:
                nodes = pred(nodes, e)
            return nodes
        return filtered
    if kind == "filterpath":
        primary = _compile(("filter", ast[1], ast[2]) if ast[2] else ast[1])
        rest = _compile_steps(ast[3])

        def filterpath(n: Any, e: Env, p: int, s: int) -> list:
            out: list = []
            for node in primary(n, e, p, s):
                out.extend(rest(node, e, 1, 1))
            return _dedupe(out)
        return filterpath
    if kind == "call":
        return _compile_call(ast[1], ast[2])
    raise XPathError(f"cannot compile {kind}")


def _dedupe(nodes: list) -> list:
    seen: set = set()
    out = []
    for node in nodes:
        key = (id(node.owner), getattr(node, "name", None)) if isinstance(node, _Leaf) \
            else id(node)
        if key not in seen:
            seen.add(key)
            out.append(node)
    return out


def _compile_predicate(ast: tuple) -> Callable[[list, Env], list]:
    if ast[0] == "number":
        index = int(ast[1]) - 1 if ast[1] == int(ast[1]) else -1
        return lambda nodes, e: nodes[index:index + 1] if 0 <= index < len(nodes) else []
    if not _positional(ast):
        test = _compile_test(ast)
        return lambda nodes, e: [n for n in nodes if test(n, e)]
    value_of = _compile(ast)

    def predicate(nodes: list, e: Env) -> list:
        size = len(nodes)
        out = []
        for pos, node in enumerate(nodes, 1):
            value = value_of(node, e, pos, size)
            if isinstance(value, float):
                if value == pos:
                    out.append(node)
            elif to_boolean(value):
                out.append(node)
        return out
    return predicate


def _compile_step(step: tuple) -> Callable[[Any, Env], list]:
    _, axis, test, preds = step
    compiled_preds = [_compile_predicate(p) for p in preds]
    kind = test[0]
    if axis == "child":
        if kind == "name":
            tag = test[1]

            def select(n: Any, e: Env) -> list:
                return e.children(n, tag)
        elif kind == "any":
            def select(n: Any, e: Env) -> list:
                return [c for c in n.iterchildren(etree.Element)]
        elif kind == "text":
            def select(n: Any, e: Env) -> list:
                if isinstance(n, _Leaf):
                    return _EMPTY
                out = [Text(n, n.text)] if n.text else []
                out.extend(Text(n, c.tail) for c in n if c.tail)
                return out
        else:
            raise _UnsupportedError("child::node()")
    elif axis == "attribute":
        if kind == "name":
            name = test[1]

            def select(n: Any, e: Env) -> list:
                value = n.get(name)
                return _EMPTY if value is None else [Attr(n, name, value)]
        elif kind in ("any", "node"):
            def select(n: Any, e: Env) -> list:
                if isinstance(n, _Leaf):
                    return _EMPTY
                return [Attr(n, k, v) for k, v in n.attrib.items()]
        else:
            return lambda n, e: _EMPTY
    elif axis == "self":
        if kind == "node":
            def select(n: Any, e: Env) -> list:
                return [n]
        elif kind == "name":
            tag = test[1]

            def select(n: Any, e: Env) -> list:
                return [n] if n.tag == tag else _EMPTY
        else:
            raise _UnsupportedError("self axis test")
    elif axis == "parent":
        if kind not in ("node", "name"):
            raise _UnsupportedError("parent axis test")
        tag = test[1] if kind == "name" else None

        def select(n: Any, e: Env) -> list:
            parent = n.getparent()
            if parent is None or (tag is not None and parent.tag != tag):
                return _EMPTY
            return [parent]
    elif axis in ("descendant", "descendant-or-self"):
        if kind != "name":
            raise _UnsupportedError("descendant axis test")
        tag = test[1]
        include_self = axis == "descendant-or-self"

        def select(n: Any, e: Env) -> list:
            found = e.descendants(n, tag)
            if include_self and n.tag == tag:
                return [n, *found]
            return found
    else:  # pragma: no cover - filtered by the parser
        raise _UnsupportedError(axis)
    if not compiled_preds:
        return select
    if len(compiled_preds) == 1:
        only = compiled_preds[0]

        def select_one(n: Any, e: Env) -> list:
            nodes = select(n, e)
            return only(nodes, e) if nodes else nodes
        return select_one

    def select_filtered(n: Any, e: Env) -> list:
        nodes = select(n, e)
        for pred in compiled_preds:
            if not nodes:
                break
            nodes = pred(nodes, e)
        return nodes
    return select_filtered


def _compile_steps(steps: list[tuple]) -> Fn:
    selects = [_compile_step(s) for s in steps]
    needs_dedupe = any(s[1] in ("parent", "descendant", "descendant-or-self") for s in steps[1:])
    if len(selects) == 1:
        only = selects[0]
        return lambda n, e, p, s: only(n, e)
    first, rest = selects[0], selects[1:]

    def path(n: Any, e: Env, p: int, s: int) -> list:
        nodes = first(n, e)
        for select in rest:
            if not nodes:
                return _EMPTY
            if len(nodes) == 1:
                nodes = select(nodes[0], e)
            else:
                out: list = []
                for node in nodes:
                    out.extend(select(node, e))
                nodes = out
        return _dedupe(nodes) if needs_dedupe else nodes
    return path


def _compile_count(ast: tuple) -> Fn:
    """count(): a trailing bare @attribute step is counted without building nodes."""
    if ast[0] == "path" and len(ast[1]) > 1:
        _, axis, test, preds = ast[1][-1]
        if axis == "attribute" and test[0] == "name" and not preds:
            owners = _compile_steps(ast[1][:-1])
            name = test[1]
            return lambda n, e, p, s: float(sum(
                1 for o in owners(n, e, p, s) if o.get(name) is not None))
    arg = _compile(ast)
    return lambda n, e, p, s: float(len(arg(n, e, p, s)))


def _atomic_compare(op: str, a: Any, b: Any) -> bool:
    if op in ("=", "!="):
        if isinstance(a, bool) or isinstance(b, bool):
            a, b = to_boolean(a), to_boolean(b)
        elif isinstance(a, float) or isinstance(b, float):
            a, b = to_number(a), to_number(b)
        else:
            a, b = to_string(a), to_string(b)
        return (a == b) if op == "=" else (a != b)
    x, y = to_number(a), to_number(b)
    if op == "<":
        return x < y
    if op == "<=":
        return x <= y
    if op == ">":
        return x > y
    return x >= y


def compare(op: str, a: Any, b: Any) -> bool:
    """XPath 1.0 comparison, node-sets included (existential semantics)."""
    a_set, b_set = isinstance(a, list), isinstance(b, list)
    if a_set and b_set:
        right = [string_value(y) for y in b]
        return any(_atomic_compare(op, string_value(x), y) for x in a for y in right)
    if a_set or b_set:
        nodes, other = (a, b) if a_set else (b, a)
        if isinstance(other, bool):
            return _atomic_compare(op, to_boolean(a), to_boolean(b))
        if not a_set:  # keep operand order for < and >
            return any(_atomic_compare(op, other, _node_atom(x, other)) for x in nodes)
        return any(_atomic_compare(op, _node_atom(x, other), other) for x in nodes)
    return _atomic_compare(op, a, b)


def _node_atom(node: Any, other: Any) -> Any:
    text = string_value(node)
    return to_number(text) if isinstance(other, float) else text


def _compile_binop(op: str, left: Fn, right: Fn) -> Fn:
    if op in ("=", "!=", "<", "<=", ">", ">="):
        return lambda n, e, p, s: compare(op, left(n, e, p, s), right(n, e, p, s))
    if op == "+":
        return lambda n, e, p, s: to_number(left(n, e, p, s)) + to_number(right(n, e, p, s))
    if op == "-":
        return lambda n, e, p, s: to_number(left(n, e, p, s)) - to_number(right(n, e, p, s))
    if op == "*op":
        return lambda n, e, p, s: to_number(left(n, e, p, s)) * to_number(right(n, e, p, s))

    def arith(n: Any, e: Env, p: int, s: int) -> float:
        x, y = to_number(left(n, e, p, s)), to_number(right(n, e, p, s))
        if op == "mod":
            return math.fmod(x, y) if y != 0 else math.nan
        if y == 0:
            if x == 0 or math.isnan(x):
                return math.nan
            return math.copysign(math.inf, x) * math.copysign(1.0, y)
        return x / y
    return arith


def _round(x: float) -> float:
    if math.isnan(x) or math.isinf(x):
        return x
    return float(math.floor(x + 0.5))


def _substring(text: str, start: float, length: float | None = None) -> str:
    first = _round(start)
    last = math.inf if length is None else first + _round(length)
    chars = [c for i, c in enumerate(text, 1) if first <= i < last]
    return "".join(chars)


_STRING_FUNCS: dict[str, Callable[..., Any]] = {
    "concat": lambda *a: "".join(to_string(x) for x in a),
    "contains": lambda a, b: to_string(b) in to_string(a),
    "starts-with": lambda a, b: to_string(a).startswith(to_string(b)),
    "string-length": lambda a: float(len(to_string(a))),
    "normalize-space": lambda a: " ".join(to_string(a).split()),
    "translate": lambda a, b, c: to_string(a).translate(
        {ord(ch): (to_string(c)[i] if i < len(to_string(c)) else None)
         for i, ch in reversed(list(enumerate(to_string(b))))}),
    "substring": lambda a, b, c=None: _substring(
        to_string(a), to_number(b), None if c is None else to_number(c)),
    "substring-before": lambda a, b: to_string(a).partition(to_string(b))[0]
    if to_string(b) in to_string(a) else "",
    "substring-after": lambda a, b: to_string(a).partition(to_string(b))[2]
    if to_string(b) in to_string(a) else "",
    "floor": lambda a: float(math.floor(to_number(a))) if math.isfinite(to_number(a))
    else to_number(a),
    "ceiling": lambda a: float(math.ceil(to_number(a))) if math.isfinite(to_number(a))
    else to_number(a),
    "round": lambda a: _round(to_number(a)),
}


def _compile_call(name: str, arg_asts: list[tuple]) -> Fn:
    arity = len(arg_asts)
    if name == "count" and arity == 1:
        return _compile_count(arg_asts[0])
    if name in ("not", "boolean") and arity == 1:
        test = _compile_test(("call", name, arg_asts) if name == "not" else arg_asts[0])
        return lambda n, e, p, s: test(n, e)
    args = [_compile(a) for a in arg_asts]
    if name in ("true", "false") and arity == 0:
        value = name == "true"
        return lambda n, e, p, s: value
    if name == "number":
        if arity == 0:
            return lambda n, e, p, s: to_number(string_value(n))
        arg = args[0]
        return lambda n, e, p, s: to_number(arg(n, e, p, s))
    if name == "string":
        if arity == 0:
            return lambda n, e, p, s: string_value(n)
        arg = args[0]
        return lambda n, e, p, s: to_string(arg(n, e, p, s))
    if name == "sum" and arity == 1:
        arg = args[0]
        return lambda n, e, p, s: float(sum(to_number(string_value(x)) for x in arg(n, e, p, s)))
    if name == "position" and arity == 0:
        return lambda n, e, p, s: float(p)
    if name == "last" and arity == 0:
        return lambda n, e, p, s: float(s)
    if name in ("name", "local-name") and arity == 0:
        def node_name(n: Any, e: Env, p: int, s: int) -> str:
            tag = n.name if isinstance(n, Attr) else getattr(n, "tag", "")
            if not isinstance(tag, str):
                return ""
            local = tag.rsplit("}", 1)[-1]
            if name == "name" and tag.startswith(f"{{{XML_NS}}}"):
                return f"xml:{local}"
            return local
        return node_name
    func = _STRING_FUNCS.get(name)
    if func is not None:
        if name in ("string-length", "normalize-space") and arity == 0:
            return lambda n, e, p, s: func(string_value(n))
        return lambda n, e, p, s: func(*(a(n, e, p, s) for a in args))
    raise _UnsupportedError(f"function {name}()")


# --- public API ------------------------------------------------------------------------------

class Expr:
    """A compiled XPath expression; evaluate with a context element and an Env."""

    __slots__ = ("source", "_fn", "_test", "native")

    def __init__(self, source: str) -> None:
        self.source = source
        self.native = False
        try:
            ast = _Parser(source).parse()
            self._fn = _compile(ast)
            self._test = _compile_test(ast)
        except _UnsupportedError:
            self.native = True
            self._fn = _native(source)
            native = self._fn
            self._test = lambda n, e: to_boolean(native(n, e, 1, 1))

    def evaluate(self, node: Any, env: Env) -> Any:
        return self._fn(node, env, 1, 1)

    def nodes(self, node: Any, env: Env) -> list:
        value = self._fn(node, env, 1, 1)
        if value.__class__ is not list:
            raise XPathError(f"{self.source!r} does not select nodes")
        return value

    def boolean(self, node: Any, env: Env) -> bool:
        return self._test(node, env)

    def __repr__(self) -> str:
        return f"Expr({self.source!r})"


def _native(source: str) -> Fn:
    """lxml's XPath engine for what the compiled subset does not cover."""
    try:
        xpath = etree.XPath(source, namespaces=NAMESPACES)
    except etree.XPathSyntaxError as exc:
        raise XPathError(f"invalid XPath {source!r}: {exc}") from exc

    def run(n: Any, e: Env, p: int, s: int) -> Any:
        if not isinstance(n, _ElementType):
            raise XPathError(f"{source!r} needs an element as context")
        try:
            value = xpath(n, **e.variables)
        except etree.XPathEvalError as exc:
            raise XPathError(f"cannot evaluate {source!r}: {exc}") from exc
        if isinstance(value, list):
            return [_from_lxml(v) for v in value]
        if isinstance(value, bool | float):
            return value
        return str(value)
    return run


def _from_lxml(item: Any) -> Any:
    if isinstance(item, _ElementType):
        return item
    if isinstance(item, str) and hasattr(item, "getparent"):
        parent = item.getparent()
        if item.is_attribute:
            return Attr(parent, item.attrname, str(item))
        return Text(parent, str(item))
    return item


@lru_cache(maxsize=4096)
def compile_xpath(source: str) -> Expr:
    """Compile once (cached); raise XPathError on invalid syntax."""
    return Expr(source)


# --- static analysis -------------------------------------------------------------------------

Needs = frozenset[str] | None


def required_children(source: str) -> Needs:
    """Child tags one of which must exist for `source` to be true (or non-empty).

    None when no such guarantee can be derived. Used to skip rules that cannot fail on an
    element lacking all these children; every derivation below is sound for XPath 1.0.
    """
    try:
        return _needs(_Parser(source).parse())
    except (_UnsupportedError, XPathError):
        return None


def _merge(*needs: Needs) -> Needs:
    if any(n is None for n in needs):
        return None
    return frozenset().union(*needs)


def _needs(ast: tuple) -> Needs:
    kind = ast[0]
    if kind == "path":
        _, axis, test, _preds = ast[1][0]
        return frozenset([test[1]]) if axis == "child" and test[0] == "name" else None
    if kind == "union":
        return _merge(*(_needs(part) for part in ast[1]))
    if kind == "call" and ast[1] == "boolean" and len(ast[2]) == 1:
        return _needs(ast[2][0])
    if kind != "binop":
        return None
    op, left, right = ast[1], ast[2], ast[3]
    if op == "and":
        candidates = [n for n in (_needs(left), _needs(right)) if n is not None]
        return min(candidates, key=len) if candidates else None
    if op == "or":
        return _merge(_needs(left), _needs(right))
    if op in ("=", "!=", "<", "<=", ">", ">="):
        for nodes, other in ((left, right), (right, left)):
            if nodes[0] == "path" and other[0] in ("literal", "number"):
                return _needs(nodes)  # node-set comparisons are false on an empty set
        if op in ("<", ">", ">=", "<=", "=") and right[0] == "number":
            return _positive(left, op, right[1])
        if op in ("<", ">", ">=", "<=", "=") and left[0] == "number":
            flipped = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "="}[op]
            return _positive(right, flipped, left[1])
    return None


def _positive(ast: tuple, op: str, number: float) -> Needs:
    """Needs of `counts OP number` when it implies that some count is above zero."""
    implies_positive = (op == ">" and number >= 0) or (op in (">=", "=") and number > 0)
    return _count_needs(ast) if implies_positive else None


def _count_needs(ast: tuple) -> Needs:
    if ast[0] == "call" and ast[1] == "count" and len(ast[2]) == 1:
        return _needs(ast[2][0])
    if ast[0] == "binop" and ast[1] == "+":
        return _merge(_count_needs(ast[2]), _count_needs(ast[3]))
    return None


def parse_xpath(source: str) -> tuple | None:
    """The AST of an expression in the compiled subset; None when lxml must evaluate it."""
    try:
        return _Parser(source).parse()
    except _UnsupportedError:
        return None


def is_positional(predicate: tuple) -> bool:
    """A predicate whose value may depend on the position (numbers, position(), last())."""
    return _positional(predicate)


STRING_FUNCTIONS = _STRING_FUNCS
