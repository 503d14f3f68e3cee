"""Signing in and out, the `next` redirect, and changing one's password."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
from sqlalchemy import select

from sites.extensions import db
from sites.models import AuditEvent, User
from tests.conftest import Account, AuthActions

NEW_PASSWORD = "la pluie tombe sur Bamako en août"


def _login(client, email: str, password: str, next_url: str | None = None):
    query = {"next": next_url} if next_url is not None else None
    return client.post("/connexion", query_string=query,
                       data={"email": email, "password": password})


def _signed_in(client) -> bool:
    return client.get("/admin/").status_code == 200


def _change(client, current: str, new: str, confirm: str | None = None):
    return client.post("/compte/mot-de-passe", data={
        "current": current, "new": new, "confirm": new if confirm is None else confirm})


def test_the_right_password_signs_in_and_is_recorded(app, client, make_user):
    account = make_user("focal", "gt-sante")
    response = _login(client, account.email.upper(), account.password)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/")
    assert _signed_in(client)
    with app.app_context():
        user = db.session.get(User, account.id)
        assert user.last_login_at is not None
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.login"))
        assert (event.user_id, event.actor) == (account.id, account.email)


def test_the_admin_area_sends_strangers_to_the_login_page(client):
    response = client.get("/admin/groupes/gt-sante/")
    assert response.status_code == 302
    assert "/connexion" in response.headers["Location"]


@pytest.mark.parametrize("case", ["wrong-password", "unknown-email", "disabled-account"])
def test_a_refused_login_says_the_same_thing_and_signs_nobody_in(app, client, make_user, case):
    account = make_user("focal", "gt-sante")
    email, password = account.email, account.password
    if case == "wrong-password":
        password = "not the password"
    elif case == "unknown-email":
        email = "personne@example.org"
    else:
        with app.app_context():
            db.session.get(User, account.id).active = False
            db.session.commit()
    client.get("/langue/en")
    response = _login(client, email, password)
    assert response.status_code == 200
    assert "Wrong e-mail address or password." in response.get_data(as_text=True)
    assert not _signed_in(client)
    with app.app_context():
        assert db.session.scalar(select(AuditEvent).where(
            AuditEvent.action == "auth.login")) is None


def test_next_leads_back_to_a_page_of_the_site(client, make_user):
    account = make_user("focal", "gt-sante")
    response = _login(client, account.email, account.password,
                      next_url="/admin/groupes/gt-sante/?onglet=documents")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/groupes/gt-sante/?onglet=documents")


@pytest.mark.parametrize("target", [
    "https://evil.example/connexion",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "/\t/evil.example/",
    "javascript:alert(1)",
    "admin/",
])
def test_next_never_leads_to_another_site(client, make_user, target):
    account = make_user("focal", "gt-sante")
    response = _login(client, account.email, account.password, next_url=target)
    assert response.status_code == 302
    location = response.headers["Location"]
    # Read the address as a browser would: backslashes are slashes, tabs and newlines vanish.
    as_browser = re.sub(r"[\t\r\n]", "", location).replace("\\", "/")
    assert urlsplit(urljoin("http://portail.test/connexion", as_browser)).netloc == \
        "portail.test", location


def test_signing_out_ends_the_session(client, make_user, auth):
    auth.login(make_user("member", "gt-sante"))
    assert _signed_in(client)
    auth.logout()
    assert not _signed_in(client)


def test_changing_the_password_needs_the_current_one(client, make_user, auth):
    account = make_user("focal", "gt-sante")
    auth.login(account)
    response = _change(client, "not my password", NEW_PASSWORD)
    assert response.status_code == 200
    assert 'class="error"' in response.get_data(as_text=True)
    auth.logout()
    auth.login(account)


@pytest.mark.parametrize(("new", "confirm"), [
    ("court", None),
    ("onze signes", None),
    (NEW_PASSWORD, NEW_PASSWORD + "!"),
], ids=["too-short", "eleven-characters", "confirmation-differs"])
def test_a_bad_new_password_is_refused(client, make_user, auth, new, confirm):
    account = make_user("focal", "gt-sante")
    auth.login(account)
    response = _change(client, account.password, new, confirm)
    assert response.status_code == 200
    assert 'class="error"' in response.get_data(as_text=True)
    auth.logout()
    auth.login(account)


def test_a_new_password_works_and_the_old_one_stops_working(app, client, make_user, auth):
    account = make_user("focal", "gt-sante")
    elsewhere = app.test_client()
    AuthActions(elsewhere).login(account)
    auth.login(account)
    response = _change(client, account.password, NEW_PASSWORD)
    assert response.status_code == 302
    assert _signed_in(client), "the session that changed the password stays signed in"
    assert not _signed_in(elsewhere), "other sessions are signed out"
    auth.logout()
    assert _login(client, account.email, account.password).status_code == 200
    assert not _signed_in(client)
    AuthActions(client).login(Account(account.id, account.email, NEW_PASSWORD))
    assert _signed_in(client)
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.password"))
        assert (event.user_id, event.object_id) == (account.id, str(account.id))


def test_the_password_page_needs_a_signed_in_user(client):
    response = _change(client, "x", NEW_PASSWORD)
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]
