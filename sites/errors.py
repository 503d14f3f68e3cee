"""Error pages in the visitor's language."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger("ptfops.errors")


def init_errors(app: Flask) -> None:
    """Render HTTP errors with the site's layout."""

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        log.warning("CSRF check failed: %s", error.description)
        return render_template("errors/error.html", code=400, reason="csrf"), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        code = error.code or 500
        if code in (403, 413):  # a refused edit or upload: say who tried what
            who = current_user.email if current_user.is_authenticated else "anonymous"
            log.warning("%s %s refused (%s) for %s", request.method, request.path, code, who)
        reason = {403: "forbidden", 404: "not_found", 413: "too_large",
                  429: "too_many"}.get(code, "other")
        return render_template("errors/error.html", code=code, reason=reason), code
