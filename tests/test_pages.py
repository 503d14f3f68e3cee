"""Institutional pages of the three structures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from lxml import html
from sqlalchemy import select

from sites.extensions import db
from sites.models import Page, PublishState, Structure
from sites.models.base import utcnow


def _page(app, slug: str, title: str, structure: str | None, position: int = 0,
          status: PublishState = PublishState.PUBLISHED, when=None,
          body: str = "<p>Présentation.</p>") -> None:
    with app.app_context():
        owner = db.session.scalars(select(Structure).where(Structure.slug == structure)).one() \
            if structure else None
        db.session.add(Page(slug=slug, title=title, body_html=body, structure=owner,
                            position=position, status=status,
                            publish_at=when or utcnow() - timedelta(hours=1)))
        db.session.commit()


@pytest.fixture
def structure_pages(app) -> None:
    """A home page for each structure (its slug, as the main menu links it) and a few more."""
    _page(app, "pool-technique", "Le Pool Technique des PTF", "pool-technique",
          body="<p>Secrétariat de coordination des <strong>PTF</strong>.</p>")
    _page(app, "groupes-thematiques", "Les groupes thématiques", "pool-technique", position=1)
    _page(app, "pool-brouillon", "Organigramme en préparation", "pool-technique", position=2,
          status=PublishState.DRAFT)
    _page(app, "ct-csclp", "La CT-CSCLP", "ct-csclp")
    _page(app, "sha", "Le Secrétariat à l'Harmonisation de l'Aide", "sha")


@pytest.mark.parametrize(("slug", "title", "structure"), [
    ("pool-technique", "Le Pool Technique des PTF", "Pool Technique des PTF"),
    ("ct-csclp", "La CT-CSCLP", "CT-CSCLP"),
    ("sha", "Le Secrétariat à l'Harmonisation de l'Aide", "SHA"),
])
def test_each_structure_has_its_institutional_page(client, structure_pages, slug, title,
                                                   structure):
    response = client.get(f"/pages/{slug}")
    assert response.status_code == 200
    doc = html.fromstring(response.data)
    assert doc.xpath("//article/h1")[0].text_content() == title
    assert doc.xpath('//article/p[@class="eyebrow"]')[0].text_content() == structure
    assert doc.xpath("//title")[0].text_content().startswith(title)


def test_main_menu_links_to_the_three_structures(client, structure_pages):
    doc = html.fromstring(client.get("/").data)
    links = doc.xpath('//nav[@id="menu"]//a/@href')
    for slug in ("pool-technique", "ct-csclp", "sha"):
        assert f"/pages/{slug}" in links
        assert client.get(f"/pages/{slug}").status_code == 200


def test_page_body_is_rendered_as_html(client, structure_pages):
    doc = html.fromstring(client.get("/pages/pool-technique").data)
    assert doc.xpath("//article/p/strong")[0].text_content() == "PTF"


def test_side_menu_lists_the_published_pages_of_the_same_structure_in_order(
        client, structure_pages):
    doc = html.fromstring(client.get("/pages/groupes-thematiques").data)
    side = doc.xpath('//nav[@class="side"]//a')
    assert [a.get("href") for a in side] == ["/pages/pool-technique", "/pages/groupes-thematiques"]
    assert [a.get("aria-current") for a in side] == [None, "page"]
    single = html.fromstring(client.get("/pages/sha").data)
    assert not single.xpath('//nav[@class="side"]')


@pytest.mark.parametrize(("status", "delta"), [
    (PublishState.DRAFT, timedelta(hours=-1)),
    (PublishState.ARCHIVED, timedelta(hours=-1)),
    (PublishState.PUBLISHED, timedelta(days=1)),
], ids=["draft", "archived", "scheduled"])
def test_unpublished_pages_answer_404(app, client, status, delta):
    _page(app, "cachee", "Page cachée", "sha", status=status, when=utcnow() + delta)
    response = client.get("/pages/cachee")
    assert response.status_code == 404
    assert "Page cachée" not in response.get_data(as_text=True)


def test_unknown_page_answers_404(client, structure_pages):
    assert client.get("/pages/inconnue").status_code == 404
    assert client.get("/pages/").status_code == 404


def test_page_without_structure_is_served_alone(app, client):
    _page(app, "mentions-legales", "Mentions légales", None)
    doc = html.fromstring(client.get("/pages/mentions-legales").data)
    assert doc.xpath("//article/h1")[0].text_content() == "Mentions légales"
    assert not doc.xpath('//p[@class="eyebrow"]') and not doc.xpath('//nav[@class="side"]')
