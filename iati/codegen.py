"""Turn the cases of one ruleset context into one Python function (the fast engine).

The reference engine (iati.rulesets) walks a tree of small closures for every XPath of every
case. Here the XPaths of all the cases of a context become plain Python expressions inside a
single generated function: child steps read the per-element index, attribute tests become
dictionary lookups, and a path used by several cases is computed once per element. Rules are
tested first on the string values their XPaths select (the `*_holds` functions of
iati.checks); nodes are built only when a rule fails. What the rules mean stays in
iati.checks, shared with the reference engine; anything this generator does not cover is
handed back to the reference engine for that case.

Only names and literals from the ruleset reach the generated source, always through repr().
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from iati import checks
from iati.xpath import (
    _EMPTY,
    STRING_FUNCTIONS,
    Attr,
    Text,
    compare,
    compile_xpath,
    is_positional,
    parse_xpath,
    string_value,
    text_number,
    to_boolean,
    to_number,
    to_string,
)

_SENTINEL = object()


class NotGenerated(Exception):  # noqa: N818 - a signal, not an error
    """This case uses something the generator does not cover: the reference engine runs it."""


def _texts(element: Any) -> list:
    if isinstance(element, (Attr, Text)):
        return []
    out = [Text(element, element.text)] if element.text else []
    out.extend(Text(element, child.tail) for child in element if child.tail)
    return out


def _dedupe(nodes: list) -> list:
    seen: set = set()
    out = []
    for node in nodes:
        key = (id(node.owner), getattr(node, "name", None)) if isinstance(node, (Attr, Text)) \
            else id(node)
        if key not in seen:
            seen.add(key)
            out.append(node)
    return out


def _arith(op: str, left: Any, right: Any) -> float:
    x, y = to_number(left), to_number(right)
    if op == "mod":
        return float("nan") if y == 0 else __import__("math").fmod(x, y)
    if y == 0:
        return float("nan") if x == 0 or x != x else (float("inf") if (x > 0) == (
            str(y)[0] != "-") else float("-inf"))
    return x / y


def _has_text(element: Any) -> bool:
    """Whether TEXTS(element) is non-empty, without building the text nodes."""
    if isinstance(element, (Attr, Text)):
        return False
    if element.text:
        return True
    return any(child.tail for child in element)


BASE_NAMESPACE: dict[str, Any] = {
    "_U": _SENTINEL, "_E": _EMPTY, "ATTR": Attr, "TEXTS": _texts, "HAS_TEXT": _has_text,
    "NUM": to_number, "TNUM": text_number, "STR": to_string,
    "SV": string_value, "B": to_boolean, "CMP": compare, "DEDUPE": _dedupe, "ARITH": _arith,
    "SUM": lambda nodes: float(sum(to_number(string_value(n)) for n in nodes)),
    "FN": STRING_FUNCTIONS, "K": checks,
}


class _Source:
    """Lines of generated code, with indentation."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 1

    def add(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)


class Generator:
    """Generates the function of one context; `consts` holds the objects it refers to."""

    def __init__(self, bind_el: frozenset[str] = frozenset(),
                 shared: frozenset[str] = frozenset()) -> None:
        self.consts: dict[str, Any] = {}
        self.cse: dict[str, str] = {}
        self.cse_code: dict[str, str] = {}
        self.cse_deps: dict[str, list[str]] = {}  # the shared paths a path is computed from
        self.shared = shared  # paths (reprs) to compute once when longer paths start with them
        self.path_uses: Counter[str] = Counter()  # distinct paths on `el` and their beginnings
        self.counter = 0
        self.prelude: list[str] = []
        self.eager_index = False  # `I` is built on entry (else when first needed)
        self.bound: dict[tuple[str, str], str] = {}  # (node variable, attribute): variable
        self.el_reads: Counter[str] = Counter()  # attributes of `el` read, by name
        self.bind_el = bind_el  # attributes of `el` read once per element, on entry
        self.el_vars: dict[str, str] = {}
        self.patterns: dict[str, str] = {}  # a case's regex: its compiled constant

    def read(self, v: str, name: str) -> str:
        """Code for the value of attribute `name` of node variable `v` (None when absent):
        a variable when the attribute is read once for several tests."""
        bound = self.bound.get((v, name))
        if bound is not None:
            return bound
        if v == "el":
            self.el_reads[name] += 1
            if name in self.bind_el:
                return self.el_vars.setdefault(name, f"_a{len(self.el_vars)}")
        return f"{v}.get({name!r})"

    def const(self, value: Any) -> str:
        name = f"_k{len(self.consts)}"
        self.consts[name] = value
        return name

    def pattern(self, regex: str) -> str:
        """The constant holding `regex` compiled, once however many tests use it."""
        if regex not in self.patterns:
            self.patterns[regex] = self.const(re.compile(regex))
        return self.patterns[regex]

    def number(self, value: float) -> str:
        """Code for a number: its literal, or a constant for NaN and infinities (no literal)."""
        return repr(value) if math.isfinite(value) else self.const(value)

    def temp(self) -> str:
        self.counter += 1
        return f"_t{self.counter}"

    # -- expressions -------------------------------------------------------------------------

    def top(self, source: str) -> tuple[str, str]:
        """Code and kind of a case's XPath, evaluated on the context element `el`."""
        ast = parse_xpath(source)
        if ast is None:
            fn = compile_xpath(source)
            return f"{self.const(fn)}.evaluate(el, env)", "any"
        return self.expr(ast, "el")

    def top_nodes(self, source: str) -> str:
        code, kind = self.top(source)
        if kind == "nodes":
            return code
        return f"{self.const(compile_xpath(source))}.nodes(el, env)"

    def top_exists(self, source: str) -> str:
        """Code for "the XPath selects at least one node" on `el`, without building the
        node list when the path allows it (a list otherwise, as top_nodes)."""
        ast = parse_xpath(source)
        if ast is not None and ast[0] == "path":
            fast = self.exists(ast[1])
            if fast is not None:
                return fast
        return f"bool({self.top_nodes(source)})"

    def exists(self, steps: list[tuple]) -> str | None:
        """Existence of a relative path on `el`: one child step (optionally followed by
        text()), child steps without predicates, or one bare attribute; None for anything
        else."""
        first = steps[0]
        if len(steps) == 1 and _bare_attribute(first):
            return f"({self.read('el', first[2][1])} is not None)"
        if first[1] != "child" or first[2][0] != "name" or first[3]:
            return None
        tag = first[2][1]
        if len(steps) == 1:
            self.prelude.append("I")
            return f"({tag!r} in I)"
        second = steps[1]
        if len(steps) == 2 and second[1] == "child" and second[2][0] == "text" and \
                not second[3]:
            n = self.temp()  # no index needed: the children named `tag`, read directly
            return f"any(HAS_TEXT({n}) for {n} in NAMED(el, {tag!r}))"
        if repr(steps) not in self.cse and all(
                step[1] == "child" and step[2][0] == "name" and not step[3] for step in steps):
            n = self.temp()  # stops at the first owner of a child named so
            self.prelude.append("I")
            return (f"any({steps[-1][2][1]!r} in (IX.get({n}) or INDEX({n})) "
                    f"for {n} in {self._path_code(steps[:-1], 'el')})")
        return None

    def values(self, source: str) -> str:
        """Code for the string values of the nodes an XPath selects on `el`, in order (what
        string_value gives for each node of top_nodes), without building Attr or Text nodes."""
        ast = parse_xpath(source)
        if ast is not None and ast[0] == "path":
            return self.path(ast[1], "el", values=True)
        return f"[SV(_n) for _n in {self.top_nodes(source)}]"

    def top_test(self, source: str) -> str:
        ast = parse_xpath(source)
        if ast is None:
            return f"{self.const(compile_xpath(source))}.boolean(el, env)"
        return self.test(ast, "el")

    def expr(self, ast: tuple, v: str) -> tuple[str, str]:
        kind = ast[0]
        if kind == "literal":
            return repr(ast[1]), "str"
        if kind == "number":
            return repr(float(ast[1])), "num"
        if kind == "var":
            return f"env.variables[{ast[1]!r}]", "any"
        if kind == "neg":
            return f"(-NUM({self.expr(ast[1], v)[0]}))", "num"
        if kind == "binop":
            return self.binop(ast, v)
        if kind == "union":
            parts = [self.expr(part, v) for part in ast[1]]
            if any(k != "nodes" for _, k in parts):
                raise NotGenerated("union of non node-sets")
            return "DEDUPE([" + ", ".join(f"*{code}" for code, _ in parts) + "])", "nodes"
        if kind == "path":
            return self.path(ast[1], v), "nodes"
        if kind == "call":
            return self.call(ast[1], ast[2], v)
        raise NotGenerated(kind)

    def binop(self, ast: tuple, v: str) -> tuple[str, str]:
        op, left, right = ast[1], ast[2], ast[3]
        if op in ("and", "or") or (op in ("=", "!=") and self.attr_compare(op, left, right, v)):
            return self.test(ast, v), "bool"
        if op in ("+", "-", "*op"):
            sign = "*" if op == "*op" else op
            return (f"(NUM({self.expr(left, v)[0]}) {sign} NUM({self.expr(right, v)[0]}))",
                    "num")
        if op in ("div", "mod"):
            return f"ARITH({op!r}, {self.expr(left, v)[0]}, {self.expr(right, v)[0]})", "num"
        fast = self.values_compare(op, left, right, v)
        if fast is not None:
            return fast, "bool"
        (lcode, lkind), (rcode, rkind) = self.expr(left, v), self.expr(right, v)
        if lkind == "num" and rkind == "num":
            python = {"=": "==", "!=": "!="}.get(op, op)
            return f"({lcode} {python} {rcode})", "bool"
        return f"CMP({op!r}, {lcode}, {rcode})", "bool"

    def values_compare(self, op: str, left: tuple, right: tuple, v: str) -> str | None:
        """A path compared with a number (or, for = and !=, a string literal): XPath's
        comparison of a node-set, on its nodes' string values; None for other operands."""
        on_left = left[0] == "path"
        path, other = (left, right) if on_left else (right, left)
        if path[0] != "path" or not (other[0] == "number" or (
                other[0] == "literal" and op in ("=", "!="))):
            return None
        values = self.path(path[1], v, values=True)
        if ":=" in values:  # not allowed in a comprehension's iterable: CMP compares it
            return None
        x = self.temp()
        python = {"=": "==", "!=": "!="}.get(op, op)
        item, constant = (f"TNUM({x})", self.number(float(other[1]))) if other[0] == "number" else \
            (x, repr(other[1]))
        test = f"{item} {python} {constant}" if on_left else f"{constant} {python} {item}"
        return f"any({test} for {x} in {values})"

    def attr_compare(self, op: str, left: tuple, right: tuple, v: str) -> str | None:
        name, other = _attr_name(left), right
        if name is None:
            name, other = _attr_name(right), left
        if name is None or other[0] not in ("literal", "number"):
            return None
        if other[0] == "literal":
            if op == "=":
                return f"({self.read(v, name)} == {other[1]!r})"
            t = self.temp()
            return f"(({t} := {self.read(v, name)}) is not None and {t} != {other[1]!r})"
        t = self.temp()
        python = "==" if op == "=" else "!="
        return f"(({t} := {self.read(v, name)}) is not None and NUM({t}) {python} " \
               f"{self.number(float(other[1]))})"

    def test(self, ast: tuple, v: str) -> str:
        """Python code for XPath boolean(ast) on node variable `v`."""
        kind = ast[0]
        if kind == "binop" and ast[1] in ("and", "or"):
            return f"({self.test(ast[2], v)} {ast[1]} {self.test(ast[3], v)})"
        if kind == "binop" and ast[1] in ("=", "!="):
            fast = self.attr_compare(ast[1], ast[2], ast[3], v)
            if fast is not None:
                return fast
        if kind == "call" and ast[1] == "not" and len(ast[2]) == 1:
            inner = ast[2][0]
            name = _attr_name(inner)
            if name is not None:
                return f"({self.read(v, name)} is None)"
            return f"(not {self.test(inner, v)})"
        if kind == "call" and ast[1] == "boolean" and len(ast[2]) == 1:
            return self.test(ast[2][0], v)
        name = _attr_name(ast)
        if name is not None:
            return f"({self.read(v, name)} is not None)"
        if kind == "path":
            fast = self.exists(ast[1]) if v == "el" else _child_exists(ast[1], v)
            if fast is not None:
                return fast
        code, value_kind = self.expr(ast, v)
        if value_kind == "bool":
            return code
        if value_kind == "nodes":
            return f"bool({code})"
        return f"B({code})"

    def call(self, name: str, args: list[tuple], v: str) -> tuple[str, str]:
        arity = len(args)
        if name == "count" and arity == 1:
            arg = args[0]
            if arg[0] == "path" and len(arg[1]) > 1 and _bare_attribute(arg[1][-1]):
                owners = self.path(arg[1][:-1], v)
                attr = arg[1][-1][2][1]
                n = self.temp()
                return f"float(sum(1 for {n} in {owners} if {n}.get({attr!r}) is not None))", \
                    "num"
            code, kind = self.expr(arg, v)
            if kind != "nodes":
                raise NotGenerated("count of a non node-set")
            return f"float(len({code}))", "num"
        if name in ("not", "boolean") and arity == 1:
            return self.test(("call", name, args), v), "bool"
        if name in ("true", "false") and arity == 0:
            return ("True" if name == "true" else "False"), "bool"
        if name == "number":
            return (f"NUM({self.expr(args[0], v)[0]})" if arity else f"NUM(SV({v}))"), "num"
        if name == "string":
            return (f"STR({self.expr(args[0], v)[0]})" if arity else f"SV({v})"), "str"
        if name == "sum" and arity == 1:
            code, kind = self.expr(args[0], v)
            if kind != "nodes":
                raise NotGenerated("sum of a non node-set")
            return f"SUM({code})", "num"
        if name in STRING_FUNCTIONS and arity:
            codes = ", ".join(self.expr(a, v)[0] for a in args)
            kind = "num" if name in ("string-length", "floor", "ceiling", "round") else \
                "bool" if name in ("contains", "starts-with") else "str"
            return f"FN[{name!r}]({codes})", kind
        raise NotGenerated(f"function {name}")

    def path(self, steps: list[tuple], v: str, values: bool = False) -> str:
        """A comprehension over the child index (of the nodes' string values with `values`);
        paths on `el` are computed once (CSE)."""
        key = f"values {steps!r}" if values else repr(steps)
        if v == "el" and key in self.cse:
            self._use(self.cse[key])
            return self.cse[key]
        if v != "el":
            return self._path_code(steps, v, values)
        for size in range(1, len(steps) + 1):
            self.path_uses[repr(steps[:size])] += 1
        start, deps = None, []
        for size in range(len(steps) - 1, 0, -1):  # the longest shared beginning, if any
            if repr(steps[:size]) in self.shared and (size > 1 or steps[0][3]) and all(
                    step[1] in ("child", "attribute") for step in steps[size:]):
                start = self.path(steps[:size], "el")
                deps = [start]
                steps = steps[size:]
                break
        code = self._path_code(steps, v, values, start)
        name = f"_c{len(self.cse)}"
        self.cse[key] = name
        self.cse_code[name] = code
        self.cse_deps[name] = deps
        self.prelude.append(name)
        return name

    def _use(self, name: str) -> None:
        """Mark a shared path (and those it is computed from) as needed by the statement."""
        for dep in self.cse_deps.get(name, ()):
            self._use(dep)
        self.prelude.append(name)

    def _uses_index(self, code: str) -> bool:
        return re.search(r"\bI\b", code) is not None

    def _path_code(self, steps: list[tuple], v: str, values: bool = False,
                   start: str | None = None) -> str:
        """The path from `v`, or from each node of the list `start` when given."""
        if values and v == "el" and start is None and len(steps) == 1 and \
                _bare_attribute(steps[0]):
            value = self.temp()  # no comprehension for one attribute of the context element
            read = self.read(v, steps[0][2][1])
            return f"(() if ({value} := {read}) is None else ({value},))"
        parts: list[str] = []
        current, item = v, v
        if start is not None:
            current = item = self.temp()
            parts.append(f"for {current} in {start}")
        for number, step in enumerate(steps):
            _, axis, test, preds = step
            last = number == len(steps) - 1
            if axis == "attribute" and last and _bare_attribute(step):
                value = self.temp()
                parts.append(f"for {value} in ({self.read(current, test[1])},) "
                             f"if {value} is not None")
                item = value if values else f"ATTR({current}, {test[1]!r}, {value})"
                break
            if axis == "child" and test[0] == "text" and last and not preds:
                text = self.temp()
                parts.append(f"for {text} in TEXTS({current})")
                item = f"{text}.value" if values else text
                break
            if test[0] != "name" or any(is_positional(p) for p in preds):
                raise NotGenerated("step outside the generated subset")
            if axis == "child":
                source = f"I.get({test[1]!r}, _E)" if current == "el" else \
                    f"(IX.get({current}) or INDEX({current})).get({test[1]!r}, _E)"
            elif axis in ("descendant", "descendant-or-self") and number == 0:
                helper = "D" if axis == "descendant" else "DS"
                source = f"{helper}({current}, {test[1]!r})"
            else:
                raise NotGenerated(f"axis {axis}")
            if len(steps) == 1 and not preds and not values and start is None:
                return source
            node = self.temp()
            parts.append(f"for {node} in {source}{self._predicates(node, preds)}")
            current = item = node
            if values and last:
                item = f"SV({node})"
        return f"[{item} {' '.join(parts)}]"

    def _predicates(self, node: str, preds: list[tuple]) -> str:
        """The comprehension clauses filtering `node`; an attribute the predicates read
        more than once is read once, into a variable."""
        reads: Counter[str] = Counter()
        for pred in preds:
            _count_attribute_reads(pred, reads)
        binds = {name: self.temp() for name, count in reads.items() if count > 1}
        for name, var in binds.items():
            self.bound[(node, name)] = var
        clauses = "".join(f" for {var} in ({node}.get({name!r}),)" for name, var in binds.items())
        clauses += "".join(f" if {self.test(p, node)}" for p in preds)
        for name in binds:
            del self.bound[(node, name)]
        return clauses

    def flush(self, out: _Source) -> None:
        """Compute, before a statement, the shared paths it uses (once per element); the
        element's child index `I` first, when they read it."""
        done: set[str] = {"I"}
        if not self.eager_index and any(
                name == "I" or self._uses_index(self.cse_code[name]) for name in self.prelude):
            out.add("if I is _U:")
            out.add("    I = env.index(el)")
        for name in self.prelude:  # shared paths come before the paths computed from them
            if name not in done:
                done.add(name)
                out.add(f"if {name} is _U:")
                out.depth += 1
                out.add(f"{name} = {self.cse_code[name]}")
                out.depth -= 1
        self.prelude = []


def _child_exists(steps: list[tuple], v: str) -> str | None:
    """Existence of one child step without predicates on node variable `v`, from its index."""
    if len(steps) != 1 or steps[0][1] != "child" or steps[0][2][0] != "name" or steps[0][3]:
        return None
    return f"({steps[0][2][1]!r} in (IX.get({v}) or INDEX({v})))"


def _attr_name(ast: tuple) -> str | None:
    if ast[0] == "path" and len(ast[1]) == 1 and _bare_attribute(ast[1][0]):
        return ast[1][0][2][1]
    return None


def _count_attribute_reads(ast: Any, reads: Counter[str]) -> None:
    """Count the bare `@name` reads of an expression on its own context node (not those in
    the predicates of its paths' steps, which apply to other nodes)."""
    if not isinstance(ast, (tuple, list)) or not ast:
        return
    if isinstance(ast, tuple) and ast[0] == "path":
        name = _attr_name(ast)
        if name is not None:
            reads[name] += 1
        return
    for part in ast:
        _count_attribute_reads(part, reads)


def _bare_attribute(step: tuple) -> bool:
    return step[1] == "attribute" and step[2][0] == "name" and not step[3]


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def build(source: str, namespace: dict[str, Any], label: str = "ruleset") -> Callable:
    """Compile the generated source; `namespace` holds the helpers and constants."""
    code = compile(source, f"<{label}>", "exec")
    scope = dict(namespace)
    exec(code, scope)  # noqa: S102 - generated from a parsed ruleset, literals via repr()
    return scope["check"]
_KEYWORD_MODES = checks.ONE_OR_ALL_MODES


def _single_attribute(paths: Any) -> str | None:
    """The attribute name when `paths` is one bare `@name` of the context element."""
    found = _list(paths)
    if len(found) != 1:
        return None
    ast = parse_xpath(found[0])
    return _attr_name(ast) if ast is not None else None


def _loop_guard(g: Generator, foreach: str) -> str | None:
    """Code testing that a loop's `foreach` selects something (else it has no case to run)."""
    ast = parse_xpath(foreach)
    if ast is None or ast[0] != "path":
        return None
    try:
        return g.exists(ast[1]) or f"bool({g.path(ast[1], 'el')})"
    except NotGenerated:
        return None


def _list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _concat(codes: list[str]) -> str:
    return codes[0] if len(codes) == 1 else "[" + ", ".join(f"*{c}" for c in codes) + "]"


def _number(g: Generator, value: Any) -> str:
    """Code for a ruleset's number (XPath number() of its text; NaN has no literal)."""
    return g.number(to_number(str(value)))


def _bounds(g: Generator, raw: dict[str, Any]) -> tuple[str, str]:
    """Code for a `range` rule's min and max ("None" for a bound not given)."""
    low = _number(g, raw["min"]) if "min" in raw else "None"
    high = _number(g, raw["max"]) if "max" in raw else "None"
    return low, high


def _conjuncts(ast: tuple, negate: bool = False) -> list[tuple[tuple, bool]]:
    """(expression, negated) pairs whose conjunction is the XPath boolean of `ast` (negated
    with `negate`): `a and b`, `not(a or b)` and `not(not(a))` split up, for nested ifs."""
    kind = ast[0]
    if kind == "call" and ast[1] == "not" and len(ast[2]) == 1:
        return _conjuncts(ast[2][0], not negate)
    if kind == "call" and ast[1] == "boolean" and len(ast[2]) == 1:
        return _conjuncts(ast[2][0], negate)
    if kind == "binop" and ast[1] == ("or" if negate else "and"):
        return _conjuncts(ast[2], negate) + _conjuncts(ast[3], negate)
    return [(ast, negate)]


def _value_test(g: Generator, rule: str, raw: dict[str, Any]) -> str | None:
    """Code for "the rule holds" from the string values its XPaths select (checks' `*_holds`
    functions), or None for the rule types decided without reading values."""

    def values(key: str) -> str:
        return _concat([g.values(p) for p in _list(raw.get(key))])

    def date(key: str) -> str:
        return "None" if raw.get(key) == "NOW" else g.values(raw[key])

    if rule in ("date_now", "date_order", "time_limit", "between_dates"):
        keys = {"date_now": ("date",), "date_order": ("less", "more"),
                "time_limit": ("start", "end"), "between_dates": ("date", "start", "end")}[rule]
        return f"K.{rule}_holds({', '.join(date(key) for key in keys)}, today)"
    if rule in ("regex_matches", "regex_no_matches"):
        pattern = g.pattern(raw["regex"])
        return f"K.regex_holds({values('paths')}, {pattern}, {rule == 'regex_matches'})"
    if rule == "startswith":
        prefix = _list(raw.get("prefix"))
        prefixes = "None" if prefix == ["ORG-ID-PREFIX"] else _concat(
            [g.values(p) for p in prefix])
        return (f"K.startswith_holds({values('paths')}, {prefixes}, "
                f"{raw.get('separator', '')!r}, org_prefixes)")
    if rule in ("unique", "no_spaces"):
        return f"K.{rule}_holds({values('paths')})"
    if rule in ("sum", "strict_sum"):
        target = _number(g, raw.get("sum", 0))
        return f"K.total_holds({values('paths')}, {target}, {rule == 'strict_sum'})"
    if rule == "range":
        low, high = _bounds(g, raw)
        return f"K.in_range_holds({values('paths')}, {low}, {high})"
    return None


def _case_block(g: Generator, index: int, case: Any, out: _Source) -> None:
    """Statements testing one case on `el`; failures go to emit(index, failures)."""
    raw, rule = case.raw, case.rule
    opened = 0

    def open_if(condition: str) -> None:
        nonlocal opened
        g.flush(out)
        out.add(f"if {condition}:")
        out.depth += 1
        opened += 1

    def open_test(source: str, negate: bool = False) -> None:
        """open_if on an XPath's truth (or its negation), one `if` per conjunct: what a
        conjunct needs is computed only when the conjuncts before it hold."""
        ast = parse_xpath(source)
        if ast is None:
            code = g.top_test(source)
            open_if(f"not {code}" if negate else code)
            return
        for part, negated in _conjuncts(ast, negate):
            code = g.test(part, "el")
            open_if(f"not {code}" if negated else code)

    if "condition" in raw:
        open_test(raw["condition"])
    if case.id_condition is not None:  # the identifiers are only read with a Registry list
        g.flush(out)
        ids = _concat([g.top_nodes(p) for p in _list(raw.get("paths"))])
        out.add("_s = False")
        out.add("if org_ids:")
        out.depth += 1
        g.flush(out)
        out.add(f"_s = K.id_condition_skips({case.id_condition!r}, [SV(_n) for _n in {ids}], "
                "org_ids)")
        out.depth -= 1
        open_if("not _s")
    attribute = _single_attribute(raw.get("paths"))
    if attribute is not None and rule == "no_spaces":  # the value itself, before any node
        v = g.temp()
        open_if(f"({v} := {g.read('el', attribute)}) is not None and {v} != {v}.strip()")
    elif attribute is not None and rule in ("regex_matches", "regex_no_matches"):
        v = g.temp()
        found = "is None" if rule == "regex_matches" else "is not None"
        open_if(f"({v} := {g.read('el', attribute)}) and "
                f"{g.pattern(raw['regex'])}.search({v}) {found}")
    else:
        holds = _value_test(g, rule, raw)
        if holds is not None:  # the rule on the values first: nodes only for a failure
            open_if(f"not {holds}")

    def nodes(key: str) -> str:
        return _concat([g.top_nodes(p) for p in _list(raw.get(key))])

    if rule == "if_then":
        open_test(raw["if"])
        open_test(raw["then"], negate=True)
        paths = _concat([g.top_nodes(p) for p in _list(raw.get("paths"))]) \
            if raw.get("paths") else "[]"
        call = f"K.if_then({paths}, el)"
    elif rule == "one_or_all":
        open_test(raw["one"], negate=True)
        mode = raw.get("all", "")
        holds = "None" if mode in _KEYWORD_MODES else g.top_test(mode)
        call = f"K.one_or_all({mode!r}, el, env, {holds})"
    elif rule == "atleast_one":  # lazily: stop at the first path that selects something
        for path in _list(raw.get("paths")):
            open_if(f"not {g.top_exists(path)}")
        call = "[(el, '')]"
    elif rule == "dependent":
        call = "K.dependent([" + ", ".join(g.top_nodes(p) for p in _list(raw.get("paths"))) + \
            "], el)"
    elif rule == "no_more_than_one":
        call = f"K.no_more_than_one({nodes('paths')})"
    elif rule == "only_one_of":
        excluded = ", ".join(g.top_nodes(p) for p in _list(raw.get("excluded")))
        call = f"K.only_one_of({nodes('paths')}, [{excluded}], el)"
    elif rule in ("sum", "strict_sum"):
        target = _number(g, raw.get("sum", 0))
        call = f"K.total({nodes('paths')}, {target}, {rule == 'strict_sum'}, el)"
    elif rule == "date_order":
        less = "None" if raw.get("less") == "NOW" else g.top_nodes(raw["less"])
        more = "None" if raw.get("more") == "NOW" else g.top_nodes(raw["more"])
        call = f"K.date_order({less}, {more}, today)"
    elif rule == "date_now":
        call = f"K.date_now({g.top_nodes(raw['date'])}, today)"
    elif rule == "time_limit":
        call = f"K.time_limit({g.top_nodes(raw['start'])}, {g.top_nodes(raw['end'])}, today)"
    elif rule == "between_dates":
        call = (f"K.between_dates({g.top_nodes(raw['date'])}, {g.top_nodes(raw['start'])}, "
                f"{g.top_nodes(raw['end'])}, today)")
    elif rule in ("regex_matches", "regex_no_matches"):
        pattern = g.pattern(raw["regex"])
        call = f"K.regex({nodes('paths')}, {pattern}, {rule == 'regex_matches'})"
    elif rule == "startswith":
        prefix = _list(raw.get("prefix"))
        prefixes = "None" if prefix == ["ORG-ID-PREFIX"] else _concat(
            [g.top_nodes(p) for p in prefix])
        call = (f"K.startswith({nodes('paths')}, {prefixes}, {raw.get('separator', '')!r}, "
                f"org_prefixes)")
    elif rule == "unique":
        call = f"K.unique({nodes('paths')})"
    elif rule == "range":
        low, high = _bounds(g, raw)
        call = f"K.in_range({nodes('paths')}, {low}, {high})"
    elif rule == "no_spaces":
        call = f"K.no_spaces({nodes('paths')})"
    else:
        raise NotGenerated(rule)
    g.flush(out)
    out.add(f"_f = {call}")
    out.add("if _f:")
    out.add(f"    emit({index}, _f)")
    out.depth -= opened


def generate(items: list[Any], base: int = 0) -> tuple[str, dict[str, Any], list[int]]:
    """Source and constants of `check(els, ...)` for one context, and the items left to `ref`.

    `check` runs the cases on each element of `els` in turn (one call per context and unit).
    Item i is numbered base + i in emit/ref/loop calls.
    """
    counting = Generator()  # a first pass counts the element's attribute reads and paths
    _generate_body(counting, items, base)
    g = Generator(frozenset(name for name, n in counting.el_reads.items() if n > 1),
                  frozenset(path for path, n in counting.path_uses.items() if n > 1))
    body, by_reference = _generate_body(g, items, base)
    code = "\n".join(body.lines + list(g.cse_code.values()))
    header = ["def check(els, env, today, org_ids, org_prefixes, emit, ref, loop):"]
    header.extend(_helpers(code))
    header.append("    for el in els:")
    if g.eager_index:  # the guards read it at once
        header.append("        I = env.index(el)")
    elif re.search(r"\bI\b", code):  # built when first needed
        header.append("        I = _U")
    header.extend(f"        {var} = el.get({name!r})" for name, var in g.el_vars.items())
    if g.cse:
        header.append("        " + " = ".join(g.cse.values()) + " = _U")
    return "\n".join(header + body.lines) + "\n", g.consts, by_reference


_HELPERS = (("IX", "env.indexes", r"\bIX\."), ("INDEX", "env.index", r"\bINDEX\("),
            ("D", "env.descendants", r"\bD\("),
            ("DS", "env.descendants_or_self", r"\bDS\("), ("NAMED", "env.named", r"\bNAMED\("))


def _helpers(code: str) -> list[str]:
    """Lines binding the Env helpers that `code` calls (the children indexes built so far
    as IX: a child step reads the index without a call when it is built)."""
    return [f"    {name} = {helper}" for name, helper, used in _HELPERS if re.search(used, code)]


def _generate_body(g: Generator, items: list[Any], base: int) -> tuple[_Source, list[int]]:
    """The statements running every item on `el`, and the items left to `ref`."""
    g.eager_index = any(item.needs is not None for item in items)
    body = _Source()
    body.depth = 2  # inside the loop over the context's elements
    by_reference: list[int] = []
    for offset, item in enumerate(items):
        index = base + offset
        guard = item.needs
        if guard is not None:
            if len(guard) == 1:
                body.add(f"if {next(iter(guard))!r} in I:")
            else:
                body.add(f"if not I.keys().isdisjoint({g.const(guard)}):")
            body.depth += 1
        if hasattr(item, "foreach"):
            selects = _loop_guard(g, item.foreach.source)
            if selects is None:
                body.add(f"loop({index}, el)")
            else:  # no value to loop over: nothing to expand
                g.flush(body)
                body.add(f"if {selects}:")
                body.add(f"    loop({index}, el)")
        else:
            attempt = _Source()
            attempt.depth = body.depth
            saved = (dict(g.cse), dict(g.cse_code), dict(g.cse_deps), g.counter,
                     dict(g.consts))
            try:
                _case_block(g, index, item, attempt)
                body.lines.extend(attempt.lines)
            except NotGenerated:
                g.cse, g.cse_code, g.cse_deps, g.counter, g.consts = saved
                g.prelude = []
                by_reference.append(index)
                body.add(f"ref({index}, el)")
        if guard is not None:
            body.depth -= 1
    if not body.lines:
        body.add("pass")
    return body, by_reference


def compile_driver(contexts: list[tuple[Any, Any, Callable]],
                   label: str = "ruleset") -> Callable:
    """One function running every context of a file kind on a unit, in order.

    `contexts`: (needs, select, check) per context: the children of the unit without which
    it selects nothing (or None), its Expr relative to the unit (None: the unit itself), and
    its generated check(), called once with every element the context selects. Selections
    become inline comprehensions over the unit's child index where the generator covers them,
    else call the Expr.
    """
    g = Generator()
    g.eager_index = True
    lines = ["def drive(el, env, today, org_ids, org_prefixes, emit, ref, loop):",
             "    I = env.index(el)"]
    for needs, select, check in contexts:
        depth = 1
        if needs is not None:
            guard = f"{next(iter(needs))!r} in I" if len(needs) == 1 else \
                f"not I.keys().isdisjoint({g.const(needs)})"
            lines.append("    " * depth + f"if {guard}:")
            depth += 1
        call = f"{g.const(check)}({{}}, env, today, org_ids, org_prefixes, emit, ref, loop)"
        if select is None:
            lines.append("    " * depth + call.format("(el,)"))
            continue
        ast = parse_xpath(select.source)
        try:
            if ast is None or ast[0] != "path":
                raise NotGenerated("not a path")
            nodes = g._path_code(ast[1], "el")
        except NotGenerated:
            nodes = f"{g.const(select)}.nodes(el, env)"
        lines.append("    " * depth + call.format(nodes))
    source = "\n".join(lines) + "\n"
    header = _helpers(source)
    source = "\n".join(lines[:1] + header + lines[1:]) + "\n"
    namespace = {**BASE_NAMESPACE, **g.consts}
    code = compile(source, f"<{label} driver>", "exec")
    exec(code, namespace)  # noqa: S102 - generated from a parsed ruleset, literals via repr()
    return namespace["drive"]


def compile_context(items: list[Any], base: int = 0,
                    label: str = "ruleset") -> tuple[Callable, list[int]]:
    """The generated `check` function of one context, and the items it hands back."""
    source, consts, by_reference = generate(items, base)
    return build(source, {**BASE_NAMESPACE, **consts}, label), by_reference
