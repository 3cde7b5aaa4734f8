"""What the programs' ways in share (the JSON API, the MCP server, replaying votes): asking with a
conversation, and the list of indexed documents as JSON."""

from __future__ import annotations

import inspect
from typing import Iterable

from qa.answer import Answer
from qa.errors import InvalidInput
from qa.index import Index


def history_arguments(history: Iterable[dict] | None) -> dict:
    """`history=` for Index.ask when a conversation comes before the question. InvalidInput when
    this engine's ask takes none (conversations arrive with a later version of qa)."""
    turns = [dict(t) for t in history or ()]
    if not turns:
        return {}
    if "history" not in inspect.signature(Index.ask).parameters:
        raise InvalidInput("this version of qa answers single questions: history is not supported yet")
    return {"history": turns}


def ask(index: Index, question: str, k: int = 5, sources: list[str] | None = None,
        history: Iterable[dict] | None = None) -> Answer:
    """Index.ask, with the conversation passed on only when there is one."""
    return index.ask(question, k=k, sources=list(sources) if sources else None, **history_arguments(history))


def document_list(index: Index) -> list[dict]:
    """Every indexed document: source, title, format, author, published, url (None where unknown)."""
    return [{"source": d.source, "title": d.title, "format": d.format, "author": d.meta.author,
             "published": d.meta.published, "url": d.meta.url} for d in index.documents()]
