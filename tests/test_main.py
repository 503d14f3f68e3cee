"""The home page, search and health check."""

from __future__ import annotations

from datetime import timedelta

from sites.extensions import db
from sites.models import Article, Group, PublishState
from sites.models.base import utcnow


def _article(app, slug: str, title: str, status=PublishState.PUBLISHED, when=None,
             group_slug: str | None = "gt-sante", body: str = "<p>Texte</p>") -> None:
    with app.app_context():
        group = db.session.query(Group).filter_by(slug=group_slug).one() if group_slug else None
        db.session.add(Article(slug=slug, title=title, body_html=body, group=group,
                               status=status, publish_at=when or utcnow() - timedelta(hours=1)))
        db.session.commit()


def test_healthz_reports_database_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_home_lists_published_news_only(app, client):
    _article(app, "visible", "Atelier budget programme")
    _article(app, "brouillon", "Brouillon secret", status=PublishState.DRAFT)
    _article(app, "futur", "Annonce programmée", when=utcnow() + timedelta(days=2))
    page = client.get("/").get_data(as_text=True)
    assert "Atelier budget programme" in page
    assert "Brouillon secret" not in page
    assert "Annonce programmée" not in page


def test_home_is_french_by_default_and_english_on_request(client):
    assert '<html lang="fr">' in client.get("/").get_data(as_text=True)
    switch = client.get("/langue/en?next=/groupes/")
    assert switch.status_code == 302 and switch.headers["Location"].endswith("/groupes/")
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)


def test_language_switch_never_redirects_to_another_host(client):
    response = client.get("/langue/en?next=//evil.example/")
    assert response.headers["Location"] in ("/", "http://portail.test/")


def test_search_finds_words_in_title_and_body_with_or_without_accents(app, client):
    _article(app, "eau", "Forages et hygiène", body="<p>Réhabilitation des pompes à Kayes</p>")
    _article(app, "cache", "Document interne", status=PublishState.DRAFT,
             body="<p>pompes confidentielles</p>")
    page = client.get("/recherche?q=rehabilitation").get_data(as_text=True)
    assert "Forages et hygiène" in page
    page = client.get("/recherche?q=pompes").get_data(as_text=True)
    assert "Forages et hygiène" in page and "Document interne" not in page


def test_search_copes_with_syntax_characters(client):
    for query in ['"', "AND OR NOT", "a*b(", "' OR 1=1 --", "))"]:
        assert client.get("/recherche", query_string={"q": query}).status_code == 200


def test_public_page_answers_conditional_get_until_content_changes(app, client):
    first = client.get("/")
    etag = first.headers["ETag"]
    again = client.get("/", headers={"If-None-Match": etag})
    assert again.status_code == 304
    _article(app, "nouvelle", "Nouvelle actualité")
    after = client.get("/", headers={"If-None-Match": etag})
    assert after.status_code == 200 and "Nouvelle actualité" in after.get_data(as_text=True)


def test_security_headers_on_every_page(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in response.headers
    secure = client.get("/", base_url="https://portail.test")
    assert "max-age=" in secure.headers["Strict-Transport-Security"]


def test_home_shows_the_latest_featured_news_as_its_lead(app, client):
    _article(app, "ordinaire", "Actualité ordinaire")
    with app.app_context():
        article = db.session.query(Article).filter_by(slug="ordinaire").one()
        db.session.add(Article(slug="une", title="Revue annuelle à la une", body_html="<p>x</p>",
                               featured=True, status=PublishState.PUBLISHED,
                               publish_at=article.publish_at - timedelta(days=3)))
        db.session.commit()
    page = client.get("/").get_data(as_text=True)
    lead = page.split('class="lead-story"')[1].split("</article>")[0]
    assert "Revue annuelle à la une" in lead and "Actualité ordinaire" not in lead


def test_behind_one_proxy_the_client_address_comes_from_x_forwarded_for(database_url, tmp_path,
                                                                        make_user, app):
    from sites import create_app
    from sites.models import AuditEvent

    account = make_user("admin")
    proxied = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "PROXY_COUNT": 1,
                          "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False},
                         instance_path=str(tmp_path / "proxied"))
    response = proxied.test_client().post(
        "/connexion", data={"email": account.email, "password": account.password},
        headers={"X-Forwarded-For": "10.250.3.7"})
    assert response.status_code == 302
    with proxied.app_context():
        event = db.session.query(AuditEvent).filter_by(action="auth.login").one()
        assert event.ip == "10.250.3.7"
        db.session.remove()
        db.engine.dispose()
