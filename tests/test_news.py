"""The news list, article pages (OpenGraph, share links, attachments) and publication states."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import html
from sqlalchemy import select

from sites.demo import minimal_pdf
from sites.extensions import db
from sites.models import Article, Document, Group, PublishState
from sites.models.base import as_utc, utcnow
from sites.storage import FileStore

SITE = "http://portail.test"


def _article(app, slug: str, title: str, status: PublishState = PublishState.PUBLISHED,
             when: datetime | None = None, group_slug: str | None = "gt-sante",
             summary: str = "") -> int:
    with app.app_context():
        group = db.session.scalars(select(Group).where(Group.slug == group_slug)).one() \
            if group_slug else None
        article = Article(slug=slug, title=title, summary=summary, body_html="<p>Texte</p>",
                          group=group, status=status,
                          publish_at=when or utcnow() - timedelta(hours=1))
        db.session.add(article)
        db.session.commit()
        return article.id


def _attach(app, article_id: int, title: str, status: PublishState) -> int:
    with app.app_context():
        article = db.session.get(Article, article_id)
        store = FileStore(app.config["UPLOAD_DIR"], app.config["MAX_UPLOAD_BYTES"])
        stored = store.save(io.BytesIO(minimal_pdf(title)), f"{title}.pdf")
        document = Document(title=title, doc_type="minutes", year=2026, group=article.group,
                            article=article, file_hash=stored.sha256, filename=stored.filename,
                            mime_type=stored.mime_type, size=stored.size, status=status,
                            publish_at=article.publish_at)
        db.session.add(document)
        db.session.commit()
        return document.id


def _titles(response) -> list[str]:
    doc = html.fromstring(response.data)
    return [a.text_content() for a in doc.xpath('//div[@class="cards"]//h3/a')]


def test_news_list_is_paginated_newest_first(app, client):
    now = utcnow()
    for n in range(25):
        _article(app, f"n-{n:02d}", f"Nouvelle {n:02d}", when=now - timedelta(hours=n + 1),
                 group_slug=None if n % 3 else "gt-education")
    first = client.get("/actualites/")
    assert _titles(first) == [f"Nouvelle {n:02d}" for n in range(20)]
    doc = html.fromstring(first.data)
    assert doc.xpath('//a[@rel="next"]/@href') == ["/actualites/?page=2"]
    assert not doc.xpath('//a[@rel="prev"]')
    second = client.get("/actualites/?page=2")
    assert _titles(second) == [f"Nouvelle {n:02d}" for n in range(20, 25)]
    doc = html.fromstring(second.data)
    assert doc.xpath('//a[@rel="prev"]/@href') == ["/actualites/?page=1"]
    assert not doc.xpath('//a[@rel="next"]')
    assert _titles(client.get("/actualites/?page=99")) == _titles(second)
    assert _titles(client.get("/actualites/?page=abc")) == _titles(first)


def test_article_page_has_opengraph_tags(app, client):
    when = (utcnow() - timedelta(days=2)).replace(microsecond=0)
    _article(app, "revue-sante", "Revue sectorielle santé", when=when,
             summary="Les résultats de l'année examinés avec le ministère.")
    response = client.get("/actualites/revue-sante")
    assert response.status_code == 200
    doc = html.fromstring(response.data)
    og = {m.get("property"): m.get("content") for m in doc.xpath("//meta[@property]")}
    assert og["og:type"] == "article"
    assert og["og:title"] == "Revue sectorielle santé"
    assert og["og:description"] == "Les résultats de l'année examinés avec le ministère."
    assert og["og:url"] == f"{SITE}/actualites/revue-sante"
    assert og["og:locale"] == "fr_FR"
    assert as_utc(datetime.fromisoformat(og["article:published_time"])) == when
    assert doc.xpath("//h1")[0].text_content() == "Revue sectorielle santé"
    assert doc.xpath('//p[@class="eyebrow"]/a/@href') == ["/groupes/gt-sante/"]


def test_share_links_are_plain_links_and_the_page_loads_no_script_but_the_sites_own(
        app, client):
    _article(app, "partage", "À partager & diffuser")
    doc = html.fromstring(client.get("/actualites/partage").data)
    links = doc.xpath('//p[@class="share"]/a')
    url = f"{SITE}/actualites/partage"
    shared = {}
    for a in links:
        parts = urlsplit(a.get("href"))
        shared[parts.scheme + ":" + parts.netloc] = parse_qs(parts.query)
    assert shared["mailto:"] == {"subject": ["À partager & diffuser"], "body": [url]}
    assert shared["https:www.linkedin.com"] == {"url": [url]}
    assert shared["https:twitter.com"] == {"url": [url], "text": ["À partager & diffuser"]}
    assert shared["https:wa.me"] == {"text": [f"À partager & diffuser {url}"]}
    for a in links:
        assert not [k for k in a.attrib if k.startswith("on")]
        if a.get("href").startswith("https://"):
            assert "noopener" in a.get("rel")
    scripts = doc.xpath("//script")
    assert [s.get("src") for s in scripts] == ["/static/js/site.js"]
    assert all(not (s.text or "").strip() for s in scripts)
    assert not doc.xpath("//iframe | //object | //embed")


def test_article_lists_its_published_attachments_only(app, client):
    article_id = _article(app, "atelier", "Atelier de validation")
    shown = _attach(app, article_id, "Compte rendu atelier", PublishState.PUBLISHED)
    _attach(app, article_id, "Note interne atelier", PublishState.DRAFT)
    other = _article(app, "autre", "Autre nouvelle")
    _attach(app, other, "Rapport autre", PublishState.PUBLISHED)
    doc = html.fromstring(client.get("/actualites/atelier").data)
    listed = [(a.get("href"), a.text_content()) for a in doc.xpath('//ul[@class="docs"]//a')]
    assert listed == [(f"/documents/{shown}", "Compte rendu atelier")]
    assert "PDF" in doc.xpath('//ul[@class="docs"]//span[@class="meta"]')[0].text_content()


@pytest.mark.parametrize(("status", "delta"), [
    (PublishState.DRAFT, timedelta(hours=-1)),
    (PublishState.ARCHIVED, timedelta(hours=-1)),
    (PublishState.PUBLISHED, timedelta(days=2)),
], ids=["draft", "archived", "scheduled"])
def test_unpublished_articles_are_invisible(app, client, status, delta):
    _article(app, "cachee", "Nouvelle cachée", status=status, when=utcnow() + delta)
    _article(app, "visible", "Nouvelle visible")
    assert client.get("/actualites/cachee").status_code == 404
    assert _titles(client.get("/actualites/")) == ["Nouvelle visible"]
    assert _titles(client.get("/groupes/gt-sante/actualites")) == ["Nouvelle visible"]


def test_a_scheduled_article_appears_once_its_date_has_passed(app, client):
    article_id = _article(app, "programmee", "Annonce programmée",
                          when=utcnow() + timedelta(days=1))
    assert client.get("/actualites/programmee").status_code == 404
    with app.app_context():
        db.session.get(Article, article_id).publish_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    assert client.get("/actualites/programmee").status_code == 200
    assert _titles(client.get("/actualites/")) == ["Annonce programmée"]


def test_news_of_an_archived_group_is_hidden(app, client):
    _article(app, "genre", "Journée de la femme", group_slug="gt-genre")
    assert client.get("/actualites/genre").status_code == 200
    with app.app_context():
        db.session.scalars(select(Group).where(Group.slug == "gt-genre")).one().archived = True
        db.session.commit()
    assert client.get("/actualites/genre").status_code == 404
    assert _titles(client.get("/actualites/")) == []


def test_portal_wide_news_is_listed_without_a_group(app, client):
    _article(app, "portail", "Lancement du portail", group_slug=None)
    _article(app, "sante", "Campagne de vaccination")
    assert _titles(client.get("/actualites/")) == ["Campagne de vaccination",
                                                   "Lancement du portail"]
    response = client.get("/actualites/portail")
    assert response.status_code == 200
    doc = html.fromstring(response.data)
    assert not doc.xpath('//p[@class="eyebrow"]')
    assert _titles(client.get("/groupes/gt-sante/actualites")) == ["Campagne de vaccination"]
    assert "Lancement du portail" in client.get("/").get_data(as_text=True)
