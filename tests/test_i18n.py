"""The French catalog: complete, consistent with the sources, and actually used by the pages."""

from __future__ import annotations

import re
from collections import Counter
from gettext import c2py
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

REPO = Path(__file__).resolve().parents[1]
TRANSLATIONS = REPO / "sites" / "translations"
FRENCH_PO = TRANSLATIONS / "fr" / "LC_MESSAGES" / "messages.po"
# The same keywords as `sites/translations/update.sh`: the defaults plus the lazy ones.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
# A %-conversion as Python's `%` operator reads it: `%(name)s`, `%d`, `%%`...
CONVERSION = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(?:\d+|\*)?(?:\.\d+)?[a-zA-Z%]")

# UI strings checked on rendered pages: (English msgid, French translation).
HOME = [("Latest news", "Dernières actualités"), ("Upcoming meetings", "Prochaines réunions"),
        ("Sign in", "Se connecter"), ("Skip to content", "Aller au contenu")]
PLATFORM = [("Lead partner", "Chef de file"), ("Upcoming meetings", "Prochaines réunions"),
            ("Members", "Membres"),
            ("No news yet.", "Aucune actualité pour le moment.")]
LOGIN = [("Sign in", "Se connecter"), ("Password", "Mot de passe"),
         ("E-mail address", "Adresse e-mail"),
         ("For focal points, members of the groups and the administrators.",
          "Réservé aux points focaux, aux membres des groupes et aux administrateurs.")]
NOT_FOUND = [("Error 404", "Erreur 404"),
             ("This page does not exist", "Cette page n’existe pas"),
             ("Back to the home page", "Retour à l’accueil")]


def _source_messages() -> dict[str, list[str]]:
    """Every msgid found in the sources today (as `pybabel extract` would), with its places."""
    with open(REPO / "sites" / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, "sites/babel.cfg")
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(REPO), method_map, options_map, keywords=KEYWORDS):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


def _french_catalog():
    with open(FRENCH_PO, "rb") as po:
        return read_po(po, locale="fr")


def _conversions(text: str) -> Counter[str]:
    return Counter(CONVERSION.findall(text))


def _assert_language(page: str, lang: str, pairs: list[tuple[str, str]]) -> None:
    """`page` shows every string of `pairs` in `lang` and none in the other language."""
    assert f'<html lang="{lang}">' in page
    for english, french in pairs:
        shown, hidden = (french, english) if lang == "fr" else (english, french)
        assert shown in page, f"{shown!r} missing from the {lang} page"
        assert hidden not in page, f"{hidden!r} shown on the {lang} page"


def test_every_message_of_the_sources_has_a_french_translation():
    catalog = _french_catalog()
    missing = []
    for msgid, places in sorted(_source_messages().items()):
        message = catalog.get(msgid)
        strings = [] if message is None else (
            list(message.string) if isinstance(message.string, (list, tuple)) else [message.string])
        if (message is None or message.fuzzy or not strings or not all(s.strip() for s in strings)
                or (message.pluralizable and len(strings) != catalog.num_plurals)):
            missing.append(f"{msgid!r} ({', '.join(places)})")
    assert not missing, (
        "No French translation for these messages; run sites/translations/update.sh and "
        "translate them in sites/translations/fr/LC_MESSAGES/messages.po:\n  "
        + "\n  ".join(missing))


def test_source_extraction_finds_the_lazy_and_plural_messages():
    messages = _source_messages()
    assert "Latest news" in messages                       # _() in a template
    assert "Policy note" in messages                       # _l() in sites/labels.py
    assert "Wrong e-mail address or password." in messages  # _() in Python
    assert "%(num)s document" in messages                  # ngettext() in a template


def test_french_translations_keep_the_placeholders_of_the_english():
    wrong = []
    for message in _french_catalog():
        if not message.id or not message.string:
            continue
        if message.pluralizable:
            expected = set(_conversions(message.id[0]) | _conversions(message.id[1]))
            for form in message.string:
                if form and set(_conversions(form)) != expected:
                    wrong.append(f"{message.id[0]!r} -> {form!r}")
        elif _conversions(message.string) != _conversions(message.id):
            wrong.append(f"{message.id!r} -> {message.string!r}")
    assert not wrong, "Placeholders differ from the English:\n  " + "\n  ".join(wrong)


def test_french_plural_forms_follow_french_rules():
    catalog = _french_catalog()
    forms = catalog["%(num)s document"].string
    plural = c2py(catalog.plural_expr)
    assert [forms[plural(n)] % {"num": n} for n in (0, 1, 2, 1000000)] == [
        "0 document", "1 document", "2 documents", "1000000 de documents"]


def test_home_page_is_in_french_by_default_and_in_english_after_switching(
        compiled_catalogs, client):
    _assert_language(client.get("/").get_data(as_text=True), "fr", HOME)
    client.get("/langue/en")
    _assert_language(client.get("/").get_data(as_text=True), "en", HOME)


def test_group_platform_is_in_french_by_default_and_in_english_after_switching(
        compiled_catalogs, client):
    _assert_language(client.get("/groupes/gt-sante/").get_data(as_text=True), "fr", PLATFORM)
    client.get("/langue/en")
    _assert_language(client.get("/groupes/gt-sante/").get_data(as_text=True), "en", PLATFORM)


def test_login_page_and_its_form_labels_are_translated(compiled_catalogs, client):
    _assert_language(client.get("/connexion").get_data(as_text=True), "fr", LOGIN)
    client.get("/langue/en")
    _assert_language(client.get("/connexion").get_data(as_text=True), "en", LOGIN)


def test_not_found_page_is_translated(compiled_catalogs, client):
    response = client.get("/cette-page-n-existe-pas")
    assert response.status_code == 404
    _assert_language(response.get_data(as_text=True), "fr", NOT_FOUND)
    client.get("/langue/en")
    response = client.get("/cette-page-n-existe-pas")
    assert response.status_code == 404
    _assert_language(response.get_data(as_text=True), "en", NOT_FOUND)


def test_document_count_uses_french_plural_rules(compiled_catalogs, client):
    assert "<p>0 document</p>" in client.get("/documents/").get_data(as_text=True)
    client.get("/langue/en")
    assert "<p>0 documents</p>" in client.get("/documents/").get_data(as_text=True)


def test_failed_login_message_is_in_the_visitor_language(compiled_catalogs, client):
    form = {"email": "personne@example.org", "password": "pas le bon mot de passe"}
    assert "Adresse e-mail ou mot de passe incorrect." in client.post(
        "/connexion", data=form, follow_redirects=True).get_data(as_text=True)
    client.get("/langue/en")
    assert "Wrong e-mail address or password." in client.post(
        "/connexion", data=form, follow_redirects=True).get_data(as_text=True)
