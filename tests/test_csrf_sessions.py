"""CSRF on every form, login rate limiting, sessions, cookies and password storage."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from limits import parse
from sqlalchemy import select

from sites.accounts import set_active
from sites.config import build_config
from sites.extensions import db
from sites.models import Group, User
from tests.test_authz_matrix import (
    CASES,
    PASSWORD,
    World,
    build_world,
    route_keys,
    snapshot,
)

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
CSRF_MESSAGE = "Le formulaire a expiré"


def form_token(client: FlaskClient, path: str) -> str:
    """The CSRF token of the form on the page at `path`."""
    page = client.get(path)
    assert page.status_code == 200, path
    match = TOKEN.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login_with_token(client: FlaskClient, email: str, password: str = PASSWORD,
                     **extra: str):
    """Sign in through the form, with the token the login page gave."""
    token = form_token(client, "/connexion")
    return client.post("/connexion", data={"email": email, "password": password,
                                           "csrf_token": token, **extra})


def signed_in(client: FlaskClient) -> bool:
    """Whether `client`'s session is signed in (the editor's home answers)."""
    return client.get("/admin/").status_code == 200


def session_cookie(response) -> str:
    """The Set-Cookie header of the session cookie in `response`."""
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    assert headers, response.headers
    return headers[-1]


def flags(set_cookie: str) -> set[str]:
    """The attributes of a Set-Cookie header, lower-cased (`samesite=lax`, `httponly`...)."""
    return {part.strip().lower() for part in set_cookie.split(";")[1:]}


# --- CSRF ------------------------------------------------------------------------------------


@pytest.mark.csrf
def test_every_post_route_refuses_a_request_without_a_valid_token_and_changes_nothing(app):
    world = build_world(app)
    client = app.test_client()
    assert login_with_token(client, world.emails["admin"]).status_code == 302
    posts = {rule for rule, method in route_keys(app) if method == "POST"}
    cases = {case.rule: case for case in CASES if case.method == "POST"}
    assert posts <= cases.keys(), f"POST routes without a request to try: {posts - cases.keys()}"
    before = snapshot(app)
    wrong = []
    for rule in sorted(posts):
        for token in (None, "jeton-invente"):
            case = cases[rule]
            data = case.data(world) if case.data else {}
            if token:
                data["csrf_token"] = token
            response = client.post(case.url(world), data=data,
                                   content_type="multipart/form-data")
            page = response.get_data(as_text=True)
            if response.status_code != 400 or CSRF_MESSAGE not in page:
                wrong.append(f"{rule} (token={token}): {response.status_code}")
            if snapshot(app) != before:
                wrong.append(f"{rule} (token={token}): the database or uploads changed")
                before = snapshot(app)
    assert not wrong, "\n".join(wrong)
    assert signed_in(client), "the refused logout must not have signed the admin out"


@pytest.mark.csrf
def test_a_form_posted_with_the_token_of_its_page_is_accepted(app):
    world = build_world(app)
    client = app.test_client()
    assert login_with_token(client, world.emails["focal"]).status_code == 302
    token = form_token(client, "/admin/groupes/gt-sante/identite")
    response = client.post("/admin/groupes/gt-sante/identite",
                           data={"colour": "#0a7d3c", "tagline": "", "csrf_token": token})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Group.colour).where(Group.slug == "gt-sante")) \
            == "#0a7d3c"
    token = form_token(client, "/admin/")  # the sign-out button of the editing screens
    assert client.post("/deconnexion", data={"csrf_token": token}).status_code == 302
    assert not signed_in(client)


@pytest.mark.csrf
def test_login_without_a_token_is_refused_and_with_the_form_token_it_works(app):
    world = build_world(app)
    client = app.test_client()
    refused = client.post("/connexion", data={"email": world.emails["member"],
                                              "password": PASSWORD})
    assert refused.status_code == 400
    assert CSRF_MESSAGE in refused.get_data(as_text=True)
    assert not signed_in(client)
    assert login_with_token(client, world.emails["member"]).status_code == 302
    assert signed_in(client)


@pytest.mark.csrf
def test_a_token_from_another_visitors_session_is_refused(app):
    world = build_world(app)
    stranger = app.test_client()
    token = form_token(stranger, "/connexion")
    client = app.test_client()
    response = client.post("/connexion", data={"email": world.emails["member"],
                                               "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 400
    assert not signed_in(client)


# --- Login rate limiting -------------------------------------------------------------------


def test_login_rate_limit_defaults_to_ten_per_minute(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("PTFOPS_LOGIN_RATE_LIMIT", raising=False)
    assert build_config(tmp_path)["LOGIN_RATE_LIMIT"] == "10 per minute"
    monkeypatch.setenv("PTFOPS_LOGIN_RATE_LIMIT", "5 per hour")
    assert build_config(tmp_path)["LOGIN_RATE_LIMIT"] == "5 per hour"


def _fail_logins(client: FlaskClient, email: str, times: int) -> list[int]:
    return [client.post("/connexion", data={"email": email, "password": "mauvais"}).status_code
            for _ in range(times)]


@pytest.mark.ratelimit
def test_too_many_failed_logins_get_429_even_with_the_right_password(app):
    world = build_world(app)
    client = app.test_client()
    allowed = parse(app.config["LOGIN_RATE_LIMIT"]).amount
    assert _fail_logins(client, world.emails["admin"], allowed) == [200] * allowed
    blocked = client.post("/connexion", data={"email": world.emails["admin"],
                                              "password": PASSWORD})
    assert blocked.status_code == 429
    assert "Trop de tentatives" in blocked.get_data(as_text=True)
    assert not signed_in(client)
    assert client.get("/connexion").status_code == 200  # the form itself is not limited


@pytest.mark.ratelimit
def test_login_rate_limit_follows_the_configured_value(app):
    world = build_world(app)
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    client = app.test_client()
    assert _fail_logins(client, world.emails["member"], 4) == [200, 200, 200, 429]


# --- Sessions --------------------------------------------------------------------------------


def _signed_in_client(app: Flask, world: World, role: str, **extra: str) -> FlaskClient:
    client = app.test_client()
    response = client.post("/connexion", data={"email": world.emails[role],
                                                "password": PASSWORD, **extra})
    assert response.status_code == 302
    assert signed_in(client)
    return client


def _set_active(app: Flask, email: str, active: bool) -> None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        set_active(user, active, actor="test")
        db.session.commit()


def test_disabling_an_account_ends_its_open_session_on_the_next_request(app):
    world = build_world(app)
    client = _signed_in_client(app, world, "focal")
    _set_active(app, world.emails["focal"], False)
    response = client.get("/admin/groupes/gt-sante/")
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]
    _set_active(app, world.emails["focal"], True)
    assert not signed_in(client), "re-enabling must not revive the old session"
    assert _signed_in_client(app, world, "focal")


def test_an_administrator_disabling_an_account_signs_it_out_and_blocks_its_login(app):
    world = build_world(app)
    member = _signed_in_client(app, world, "member")
    admin = _signed_in_client(app, world, "admin")
    with app.app_context():
        member_id = db.session.scalar(select(User.id).where(
            User.email == world.emails["member"]))
    assert admin.post(f"/admin/utilisateurs/{member_id}/desactiver").status_code == 302
    assert not signed_in(member)
    again = member.post("/connexion", data={"email": world.emails["member"],
                                            "password": PASSWORD})
    assert again.status_code == 200 and not signed_in(member)


def test_stay_signed_in_survives_the_end_of_the_browser_session(app):
    world = build_world(app)
    client = _signed_in_client(app, world, "member", remember="y")
    client.delete_cookie("session", domain="portail.test")
    assert signed_in(client)
    assert signed_in(client), "the remembered sign-in must last beyond one request"


def test_the_remember_cookie_of_a_disabled_account_no_longer_signs_in(app):
    world = build_world(app)
    client = _signed_in_client(app, world, "member", remember="y")
    _set_active(app, world.emails["member"], False)
    _set_active(app, world.emails["member"], True)
    client.delete_cookie("session", domain="portail.test")
    assert client.get_cookie("remember_token", domain="portail.test") is not None
    assert not signed_in(client)


def test_logout_only_answers_post(app):
    world = build_world(app)
    client = _signed_in_client(app, world, "member")
    assert client.get("/deconnexion").status_code == 405
    assert signed_in(client)
    assert client.post("/deconnexion").status_code == 302
    assert not signed_in(client)


# --- Cookies ---------------------------------------------------------------------------------


def test_session_cookie_is_httponly_and_samesite_lax_but_not_secure_by_default(app):
    world = build_world(app)
    assert app.config["SESSION_COOKIE_SECURE"] is False
    response = app.test_client().post("/connexion", data={"email": world.emails["member"],
                                                           "password": PASSWORD})
    attributes = flags(session_cookie(response))
    assert {"httponly", "samesite=lax"} <= attributes
    assert "secure" not in attributes


@pytest.fixture
def secure_app(database_url: str, tmp_path: Path, monkeypatch):
    """The portal configured for HTTPS (PTFOPS_SECURE_COOKIES=1)."""
    from sites import create_app

    monkeypatch.setenv("PTFOPS_SECURE_COOKIES", "1")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url,
                      "UPLOAD_DIR": str(tmp_path / "uploads"), "RATELIMIT_ENABLED": False,
                      "WTF_CSRF_ENABLED": False, "SERVER_NAME": "portail.test"},
                     instance_path=str(tmp_path / "secure-instance"))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_secure_cookies_setting_marks_session_and_remember_cookies_secure(secure_app):
    world = build_world(secure_app)
    assert secure_app.config["SESSION_COOKIE_SECURE"] is True
    client = secure_app.test_client()
    response = client.post("/connexion", base_url="https://portail.test",
                           data={"email": world.emails["member"], "password": PASSWORD,
                                 "remember": "y"})
    assert response.status_code == 302
    assert {"secure", "httponly", "samesite=lax"} <= flags(session_cookie(response))
    remember = [h for h in response.headers.getlist("Set-Cookie")
                if h.startswith("remember_token=")]
    assert remember and {"secure", "httponly"} <= flags(remember[0])
    language = client.get("/langue/en", base_url="https://portail.test")
    assert "secure" in flags(language.headers["Set-Cookie"])


# --- Password storage ------------------------------------------------------------------------


def test_passwords_are_stored_as_argon2id_hashes_never_in_clear(app, make_user, auth, client):
    account = make_user("focal", "gt-sante")
    with app.app_context():
        stored = db.session.get(User, account.id).password_hash
    assert stored.startswith("$argon2id$") and account.password not in stored
    auth.login(make_user("admin"))
    created = client.post("/admin/utilisateurs/nouveau", data={
        "email": "nouvelle@example.org", "name": "Nouvelle", "role": "member",
        "group": "gt-sante"})
    assert created.status_code == 200
    password = re.search(r"<code>([^<]+)</code>", created.get_data(as_text=True)).group(1)
    with app.app_context():
        stored = db.session.scalar(select(User.password_hash).where(
            User.email == "nouvelle@example.org"))
    assert stored.startswith("$argon2id$") and password not in stored
