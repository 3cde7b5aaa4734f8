"""What the programs' ways in share (the JSON API, the MCP server, replaying votes): asking with a
conversation, and the list of indexed documents as JSON."""

from __future__ import annotations

from typing import Iterable

from qa.answer import Answer
from qa.index import Index


def ask(index: Index, question: str, k: int = 5, sources: list[str] | None = None,
        history: Iterable[dict] | None = None) -> Answer:
    """Index.ask with the ways in's loose types: any iterable of sources or of {role, content} turns."""
    return index.ask(question, k=k, sources=list(sources) if sources else None,
                     history=[dict(t) for t in history] if history else None)


def document_list(index: Index) -> list[dict]:
    """Every indexed document: source, title, format, author, published, url (None where unknown)."""
    return [{"source": d.source, "title": d.title, "format": d.format, "author": d.meta.author,
             "published": d.meta.published, "url": d.meta.url} for d in index.documents()]
