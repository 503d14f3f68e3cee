"""Language choice: French by default, English on request (remembered in a cookie)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, has_request_context, redirect, request

bp = Blueprint("i18n", __name__)
COOKIE = "lang"


def select_locale() -> str:
    """The `lang` cookie when it names a known language, else French (also outside requests)."""
    if not has_request_context():
        return "fr"
    lang = request.cookies.get(COOKIE, "")
    return lang if lang in current_app.config["LANGUAGES"] else "fr"


def safe_next(target: str | None, default: str = "/") -> str:
    """A same-site path to go back to, never another host."""
    if not target:
        return default
    parts = urlsplit(target)
    if (parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//")
            or "\\" in target or any(ord(c) < 32 for c in target)):
        return default
    return target


@bp.get("/langue/<code>")
def switch(code: str):
    """Remember the chosen language and go back to the page the visitor was on."""
    response = redirect(safe_next(request.args.get("next")))
    if code in current_app.config["LANGUAGES"]:
        response.set_cookie(COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax",
                            secure=current_app.config["SESSION_COOKIE_SECURE"], httponly=True)
    return response
