"""Accounts management and the audit log, for administrators."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from sites.extensions import db
from sites.models import AuditEvent, MembershipRole, User
from tests.conftest import Account, AuthActions

NEW = "/admin/utilisateurs/nouveau"


@pytest.fixture
def admin(make_user, auth):
    """An administrator, signed in."""
    account = make_user("admin")
    auth.login(account)
    return account


def _create(client, email: str = "awa.traore@example.org", role: str = "focal",
            group: str = "gt-sante"):
    return client.post(NEW, data={"email": email, "name": "Awa Traoré",
                                  "organisation": "Coopération suisse", "role": role,
                                  "group": group})


def _shown_password(response) -> str:
    found = re.findall(r"<code>([^<]+)</code>", response.get_data(as_text=True))
    assert len(found) == 1, "the created account's password must be shown once"
    return found[0]


def _user(app, email: str) -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        assert user is not None
        roles = [(m.group.slug, m.role) for m in user.memberships]
        db.session.expunge(user)
        user.test_roles = roles
        return user


def _toggle(client, user_id: int, action: str):
    return client.post(f"/admin/utilisateurs/{user_id}/{action}")


def test_a_created_account_gets_a_password_shown_once_that_signs_in(app, client, admin):
    response = _create(client)
    assert response.status_code == 200
    password = _shown_password(response)
    assert len(password) >= 16
    created = _user(app, "awa.traore@example.org")
    assert created.name == "Awa Traoré" and created.organisation == "Coopération suisse"
    assert created.test_roles == [("gt-sante", MembershipRole.FOCAL)]
    assert created.password_hash != password and created.password_hash.startswith("$argon2")
    assert password not in client.get("/admin/utilisateurs").get_data(as_text=True)

    newcomer = app.test_client()
    AuthActions(newcomer).login(Account(created.id, "awa.traore@example.org", password))
    assert newcomer.get("/admin/groupes/gt-sante/").status_code == 200
    assert newcomer.get("/admin/groupes/gt-education/").status_code == 403
    assert newcomer.get("/admin/utilisateurs").status_code == 403


def test_an_administrator_account_needs_no_group(app, client, admin):
    assert _create(client, email="it@example.org", role="admin", group="").status_code == 200
    user = _user(app, "it@example.org")
    assert user.is_admin and user.test_roles == []


@pytest.mark.parametrize("group", ["", "gt-inexistant"], ids=["no-group", "unknown-group"])
def test_a_focal_point_needs_an_existing_group(app, client, admin, group):
    response = _create(client, group=group)
    assert response.status_code == 200
    assert 'class="error"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "awa.traore@example.org")) \
            is None


def test_an_email_already_used_is_refused_whatever_its_case(app, client, admin, make_user):
    existing = make_user("member", "gt-sante", email="moussa@example.org")
    response = _create(client, email="Moussa@Example.org")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'class="error"' in page and "<code>" not in page
    with app.app_context():
        assert db.session.scalars(select(User.id).where(
            User.email.ilike("moussa@example.org"))).all() == [existing.id]


def test_an_invalid_email_is_refused(app, client, admin):
    response = _create(client, email="pas-une-adresse")
    assert response.status_code == 200 and 'class="error"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(User).where(User.name == "Awa Traoré")) is None


def test_disabling_an_account_ends_its_sessions_and_enabling_restores_login(
        app, client, admin, make_user):
    member = make_user("focal", "gt-sante")
    other = app.test_client()
    AuthActions(other).login(member)
    assert other.get("/admin/groupes/gt-sante/").status_code == 200

    assert _toggle(client, member.id, "desactiver").status_code == 302
    assert _user(app, member.email).active is False
    signed_out = other.get("/admin/groupes/gt-sante/")
    assert signed_out.status_code == 302 and "/connexion" in signed_out.headers["Location"]
    refused = other.post("/connexion", data={"email": member.email, "password": member.password})
    assert refused.status_code == 200

    assert _toggle(client, member.id, "activer").status_code == 302
    assert _user(app, member.email).active is True
    AuthActions(other).login(member)
    assert other.get("/admin/groupes/gt-sante/").status_code == 200


def test_an_administrator_cannot_disable_their_own_account(app, client, admin):
    response = _toggle(client, admin.id, "desactiver")
    assert response.status_code == 302
    assert _user(app, admin.email).active is True
    assert client.get("/admin/utilisateurs").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(AuditEvent).where(
            AuditEvent.action == "user.disable")) is None


def test_accounts_screens_are_for_administrators_only(app, client, make_user, auth):
    focal = make_user("focal", "gt-sante")
    auth.login(focal)
    assert client.get("/admin/utilisateurs").status_code == 403
    assert _create(client, email="intrus@example.org", role="admin", group="").status_code == 403
    assert _toggle(client, focal.id, "desactiver").status_code == 403
    assert client.get("/admin/journal").status_code == 403
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "intrus@example.org")) is None


def test_the_audit_log_lists_events_newest_first(app, client, admin, make_user):
    _create(client)
    created = _user(app, "awa.traore@example.org")
    _toggle(client, created.id, "desactiver")
    _toggle(client, created.id, "activer")
    page = client.get("/admin/journal").get_data(as_text=True)
    actions = re.findall(r"<code>([a-z_.]+)</code>", page)
    assert actions[:4] == ["user.enable", "user.disable", "user.create", "auth.login"]
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(
            AuditEvent.object_id == str(created.id), AuditEvent.object_type == "user")
            .order_by(AuditEvent.id)).all()
        assert [(e.action, e.actor, e.user_id) for e in events] == [
            (a, admin.email, admin.id) for a in ("user.create", "user.disable", "user.enable")]
    assert admin.email in page and "awa.traore@example.org" in page
