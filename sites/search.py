"""Full-text search over pages, news and documents (SQLite FTS5 or PostgreSQL)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

from sites.sanitize import plain_text

SEARCHABLE = ("page", "article", "document")
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Hit:
    """One search result: what it is, its id, and a short excerpt."""

    kind: str
    ref_id: int
    excerpt: str


def entry_for(obj: object) -> tuple[str, int, str, str] | None:
    """(kind, id, title, body) for an indexable object, else None."""
    kind = type(obj).__name__.lower()
    if kind not in SEARCHABLE:
        return None
    body = " ".join(
        part for part in (
            getattr(obj, "summary", ""),
            plain_text(getattr(obj, "body_html", "") or ""),
            getattr(obj, "description", ""),
            getattr(obj, "filename", ""),
        ) if part
    )
    return kind, obj.id, obj.title, body  # type: ignore[attr-defined]


def reindex(conn: Connection, kind: str, ref_id: int, title: str | None, body: str) -> None:
    """Replace the index row of one object (`title` None removes it)."""
    conn.execute(text("DELETE FROM search_index WHERE kind = :k AND ref_id = :i"),
                 {"k": kind, "i": ref_id})
    if title is not None:
        conn.execute(
            text("INSERT INTO search_index (kind, ref_id, title, body) VALUES (:k, :i, :t, :b)"),
            {"k": kind, "i": ref_id, "t": title, "b": body},
        )


def _fts5_query(query: str) -> str:
    words = _WORD.findall(query)[:12]
    return " AND ".join(f'"{w}"*' for w in words)


def search(conn: Connection, query: str, limit: int = 60) -> list[Hit]:
    """Index rows matching `query`, best first; an empty query finds nothing."""
    if not _WORD.search(query or ""):
        return []
    if conn.dialect.name == "sqlite":
        rows = conn.execute(
            text("SELECT kind, ref_id, snippet(search_index, 3, '', '', ' … ', 24) "
                 "FROM search_index WHERE search_index MATCH :q ORDER BY rank LIMIT :n"),
            {"q": _fts5_query(query), "n": limit},
        )
    else:
        rows = conn.execute(
            text("SELECT kind, ref_id, ts_headline('ptfops_fr', body, q, "
                 "'StartSel=\"\",StopSel=\"\",MaxWords=30,MinWords=10') "
                 "FROM search_index, websearch_to_tsquery('ptfops_fr', :q) q "
                 "WHERE tsv @@ q ORDER BY ts_rank(tsv, q) DESC LIMIT :n"),
            {"q": " ".join(_WORD.findall(query)[:12]), "n": limit},
        )
    return [Hit(kind, int(ref_id), excerpt or "") for kind, ref_id, excerpt in rows]
