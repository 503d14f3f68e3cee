"""A platform's identity (colour, tagline, logo, banner) set by its focal point."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from pathlib import Path

import pytest
from sqlalchemy import select

from sites.demo import minimal_pdf
from sites.extensions import db
from sites.inventory_sync import sync_groups
from sites.models import AuditEvent, Group

URL = "/admin/groupes/gt-sante/identite"


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real, valid PNG image of one colour."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


@pytest.fixture
def focal(make_user, auth):
    """A focal point of gt-sante, signed in."""
    account = make_user("focal", "gt-sante")
    auth.login(account)
    return account


@pytest.fixture
def public(app):
    """An anonymous visitor."""
    return app.test_client()


def _group(app, slug: str = "gt-sante") -> Group:
    with app.app_context():
        group = db.session.scalar(select(Group).where(Group.slug == slug))
        db.session.expunge(group)
        return group


def _save(client, **fields: object):
    data = {"colour": "#0a7d4f", "tagline": "La santé pour tous au Mali", **fields}
    return client.post(URL, data=data, content_type="multipart/form-data")


def test_colour_and_tagline_show_on_the_platform(app, client, focal, public):
    response = _save(client)
    assert response.status_code == 302
    group = _group(app)
    assert (group.colour, group.tagline) == ("#0a7d4f", "La santé pour tous au Mali")
    page = public.get("/groupes/gt-sante/").get_data(as_text=True)
    assert "La santé pour tous au Mali" in page
    assert '<meta name="theme-color" content="#0a7d4f">' in page


def test_a_colour_that_is_not_hex_is_refused(app, client, focal):
    before = _group(app).colour
    response = _save(client, colour="vert; background:url(//evil)")
    assert response.status_code == 200
    assert 'class="error"' in response.get_data(as_text=True)
    assert _group(app).colour == before


def test_logo_and_banner_are_stored_by_hash_and_served_as_images(app, client, focal, public):
    logo, banner = png(64, 64, (10, 125, 79)), png(600, 150, (240, 240, 240))
    response = _save(client, logo=(io.BytesIO(logo), "logo.png"),
                     banner=(io.BytesIO(banner), "banniere.png"))
    assert response.status_code == 302
    group = _group(app)
    assert group.logo_hash == hashlib.sha256(logo).hexdigest()
    assert group.banner_hash == hashlib.sha256(banner).hexdigest()
    root = Path(app.config["UPLOAD_DIR"])
    assert (root / group.logo_hash[:2] / group.logo_hash).read_bytes() == logo
    page = public.get("/groupes/gt-sante/").get_data(as_text=True)
    assert f"/medias/{group.logo_hash}" in page and f"/medias/{group.banner_hash}" in page
    for sha, content in ((group.logo_hash, logo), (group.banner_hash, banner)):
        media = public.get(f"/medias/{sha}")
        assert media.status_code == 200 and media.data == content
        assert media.mimetype == "image/png"
        assert "max-age=31536000" in media.headers["Cache-Control"]


def test_saving_again_without_files_keeps_the_logo(app, client, focal):
    logo = png(32, 32, (1, 2, 3))
    _save(client, logo=(io.BytesIO(logo), "logo.png"))
    _save(client, tagline="Nouvelle devise")
    group = _group(app)
    assert group.logo_hash == hashlib.sha256(logo).hexdigest()
    assert group.tagline == "Nouvelle devise"


@pytest.mark.parametrize(("content", "name"), [
    (minimal_pdf("Pas une image"), "logo.pdf"),
    (minimal_pdf("Déguisé"), "logo.png"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "logo.svg"),
], ids=["pdf", "pdf-named-png", "svg"])
def test_a_logo_that_is_not_a_png_or_jpeg_is_refused(app, client, focal, content, name):
    response = _save(client, tagline="Ne doit pas être enregistrée",
                     logo=(io.BytesIO(content), name))
    assert response.status_code == 200
    assert 'class="error"' in response.get_data(as_text=True)
    group = _group(app)
    assert group.logo_hash is None and group.tagline == ""
    root = Path(app.config["UPLOAD_DIR"])
    assert not root.exists() or [p for p in root.rglob("*") if p.is_file()] == []


def test_medias_serves_only_platform_images(app, client, focal, public):
    pdf = minimal_pdf("Rapport")
    client.post("/admin/groupes/gt-sante/documents/nouveau", data={
        "title": "Rapport", "doc_type": "report", "year": "2025", "status": "published",
        "file": (io.BytesIO(pdf), "rapport.pdf")}, content_type="multipart/form-data")
    assert public.get(f"/medias/{hashlib.sha256(pdf).hexdigest()}").status_code == 404
    assert public.get(f"/medias/{'0' * 64}").status_code == 404
    assert public.get("/medias/..%2F..%2Fsecret_key").status_code == 404


def test_the_identity_set_by_the_focal_point_survives_an_inventory_sync(app, client, focal):
    _save(client, colour="#123456")
    with app.app_context():
        sync_groups(app.extensions["ptfops.inventory"])
    assert _group(app).colour == "#123456"


def test_a_focal_point_cannot_change_another_platform(app, client, make_user, auth):
    auth.login(make_user("focal", "gt-education"))
    assert client.get(URL).status_code == 403
    assert _save(client).status_code == 403
    assert _group(app).tagline == ""


def test_an_identity_change_is_written_to_the_audit_log(app, client, focal):
    _save(client)
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "group.identity"))
        group_id = db.session.scalar(select(Group.id).where(Group.slug == "gt-sante"))
        assert (event.user_id, event.actor) == (focal.id, focal.email)
        assert (event.object_type, event.object_id) == ("group", str(group_id))
        assert "#0a7d4f" in event.summary


def test_a_colour_too_light_for_white_text_is_refused(app, client, make_user, auth):
    auth.login(make_user("focal", "gt-sante"))
    response = client.post("/admin/groupes/gt-sante/identite",
                           data={"colour": "#ffe066", "tagline": "x"})
    assert response.status_code == 200
    with app.app_context():
        assert db.session.query(Group).filter_by(slug="gt-sante").one().colour != "#ffe066"
