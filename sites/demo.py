"""Demo content for a first run: pages, news, documents and meetings across the groups."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from sites.accounts import create_user
from sites.documents import file_store
from sites.extensions import db
from sites.models import Article, Document, Group, Meeting, Page, PublishState, Structure, User
from sites.models.base import utcnow


@dataclass
class SeedResult:
    """The administrator's address, and its password when it was created now."""

    admin_email: str
    password: str | None


PAGES = {
    "pool-technique": [
        ("pool-technique", "Le Pool Technique des PTF",
         "Le Pool Technique est le secrétariat de coordination des partenaires techniques et "
         "financiers (PTF) du Mali. Il appuie les treize groupes thématiques, prépare les "
         "réunions de la troïka et suit les engagements sur l'efficacité de l'aide."),
        ("groupes-thematiques", "Comment fonctionnent les groupes thématiques",
         "Chaque groupe thématique réunit les partenaires d'un secteur autour d'un chef de "
         "file. Les sous-groupes approfondissent un sujet précis. Chaque groupe dispose de sa "
         "plateforme sur ce portail : actualités, documents et calendrier des réunions."),
    ],
    "ct-csclp": [
        ("ct-csclp", "La CT-CSCLP",
         "La Cellule technique du cadre stratégique assure le suivi et l'évaluation du cadre "
         "stratégique de relance économique et de développement durable, en lien avec les "
         "ministères sectoriels et les partenaires."),
    ],
    "sha": [
        ("sha", "Le Secrétariat à l'Harmonisation de l'Aide",
         "Le SHA accompagne le Gouvernement dans l'harmonisation de l'aide, la gestion de la "
         "plateforme de données sur l'aide et le dialogue avec les partenaires."),
    ],
}

NEWS_TOPICS = [
    ("Réunion mensuelle du groupe", "Le groupe a fait le point sur l'avancement des "
     "programmes et sur la préparation de la revue sectorielle annuelle."),
    ("Revue sectorielle conjointe", "La revue conjointe a réuni le ministère, les "
     "partenaires et la société civile pour examiner les résultats de l'année."),
    ("Atelier de validation du plan d'action", "Les participants ont validé le plan "
     "d'action triennal et les indicateurs de suivi."),
    ("Mission conjointe dans les régions", "Une mission conjointe s'est rendue à Ségou, "
     "Sikasso et Mopti pour rencontrer les services techniques et les collectivités."),
    ("Nouveau chef de file du groupe", "Les partenaires ont désigné le nouveau chef de file, "
     "qui assurera la coordination pour les deux prochaines années."),
    ("Publication du rapport annuel", "Le rapport annuel présente les financements, les "
     "réalisations et les défis du secteur."),
]


def minimal_pdf(title: str) -> bytes:
    """A small, valid one-page PDF showing `title` (for demo documents)."""
    text = title.encode("latin-1", "replace").replace(b"(", b"[").replace(b")", b"]")
    stream = b"BT /F1 18 Tf 60 760 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream +
        b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n"
              "%%EOF\n".encode())
    return out.getvalue()


def _pages() -> None:
    for position, (structure_slug, entries) in enumerate(PAGES.items()):
        structure = db.session.scalar(select(Structure).where(Structure.slug == structure_slug))
        for offset, (slug, title, body) in enumerate(entries):
            db.session.add(Page(slug=slug, title=title, summary=body.split(".")[0] + ".",
                                body_html=f"<p>{body}</p>", structure=structure,
                                position=position * 10 + offset,
                                status=PublishState.PUBLISHED, publish_at=utcnow()))


def _group_content(group: Group, rng: random.Random, author: User) -> None:
    now = utcnow()
    store = file_store()
    for n, (title, body) in enumerate(rng.sample(NEWS_TOPICS, 3)):
        when = now - timedelta(days=rng.randint(1, 200), hours=rng.randint(0, 23))
        slug = f"{group.slug}-{n + 1}"
        article = Article(slug=slug, title=f"{title} – {group.short_name}",
                          summary=body, body_html=f"<p>{body}</p><p>{group.description}</p>",
                          group=group, author=author, status=PublishState.PUBLISHED,
                          publish_at=when, featured=n == 0 and group.kind == "gt")
        db.session.add(article)
    for n, doc_type in enumerate(rng.sample(["report", "minutes", "presentation", "terms"], 2)):
        title = f"{group.short_name} – document {n + 1} ({now.year - n})"
        stored = store.save(io.BytesIO(minimal_pdf(title)), f"{group.slug}-{doc_type}.pdf")
        db.session.add(Document(
            title=title, description=f"Document de travail du {group.short_name}.",
            doc_type=doc_type, year=now.year - n, group=group, file_hash=stored.sha256,
            filename=stored.filename, mime_type=stored.mime_type, size=stored.size,
            status=PublishState.PUBLISHED, publish_at=now - timedelta(days=rng.randint(1, 300)),
            featured=n == 0 and group.kind == "gt" and rng.random() < 0.3))
    for offset in (-rng.randint(10, 60), rng.randint(3, 40)):
        start = (now + timedelta(days=offset)).replace(hour=9, minute=30, second=0,
                                                       microsecond=0)
        db.session.add(Meeting(
            title=f"Réunion du {group.short_name}", group=group,
            location="Salle de conférence du Pool Technique, Bamako",
            description="Ordre du jour : suivi des engagements, points divers.",
            starts_at=start, ends_at=start + timedelta(hours=2),
            status=PublishState.PUBLISHED, publish_at=now - timedelta(days=90)))


def seed(admin_email: str = "admin@ptf-mali.local") -> SeedResult:
    """Add demo content once (idempotent); create the administrator if there is none."""
    existing_admin = db.session.scalar(select(User).where(User.is_admin.is_(True)))
    password = None
    if existing_admin is None:
        existing_admin, password = create_user(admin_email, "Administrateur du portail",
                                               "admin", actor="seed-demo")
    if db.session.scalar(select(func.count()).select_from(Article)):
        db.session.commit()
        return SeedResult(existing_admin.email, password)
    rng = random.Random(2026)  # noqa: S311 - demo data, not security
    _pages()
    groups = db.session.scalars(select(Group).where(Group.archived.is_(False))
                                .order_by(Group.position)).all()
    for group in groups:
        _group_content(group, rng, existing_admin)
    db.session.commit()
    return SeedResult(existing_admin.email, password)
