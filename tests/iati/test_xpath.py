"""The compiled XPath subset agrees with libxml2's XPath, and falls back to it otherwise."""

from __future__ import annotations

import math

import pytest
from lxml import etree

from iati.xpath import (
    NAMESPACES,
    Attr,
    Env,
    Text,
    XPathError,
    compile_xpath,
    required_children,
)

DOC = b"""<iati-activity xml:lang="fr" default-currency="XOF">
 <iati-identifier> XM-DAC-7-1</iati-identifier>
 <sector vocabulary="1" code="11110" percentage="50"/>
 <sector code="11230" percentage="50.0"/>
 <sector vocabulary="98" code="A1" percentage="100"><narrative>Code A1</narrative></sector>
 <sector vocabulary="" code="B" percentage="x"/>
 <recipient-country code="ML" percentage="100"/>
 <transaction><sector vocabulary="2" code="111"/><value currency="EUR">10</value></transaction>
 <transaction><value>20</value><description><narrative>deux</narrative></description></transaction>
 <result><reference code="1"/><indicator measure="1"><reference code="2"/></indicator></result>
 <title><narrative>Titre</narrative><narrative xml:lang="en">Title</narrative></title>
</iati-activity>"""

EXPRESSIONS = [
    "sector", "sector/@percentage", "sector[@vocabulary = '1']",
    "sector[@vocabulary != '1']", "sector[@vocabulary != 1]", "sector[@vocabulary = 98]",
    "sector[not(@vocabulary) or @vocabulary = '' or @vocabulary = '1']/@percentage",
    "count(sector[@vocabulary='' or @vocabulary='1' or not(@vocabulary)]) > 1",
    "count(sector) = count(sector/@percentage)", "sum(sector/@percentage)",
    "sector/@percentage = 100", "sector/@percentage != 100", "sector/@percentage > 60",
    "100 = sector/@percentage", "60 < sector/@percentage",
    "not(sector[@vocabulary = '98']/@percentage) or sector[@vocabulary = '98']/@percentage = 100",
    "recipient-country or recipient-region", "not(transaction/recipient-country)",
    "transaction[not(sector)]", "transaction/sector", "transaction/value[not(@currency)]",
    "count(recipient-region) + count(recipient-country) > 1", "count(sector) - 1",
    "count(sector) div 3", "count(sector) mod 3", "-count(sector)", "count(sector) * 2",
    "@xml:lang", "descendant::narrative", "descendant::narrative[not(@xml:lang)]",
    "sector[@vocabulary = 98 or @vocabulary = 99]/narrative", "narrative/text()",
    "title/narrative/text()", "iati-identifier", "string(iati-identifier)",
    "normalize-space(iati-identifier)", "string-length(iati-identifier)",
    "starts-with(iati-identifier, ' XM')", "contains(iati-identifier, 'DAC')",
    "concat(@default-currency, '-', count(sector))", "substring(iati-identifier, 2, 6)",
    "translate(iati-identifier, 'XM', 'xm')", "substring-before(iati-identifier, '-')",
    "substring-after(iati-identifier, '-')", "number(sector/@percentage)",
    "number('abc')", "string(number(sector[4]/@percentage)) != 'NaN'",
    "round(2.5)", "floor(-1.5)", "ceiling(1.2)", "true() and not(false())",
    "sector[1]/@code", "sector[last()]/@code", "sector[position() > 2]/@code",
    "result/indicator/reference | result/reference", "result/indicator/../reference",
    "result/indicator[@measure = '1' or @measure = '2']", "*", "@*", "sector[2]",
    "boolean(result)", "sector/@percentage = transaction/value", "title//narrative",
    ".", "self::iati-activity", "transaction[value > 15]",
]


def _normal(value):
    if isinstance(value, list):
        out = []
        for item in value:
            if isinstance(item, Attr):
                out.append(("attr", item.owner, item.name, item.value))
            elif isinstance(item, Text):
                out.append(("text", item.owner, item.value))
            elif isinstance(item, str):
                parent = item.getparent()
                out.append(("attr", parent, item.attrname, str(item)) if item.is_attribute
                           else ("text", parent, str(item)))
            else:
                out.append(("el", item))
        return sorted(out, key=repr)
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return value


@pytest.fixture(scope="module")
def root():
    return etree.fromstring(DOC)


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_the_compiled_expression_gives_libxml2s_result(root, expression):
    ours = compile_xpath(expression).evaluate(root, Env())
    theirs = root.xpath(expression, namespaces=NAMESPACES)
    assert _normal(ours) == _normal(theirs)


def test_common_expressions_run_as_python_not_through_libxml2():
    assert not compile_xpath("count(sector[@vocabulary = '1']/@percentage) > 1").native
    assert not compile_xpath("descendant::narrative[not(@xml:lang)]").native


def test_expressions_outside_the_subset_fall_back_to_lxml(root):
    expression = compile_xpath("ancestor-or-self::*[1]/following::node()")
    assert expression.native
    assert _normal(expression.evaluate(root, Env())) == \
        _normal(root.xpath("ancestor-or-self::*[1]/following::node()"))


def test_variables_are_passed_to_both_engines(root):
    env = Env({"limit": 60.0})
    assert compile_xpath("count(sector[@percentage < $limit])").evaluate(root, env) == 2.0
    assert compile_xpath("count(following::*[$limit > 1])").evaluate(root, env) == 0.0


def test_an_invalid_expression_is_reported():
    with pytest.raises(XPathError):
        compile_xpath("sector[@code = ")


def test_child_indexes_are_built_once_and_forgotten_on_reset(root):
    env = Env()
    first = env.children(root, "sector")
    assert env.children(root, "sector") is first and len(first) == 4
    env.reset()
    assert env.children(root, "sector") is not first



def test_child_indexes_hold_elements_only():
    el = etree.fromstring(b"<a><!-- c --><b/><?pi x?><c/><b/></a>")
    env = Env()
    assert env.named(el, "b") == [el[1], el[4]]  # read directly, no index built yet
    assert {tag: len(found) for tag, found in env.index(el).items()} == {"b": 2, "c": 1}
    assert env.named(el, "b") is env.index(el)["b"]


@pytest.mark.parametrize(("expression", "needs"), [
    ("count(sector[@vocabulary = '1']) > 1", {"sector"}),
    ("count(recipient-region) + count(recipient-country) > 1",
     {"recipient-region", "recipient-country"}),
    ("recipient-country or recipient-region", {"recipient-country", "recipient-region"}),
    ("count(budget-item) = 1 and not(recipient-country)", {"budget-item"}),
    ("sector/@percentage = 100", {"sector"}),
    ("not(sector)", None), ("count(sector) = 0", None), ("@value", None),
    ("count(sector) < 2", None), ("descendant::narrative", None),
])
def test_required_children_are_derived_soundly(expression, needs):
    assert required_children(expression) == (frozenset(needs) if needs else None)


@pytest.mark.parametrize("expression", [
    "count(sector[@vocabulary = '1']) > 1", "recipient-country or recipient-region",
    "count(a) + count(sector) > 0", "sector/@percentage = 100",
])
def test_an_element_without_the_required_children_makes_the_expression_false(expression):
    bare = etree.fromstring(b'<iati-activity percentage="100"><other/></iati-activity>')
    assert not compile_xpath(expression).boolean(bare, Env())
