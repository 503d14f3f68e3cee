"""Session loading and HTTP security headers."""

from __future__ import annotations

from flask import Flask, Response, request, session
from flask_login import user_loaded_from_cookie

from sites.extensions import db, login_manager
from sites.models import User

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


@login_manager.user_loader
def load_user(identity: str) -> User | None:
    """Load the session's user; a stale session version (disabled account) logs out."""
    user_id, _, version = identity.partition(":")
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or str(user.session_version) != version:
        return None
    return user


def _bind_remembered_session(_app: Flask, user: User) -> None:
    """A sign-in restored from the remember cookie gets the identifier that strong
    session protection checks; without it the next request would sign the user out."""
    session["_id"] = login_manager._session_identifier_generator()


def page_headers() -> dict[str, str]:
    """The security headers of every page (HSTS aside, sent over TLS only).

    nginx sends the same ones with the pages it serves from snapshots: the webhost role's
    `webhost_page_headers` must equal this (tests/test_snapshots_nginx.py checks it).
    """
    return {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Permissions-Policy": "geolocation=(), camera=(), microphone=()",
        "Cross-Origin-Opener-Policy": "same-origin",
    }


HSTS = "max-age=31536000; includeSubDomains"


def _headers(response: Response) -> Response:
    headers = response.headers
    for name, value in page_headers().items():
        headers.setdefault(name, value)
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    """Install the login view and the security headers."""
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "strong"
    user_loaded_from_cookie.connect(_bind_remembered_session)
    app.after_request(_headers)
