"""Votes on answers, kept beside the index, that become a regression test set.

A vote (👍/👎 under an answer in the web chat, or `POST /api/feedback`) records the question, the
conversation before it, the passages shown with their offsets, the vote, an optional comment, the
time and the index version that answered. Votes live in `<index>/feedback.sqlite`, beside the
index's immutable versions and never inside one: a build never touches them and a vote never
publishes a version. `export` writes them as JSONL; `replay` asks each question again and says
whether each 👍 passage is still in the top k and whether each 👎 one has dropped out of it.

The passages a vote is about are the ones that gave the answer (the chat's cited passages:
`qa.answer.answering_positions`); a vote on "the sources don't answer this" is about that verdict.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable

from qa.answer import answering_positions
from qa.errors import IndexUnreadable, IndexWriteFailed, InvalidInput, InvalidType, QAError
from qa.index import MAX_K, Index, clean_question
from qa.service import ask

FEEDBACK_FILE = "feedback.sqlite"
VOTES = ("up", "down")
MAX_COMMENT_CHARS = 2000
MAX_HISTORY_TURNS = 100
MAX_TURN_CHARS = 20_000
MAX_PASSAGE_CHARS = 100_000
MAX_KEY_CHARS = 100
ROLES = ("user", "assistant")

# Numbered migrations (`PRAGMA user_version` says how many ran): a store written by an older qa is
# brought forward, never rewritten.
MIGRATIONS = [
    """
    CREATE TABLE votes (
        id INTEGER PRIMARY KEY,
        key TEXT UNIQUE,            -- the answer voted on, as the chat names it: a second vote replaces the first
        created_at TEXT NOT NULL,   -- ISO 8601, UTC, of the latest vote
        index_version TEXT,         -- the version that answered
        origin TEXT NOT NULL,       -- web, api
        question TEXT NOT NULL,
        history TEXT NOT NULL,      -- JSON: [{role, content}], oldest first
        sources TEXT,               -- JSON: the documents the question was limited to, or NULL
        k INTEGER NOT NULL,
        found INTEGER NOT NULL,
        vote TEXT NOT NULL CHECK (vote IN ('up', 'down')),
        comment TEXT NOT NULL DEFAULT '',
        passages TEXT NOT NULL      -- JSON: [ShownPassage]
    )
    """,
]


@dataclass(frozen=True)
class ShownPassage:
    """A passage as shown with the answer: `text` is document[start:end], and the answering
    sentence is document[answer_start:answer_end]. `cited`: the vote is about this passage."""

    source: str
    start: int
    end: int
    answer_start: int
    answer_end: int
    text: str
    cited: bool = False

    @property
    def answer(self) -> str:
        return self.text[self.answer_start - self.start : self.answer_end - self.start]

    def to_dict(self) -> dict:
        return {"source": self.source, "start": self.start, "end": self.end, "answer_start": self.answer_start,
                "answer_end": self.answer_end, "answer": self.answer, "text": self.text, "cited": self.cited}


@dataclass(frozen=True)
class Vote:
    question: str
    vote: str  # "up" or "down"
    found: bool
    passages: tuple[ShownPassage, ...]
    k: int
    history: tuple[dict, ...] = ()
    sources: tuple[str, ...] | None = None
    comment: str = ""
    index_version: str | None = None
    origin: str = "api"
    key: str | None = None
    created_at: str = ""
    id: int | None = None

    @property
    def cited(self) -> tuple[ShownPassage, ...]:
        return tuple(p for p in self.passages if p.cited)

    def to_dict(self) -> dict:
        """One line of the exported test set."""
        return {
            "id": self.id, "created_at": self.created_at, "index_version": self.index_version, "origin": self.origin,
            "question": self.question, "history": list(self.history),
            "sources": list(self.sources) if self.sources is not None else None, "k": self.k, "found": self.found,
            "vote": self.vote, "comment": self.comment, "passages": [p.to_dict() for p in self.passages],
        }


# -- reading a vote from JSON ---------------------------------------------------------------------

def _int(data: dict, name: str, default: int | None = None) -> int:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidType(f"{name} must be an integer, not {type(value).__name__}")
    return value


def _str(data: dict, name: str, limit: int, default: str | None = None) -> str:
    value = data.get(name)
    value = default if value is None and default is not None else value
    if not isinstance(value, str):
        raise InvalidType(f"{name} must be a string, not {type(value).__name__}")
    if len(value) > limit:
        raise InvalidInput(f"{name} is longer than {limit} characters")
    return value


def passage_from(data: object) -> ShownPassage:
    """A shown passage from its JSON (an Answer passage's fields are enough; others are ignored)."""
    if not isinstance(data, dict):
        raise InvalidType("each passage must be an object with source, start, end, answer_start, answer_end, text")
    p = ShownPassage(_str(data, "source", 4096), _int(data, "start"), _int(data, "end"), _int(data, "answer_start"),
                     _int(data, "answer_end"), _str(data, "text", MAX_PASSAGE_CHARS), bool(data.get("cited", False)))
    if not (0 <= p.start <= p.answer_start <= p.answer_end <= p.end) or len(p.text) != p.end - p.start:
        raise InvalidInput(f"passage offsets of {p.source} do not fit its text: need 0 <= start <= answer_start <= "
                           "answer_end <= end and len(text) == end - start")
    return p


def history_from(data: object) -> tuple[dict, ...]:
    """A conversation as [{role: user|assistant, content}], oldest first."""
    if data is None:
        return ()
    if not isinstance(data, (list, tuple)):
        raise InvalidType("history must be a list of {role, content} objects")
    if len(data) > MAX_HISTORY_TURNS:
        raise InvalidInput(f"history holds more than {MAX_HISTORY_TURNS} turns")
    turns = []
    for turn in data:
        if not isinstance(turn, dict):
            raise InvalidType("each history turn must be an object {role, content}")
        role = turn.get("role")
        if role not in ROLES:
            raise InvalidInput(f"a history turn's role must be user or assistant, not {role!r}")
        turns.append({"role": role, "content": _str(turn, "content", MAX_TURN_CHARS)})
    return tuple(turns)


def sources_from(data: object) -> tuple[str, ...] | None:
    if data is None:
        return None
    if isinstance(data, str):
        data = [data]
    if not isinstance(data, (list, tuple)) or not all(isinstance(s, str) for s in data):
        raise InvalidType("sources must be a list of source paths or glob patterns")
    return tuple(data)


def vote_from(data: dict, origin: str = "api") -> Vote:
    """A Vote from JSON: the answer as `qa ask --json` gives it (question, found, passages) plus
    `vote` ("up" or "down") and optionally comment, history, sources, k, index_version and key.
    Unless a passage says `cited`, the vote is about the passages that gave the answer."""
    if not isinstance(data, dict):
        raise InvalidType("a vote must be a JSON object")
    vote = data.get("vote")
    if vote not in VOTES:
        raise InvalidInput(f"vote must be 'up' or 'down', not {vote!r}")
    question, _ = clean_question(data.get("question"))
    raw = data.get("passages") or []
    if not isinstance(raw, (list, tuple)):
        raise InvalidType("passages must be a list")
    if len(raw) > MAX_K:
        raise InvalidInput(f"at most {MAX_K} passages")
    passages = [passage_from(p) for p in raw]
    found = data.get("found", bool(passages))
    if not isinstance(found, bool):
        raise InvalidType("found must be true or false")
    if not any(isinstance(p, dict) and "cited" in p for p in raw):
        chosen = set(answering_positions([p.answer for p in passages], found))
        passages = [replace(p, cited=i in chosen) for i, p in enumerate(passages)]
    k = _int(data, "k", max(1, len(passages)))
    if not 1 <= k <= MAX_K:
        raise InvalidInput(f"k must be between 1 and {MAX_K} (got {k})")
    return Vote(
        question=question, vote=vote, found=found, passages=tuple(passages), k=k,
        history=history_from(data.get("history")), sources=sources_from(data.get("sources")),
        comment=_str(data, "comment", MAX_COMMENT_CHARS, default="").strip(),
        index_version=_str(data, "index_version", 200) if data.get("index_version") is not None else None,
        origin=origin, key=_str(data, "key", MAX_KEY_CHARS) if data.get("key") is not None else None,
    )


# -- the store ------------------------------------------------------------------------------------

class FeedbackStore:
    """Votes in one SQLite file (default `<index>/feedback.sqlite`); safe to share between threads
    and processes (one connection per call, SQLite's own locking across processes)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    @classmethod
    def beside(cls, index: Index) -> "FeedbackStore":
        return cls(Path(index.path) / FEEDBACK_FILE)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30)
        done = db.execute("PRAGMA user_version").fetchone()[0]
        for n, sql in enumerate(MIGRATIONS[done:], done + 1):
            with db:
                db.execute(sql)
                db.execute(f"PRAGMA user_version = {n}")
        return db

    def record(self, vote: Vote) -> Vote:
        """Store a vote (a vote with the key of an earlier one replaces its vote and comment);
        returns it with its id and time."""
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        row = (vote.key, created, vote.index_version, vote.origin, vote.question,
               json.dumps(list(vote.history), ensure_ascii=False),
               json.dumps(list(vote.sources), ensure_ascii=False) if vote.sources is not None else None,
               vote.k, int(vote.found), vote.vote, vote.comment,
               json.dumps([p.to_dict() for p in vote.passages], ensure_ascii=False))
        try:
            with self._lock, contextlib.closing(self._connect()) as db, db:
                (vote_id,) = db.execute(
                    "INSERT INTO votes (key, created_at, index_version, origin, question, history, sources, k, found,"
                    " vote, comment, passages) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
                    " ON CONFLICT(key) DO UPDATE SET vote = excluded.vote, comment = excluded.comment,"
                    " created_at = excluded.created_at RETURNING id", row).fetchone()
        except (sqlite3.Error, OSError) as e:
            raise IndexWriteFailed(f"the vote could not be saved in {self.path}: {e}") from e
        return replace(vote, id=vote_id, created_at=created)

    def votes(self) -> list[Vote]:
        """Every vote, oldest first."""
        if not self.path.exists():
            return []
        try:
            with contextlib.closing(self._connect()) as db:
                rows = db.execute(
                    "SELECT id, key, created_at, index_version, origin, question, history, sources, k, found, vote,"
                    " comment, passages FROM votes ORDER BY id").fetchall()
        except sqlite3.Error as e:
            raise IndexUnreadable(f"the votes in {self.path} cannot be read: {e}") from e
        return [_row_vote(r) for r in rows]


def _row_vote(r: tuple) -> Vote:
    vid, key, created, version, origin, question, history, sources, k, found, vote, comment, passages = r
    return Vote(
        question=question, vote=vote, found=bool(found),
        passages=tuple(ShownPassage(**{f: p[f] for f in ShownPassage.__dataclass_fields__}) for p in json.loads(passages)),
        k=k, history=tuple(json.loads(history)), sources=tuple(json.loads(sources)) if sources else None,
        comment=comment, index_version=version, origin=origin, key=key, created_at=created, id=vid)


# -- the test set ---------------------------------------------------------------------------------

def export(votes: Iterable[Vote], out) -> int:
    """Write votes as JSONL (one `Vote.to_dict()` a line) to the text stream `out`; returns how many."""
    n = 0
    for v in votes:
        out.write(json.dumps(v.to_dict(), ensure_ascii=False) + "\n")
        n += 1
    return n


def read_jsonl(path: str | Path) -> list[Vote]:
    """Votes from an exported test set (or one written by hand in the same form)."""
    votes = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            vote = vote_from(data, origin=data.get("origin") or "api")
        except (ValueError, TypeError) as e:  # bad JSON, or a vote that does not validate
            raise InvalidInput(f"{path}, line {n}: {e}") from None
        votes.append(replace(vote, id=data.get("id"), created_at=data.get("created_at") or "",
                             index_version=data.get("index_version")))
    return votes


def _norm(text: str) -> str:
    return " ".join(text.split())


def holds(now, voted: ShownPassage) -> bool:
    """Whether a passage answered now (an Answer's Passage) shows the voted passage's answering
    sentence: at the same offsets of the same source, or, when that document changed since, as the
    same words in it (or in a source it is `also_in`)."""
    a, b = voted.answer_start, voted.answer_end
    if now.source == voted.source and now.start <= a and b <= now.end and now.text[a - now.start : b - now.start] == voted.answer:
        return True
    if now.source == voted.source or voted.source in now.also_in:
        sentence = _norm(voted.answer)
        return bool(sentence) and sentence in _norm(now.text)
    return False


@dataclass(frozen=True)
class Check:
    """One voted passage (or, for a vote on "not found", the verdict) asked again."""

    vote_id: int | None
    vote: str
    question: str
    what: str  # the passage's source and answering sentence, or "(not found)"
    rank_then: int | None  # 1-based, when voted
    rank_now: int | None  # 1-based in the top k now, None when gone
    status: str  # kept / LOST (👍), dropped / still shown (👎), still not found / now answers
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "LOST"

    def to_dict(self) -> dict:
        return {"vote_id": self.vote_id, "vote": self.vote, "question": self.question, "what": self.what,
                "rank_then": self.rank_then, "rank_now": self.rank_now, "status": self.status, "detail": self.detail}


@dataclass(frozen=True)
class Replay:
    checks: tuple[Check, ...]
    votes: int
    k: int | None = None  # the k every question was asked with, when overridden
    counts: dict = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """A 👍 passage fell out of the top k (what gates CI)."""
        return any(c.failed for c in self.checks)

    def to_dict(self) -> dict:
        return {"votes": self.votes, "counts": self.counts, "failed": self.failed,
                "checks": [c.to_dict() for c in self.checks]}

    def table(self) -> str:
        """Counts, then one row per voted passage: the vote, its rank when voted and now, the status,
        the question, and under it the passage (source and answering sentence)."""
        c = self.counts
        lost = c["up_passages"] - c["up_kept"]
        lines = [
            f"{self.votes} votes replayed" + (f" with k={self.k}" if self.k else ""),
            f"  👍 passages still in the top k: {c['up_kept']}/{c['up_passages']}" + (f"   LOST: {lost}" if lost else ""),
            f"  👎 passages dropped from the top k: {c['down_dropped']}/{c['down_passages']}",
            f"  votes on 'not found' that still find nothing: {c['notfound_still']}/{c['notfound_votes']}",
            "",
            f"{'vote':4} {'id':>5} {'then':>5} {'now':>5}  {'status':15}  question / passage",
        ]
        rank = lambda r: f"#{r}" if r else "—"  # noqa: E731
        for ch in self.checks:
            vote_id = "" if ch.vote_id is None else ch.vote_id
            emoji = "👍  " if ch.vote == "up" else "👎  "  # two columns wide on a terminal
            lines.append(f"{emoji} {vote_id:>5} {rank(ch.rank_then):>5} {rank(ch.rank_now):>5}"
                         f"  {ch.status:15}  {ch.question}")
            lines.append(f"{'':41}{ch.what}" + (f" ({ch.detail})" if ch.detail else ""))
        return "\n".join(lines)


def replay(index: Index, votes: Iterable[Vote], k: int | None = None) -> Replay:
    """Ask every voted question again (same k, documents and conversation, unless `k` is given)
    and check each voted passage: a 👍 one must still be in the top k, a 👎 one should be gone."""
    checks: list[Check] = []
    n = 0
    for v in votes:
        n += 1
        try:
            answer = ask(index, v.question, k=k or v.k, sources=v.sources, history=v.history)
            error = ""
        except QAError as e:  # the documents asked within are gone, say: every voted passage is gone
            answer, error = None, str(e)
        now = list(answer.passages) if answer is not None else []
        if not v.cited:  # a vote on "the sources don't answer this"
            still = answer is not None and not answer.found
            checks.append(Check(v.id, v.vote, v.question, "(not found)", None, None,
                                "still not found" if still else "now answers", error))
            continue
        for then, p in ((i, p) for i, p in enumerate(v.passages, 1) if p.cited):
            rank = next((i for i, q in enumerate(now, 1) if holds(q, p)), None)
            if v.vote == "up":
                status = "kept" if rank else "LOST"
            else:
                status = "still shown" if rank else "dropped"
            sentence = _norm(p.answer)
            what = f"{p.source}: “{sentence if len(sentence) <= 90 else sentence[:89] + '…'}”"
            checks.append(Check(v.id, v.vote, v.question, what, then, rank, status, error))
    up = [c for c in checks if c.vote == "up" and c.rank_then]
    down = [c for c in checks if c.vote == "down" and c.rank_then]
    notfound = [c for c in checks if not c.rank_then]
    counts = {
        "up_passages": len(up), "up_kept": sum(c.status == "kept" for c in up),
        "down_passages": len(down), "down_dropped": sum(c.status == "dropped" for c in down),
        "notfound_votes": len(notfound), "notfound_still": sum(c.status == "still not found" for c in notfound),
    }
    return Replay(tuple(checks), n, k, counts)


__all__ = ["FeedbackStore", "Vote", "ShownPassage", "vote_from", "export", "read_jsonl", "replay", "Replay", "Check",
           "FEEDBACK_FILE"]
