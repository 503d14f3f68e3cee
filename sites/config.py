"""Application settings, read from the environment with safe embedded defaults."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


class ConfigError(Exception):
    """A setting is unusable; the message says which and why."""


def _secret_key(instance: Path) -> str:
    """`$SECRET_KEY`, else a key generated once and kept in the instance folder."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = instance / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_hex(32)
    tmp = key_file.with_suffix(".tmp")
    tmp.write_text(key)
    tmp.chmod(0o600)
    tmp.replace(key_file)
    return key


def database_url(instance: Path) -> str:
    """`$DATABASE_URL` (checked), else SQLite in the instance folder."""
    raw = os.environ.get("DATABASE_URL", "").strip()
    if not raw:
        return f"sqlite:///{instance / 'ptfops.sqlite3'}"
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://"):]
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        raise ConfigError(f"DATABASE_URL is not a database URL: {exc}") from exc
    if url.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ConfigError(
            f"DATABASE_URL: unsupported database '{url.get_backend_name()}' "
            "(use sqlite:/// or postgresql://)"
        )
    if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def build_config(instance: Path) -> dict[str, object]:
    """The Flask configuration for an app whose instance folder is `instance`."""
    instance.mkdir(parents=True, exist_ok=True)
    secure = os.environ.get("PTFOPS_SECURE_COOKIES", "0") == "1"
    return {
        "SECRET_KEY": _secret_key(instance),
        "SQLALCHEMY_DATABASE_URI": database_url(instance),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "UPLOAD_DIR": os.environ.get("PTFOPS_UPLOAD_DIR", str(instance / "uploads")),
        "MAX_UPLOAD_BYTES": int(os.environ.get("PTFOPS_MAX_UPLOAD_MB", "20")) * 1024 * 1024,
        "MAX_CONTENT_LENGTH": int(os.environ.get("PTFOPS_MAX_UPLOAD_MB", "20")) * 1024 * 1024
        + 64 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "PREFERRED_URL_SCHEME": "https" if secure else "http",
        "BABEL_DEFAULT_LOCALE": "fr",
        "BABEL_DEFAULT_TIMEZONE": "Africa/Bamako",
        "LANGUAGES": ("fr", "en"),
        "RATELIMIT_STORAGE_URI": os.environ.get("PTFOPS_RATELIMIT_STORAGE", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATE_LIMIT": os.environ.get("PTFOPS_LOGIN_RATE_LIMIT", "10 per minute"),
        "SITE_URL": os.environ.get("PTFOPS_SITE_URL", ""),
        "PUBLIC_CACHE_SECONDS": int(os.environ.get("PTFOPS_PUBLIC_CACHE_SECONDS", "2")),
        # Static snapshots of public pages for nginx (docs/performance.md); "" = off.
        "SNAPSHOT_DIR": os.environ.get("PTFOPS_SNAPSHOT_DIR", ""),
        "INVENTORY_DIR": os.environ.get("PTFOPS_INVENTORY", ""),
        # Proxies in front of the app (1 behind nginx): client address from X-Forwarded-For.
        "PROXY_COUNT": int(os.environ.get("PTFOPS_PROXY_COUNT", "0")),
        "WTF_CSRF_TIME_LIMIT": None,
        # IATI publication (docs/iati.md): the portal's organisation identifier, type and
        # names, and its publisher id on the IATI Registry.
        "IATI_PUBLISHER_REF": os.environ.get("PTFOPS_IATI_PUBLISHER_REF", "XM-PTF-MALI"),
        "IATI_PUBLISHER_TYPE": os.environ.get("PTFOPS_IATI_PUBLISHER_TYPE", "90"),
        "IATI_PUBLISHER_NAME": os.environ.get(
            "PTFOPS_IATI_PUBLISHER_NAME", "Pool Technique des partenaires techniques et "
            "financiers du Mali"),
        "IATI_PUBLISHER_NAME_EN": os.environ.get(
            "PTFOPS_IATI_PUBLISHER_NAME_EN", "Technical Pool of the technical and financial "
            "partners of Mali"),
        "IATI_REGISTRY_PUBLISHER": os.environ.get("PTFOPS_IATI_REGISTRY_PUBLISHER", "ptf-mali"),
        # The largest IATI XML file accepted by the import form (/admin/iati/import); a
        # request is also capped by MAX_CONTENT_LENGTH (PTFOPS_MAX_UPLOAD_MB).
        "IATI_IMPORT_MAX_BYTES": int(os.environ.get("PTFOPS_IATI_IMPORT_MAX_MB", "20"))
        * 1024 * 1024,
        # The map (docs/iati.md, "Map"): an optional tile server (off: no request leaves the
        # portal), and the size limit of an uploaded boundaries GeoJSON.
        "MAP_TILE_URL": os.environ.get("PTFOPS_MAP_TILE_URL", ""),
        "MAP_TILE_ATTRIBUTION": os.environ.get("PTFOPS_MAP_TILE_ATTRIBUTION", ""),
        "MAP_BOUNDARIES_MAX_MB": int(os.environ.get("PTFOPS_MAP_BOUNDARIES_MAX_MB", "10")),
    }
