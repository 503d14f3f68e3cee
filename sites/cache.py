"""Public-page caching: validators from the content version, headers for nginx's cache.

Every content change bumps `site_state.version` (see `sites.changes`); a public
page's ETag is derived from that version, the URL and the language, so a
browser or nginx revalidates with a cheap 304 and a publish is seen at once.
nginx keeps each public page for `PUBLIC_CACHE_SECONDS` (X-Accel-Expires),
which bounds how stale a page can be while the app serves only one request
per page per interval, whatever the crowd.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, current_app, make_response, request
from flask_babel import get_locale
from flask_login import current_user

from sites import snapshots
from sites import stamp as stamp_module
from sites.stamp import Stamp, content_stamp


def _etag(stamp: Stamp) -> str:
    # The last change with the version: a restored database may reach the same version
    # number with other content (another host's backup), never the same instant.
    version, changed, due = stamp
    key = f"{version}|{changed}|{due}|{request.full_path}|{get_locale()}|{stamp_module.RELEASE}"
    return hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:20]


def public_page(view: Callable[..., Any]) -> Callable[..., Response]:
    """Make a public view answer conditional GETs and be cacheable by nginx."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        if current_user.is_authenticated:
            response = make_response(view(*args, **kwargs))
            response.headers["Cache-Control"] = "private, no-store"
            return response
        stamp = content_stamp()
        etag = _etag(stamp)
        last_modified = max(d for d in (stamp[1], stamp[2]) if d is not None)
        if request.if_none_match.contains(etag):
            response = Response(status=304)
        else:
            response = make_response(view(*args, **kwargs))
            snapshots.mark(stamp, str(get_locale()))
        if response.status_code in (200, 304):
            response.set_etag(etag)
            response.last_modified = last_modified
            response.headers["Cache-Control"] = "public, max-age=0, must-revalidate"
            seconds = current_app.config["PUBLIC_CACHE_SECONDS"]
            response.headers["X-Accel-Expires"] = str(seconds)
        return response

    return wrapper
