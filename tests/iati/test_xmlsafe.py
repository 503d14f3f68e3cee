"""The hardened parser: hostile XML is refused without resolving or fetching anything."""

from __future__ import annotations

import time

import pytest

from iati.xmlsafe import XmlSecurityError, XmlSyntaxError, parse_bytes, parse_file

SECRET = "secret-9f3c1d"


def _billion_laughs(levels: int = 10) -> bytes:
    lines = ['<!ENTITY lol0 "lol">']
    for level in range(1, levels):
        refs = f"&lol{level - 1};" * 10
        lines.append(f'<!ENTITY lol{level} "{refs}">')
    dtd = "\n".join(lines)
    return (f'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n{dtd}\n]>\n'
            f'<iati-activities version="2.03"><iati-activity>&lol{levels - 1};'
            f'</iati-activity></iati-activities>').encode()


def test_a_billion_laughs_file_is_refused_quickly_without_expansion():
    started = time.perf_counter()
    with pytest.raises(XmlSecurityError) as refused:
        parse_bytes(_billion_laughs())
    assert time.perf_counter() - started < 2
    assert "DOCTYPE" in refused.value.message


def test_billion_laughs_in_an_attribute_is_refused_too():
    data = _billion_laughs().replace(b"<iati-activity>&lol9;",
                                     b'<iati-activity a="&lol9;">')
    with pytest.raises(XmlSecurityError):
        parse_bytes(data)


def test_an_external_file_entity_is_refused_and_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    data = (f'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
            f'<iati-activities version="2.03"><iati-activity>'
            f'<iati-identifier>&xxe;</iati-identifier></iati-activity></iati-activities>')
    with pytest.raises(XmlSecurityError) as refused:
        parse_bytes(data.encode())
    assert SECRET not in str(refused.value)


def test_an_external_entity_over_http_is_refused_and_never_fetched(http_server):
    url, hits = http_server
    data = (f'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY xxe SYSTEM "{url}/entity">]>\n'
            f'<iati-activities version="2.03"><iati-activity>&xxe;</iati-activity>'
            f'</iati-activities>')
    with pytest.raises(XmlSecurityError):
        parse_bytes(data.encode())
    assert hits == []


def test_an_external_dtd_is_refused_and_never_fetched(http_server):
    url, hits = http_server
    data = (f'<?xml version="1.0"?>\n<!DOCTYPE iati-activities SYSTEM "{url}/evil.dtd">\n'
            f'<iati-activities version="2.03"/>')
    with pytest.raises(XmlSecurityError):
        parse_bytes(data.encode())
    assert hits == []


def test_a_parameter_entity_pulling_a_remote_dtd_is_refused_and_never_fetched(http_server):
    url, hits = http_server
    data = (f'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY % remote SYSTEM "{url}/p.dtd">'
            f' %remote;]>\n<iati-activities version="2.03"/>')
    with pytest.raises(XmlSecurityError):
        parse_bytes(data.encode())
    assert hits == []


def test_a_utf16_file_with_a_doctype_is_refused():
    data = '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE x [<!ENTITY a "b">]>\n<x>&a;</x>'
    with pytest.raises(XmlSecurityError):
        parse_bytes(data.encode("utf-16"))


def test_malformed_xml_names_its_line_in_french():
    with pytest.raises(XmlSyntaxError) as bad:
        parse_bytes(b"<iati-activities>\n<iati-activity>\n</iati-activities>")
    assert bad.value.line == 3
    assert "XML mal formé (ligne 3)" in bad.value.message


def test_an_empty_file_is_not_xml():
    with pytest.raises(XmlSyntaxError, match="vide"):
        parse_bytes(b"  \n")


def test_a_missing_file_is_reported_not_raised_as_oserror(tmp_path):
    with pytest.raises(XmlSyntaxError, match="lecture impossible"):
        parse_file(tmp_path / "absent.xml")


def test_a_safe_file_keeps_line_numbers_and_drops_comments():
    tree = parse_bytes(b"<a>\n<!-- note -->\n<b/>\n</a>")
    child = tree.getroot()[0]
    assert child.tag == "b" and child.sourceline == 3


def test_line_numbers_stay_exact_past_65535():
    tree = parse_bytes(b"<a>" + b"\n" * 70000 + b"<b/></a>")
    assert tree.getroot()[0].sourceline == 70001
