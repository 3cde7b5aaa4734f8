"""The JSON API served beside the web chat (FastAPI routes; OpenAPI docs at /docs):

- `POST /api/ask`: `{question, k, history?, sources?}` → exactly the `qa ask --json` object;
- `POST /api/feedback`: a vote on an answer (that object plus `vote` and an optional comment);
- `GET /api/documents`: what is indexed; `GET /api/health`: the version answering.

Every route but health answers only callers the chat would let in: with `--auth user:password`
the same credentials as HTTP Basic, with `--api-token` that token as `Authorization: Bearer …`.
A question, k, history or sources that cannot be used gets 400 (the engine's message) or 422
(the wrong JSON types), never a traceback.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations as live types.
import base64
import binascii
import secrets
from dataclasses import dataclass, replace
from typing import Literal, Optional

from qa.errors import InvalidInput, InvalidType, QAError
from qa.feedback import MAX_COMMENT_CHARS, MAX_HISTORY_TURNS, MAX_TURN_CHARS, FeedbackStore, vote_from
from qa.index import MAX_K, Index
from qa.service import ask as ask_index
from qa.service import document_list

REALM = "qa"


@dataclass(frozen=True)
class Access:
    """Who may call: anyone (neither set), the chat's login as HTTP Basic, and/or a bearer token."""

    login: Optional[tuple[str, str]] = None
    token: Optional[str] = None

    @property
    def open(self) -> bool:
        return self.login is None and not self.token

    def allows(self, authorization: Optional[str]) -> bool:
        """Whether an `Authorization` header value lets its caller in (compared in constant time)."""
        if self.open:
            return True
        scheme, _, value = (authorization or "").partition(" ")
        scheme, value = scheme.lower(), value.strip()
        if scheme == "bearer" and self.token:
            return secrets.compare_digest(value.encode(), self.token.encode())
        if scheme == "basic" and self.login is not None:
            try:
                user, sep, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            return bool(sep) & secrets.compare_digest(user.encode(), self.login[0].encode()) & secrets.compare_digest(
                password.encode(), self.login[1].encode())
        return False

    def challenge(self) -> str:
        """The WWW-Authenticate header of a refusal: how to get in."""
        return f'Basic realm="{REALM}", charset="UTF-8"' if self.login is not None else f'Bearer realm="{REALM}"'


def make_api(index: Index, access: Access = Access(), feedback: Optional[FeedbackStore] = None):
    """The API as a FastAPI router (mounted by qa.web.server beside the chat)."""
    from fastapi import APIRouter, Depends, HTTPException, Request
    from fastapi.responses import JSONResponse
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBasicCredentials, HTTPBearer
    from pydantic import BaseModel, ConfigDict, Field

    feedback = feedback if feedback is not None else FeedbackStore.beside(index)

    class Turn(BaseModel):
        model_config = ConfigDict(extra="forbid")
        role: Literal["user", "assistant"]
        content: str = Field(max_length=MAX_TURN_CHARS)

    class AskRequest(BaseModel):
        question: str = Field(description="The question; blank is refused, longer than 2,000 characters is cut (with a note).",
                              examples=["Who chairs the review meetings?"])
        k: int = Field(5, ge=1, le=MAX_K, description="How many passages to return.")
        history: list[Turn] = Field(default_factory=list, max_length=MAX_HISTORY_TURNS,
                                    description="The conversation before the question, oldest first.")
        sources: Optional[list[str]] = Field(None, description="Search only these documents: source paths, globs "
                                             "such as 'reports/*.pdf', or folders.", examples=[["seeds/002*"]])

    class PassageOut(BaseModel):
        text: str
        source: str
        title: str
        start: int
        end: int
        line_start: int
        line_end: int
        page: Optional[int]
        score: float
        answer: str
        answer_start: int
        answer_end: int
        also_in: list[str]
        author: Optional[str]
        published: Optional[str]
        url: Optional[str]
        short_answer: Optional[str] = Field(None, description="The short answer inside `answer`, when qa is confident of one.")
        short_start: Optional[int] = None
        short_end: Optional[int] = None

    class AnswerOut(BaseModel):
        """Exactly what `qa ask --json` prints: document[start:end] == text, and
        document[answer_start:answer_end] == answer."""
        question: str
        found: bool
        passages: list[PassageOut]
        searched_for: str = Field(description="What was searched for: the question, or after a conversation the "
                                  "question with the context it was read in.")

    class ShownPassage(BaseModel):
        source: str
        start: int
        end: int
        answer_start: int
        answer_end: int
        text: str
        cited: Optional[bool] = Field(None, description="The vote is about this passage (default: the passages "
                                      "that gave the answer).")

    class FeedbackRequest(BaseModel):
        """An answer as /api/ask returned it (other fields are ignored), with a vote."""
        question: str
        vote: Literal["up", "down"]
        found: bool = True
        passages: list[ShownPassage] = Field(default_factory=list, max_length=MAX_K)
        comment: Optional[str] = Field(None, max_length=MAX_COMMENT_CHARS)
        history: list[Turn] = Field(default_factory=list, max_length=MAX_HISTORY_TURNS)
        sources: Optional[list[str]] = None
        k: Optional[int] = Field(None, ge=1, le=MAX_K, description="The k asked with (default: the passages shown).")
        index_version: Optional[str] = Field(None, description="The index version that answered (default: the current one).")
        key: Optional[str] = Field(None, max_length=100, description="Names the answer voted on: a later vote with "
                                   "the same key replaces this one.")

    class FeedbackOut(BaseModel):
        id: int
        vote: str
        created_at: str
        index_version: Optional[str]
        cited: int = Field(description="How many passages the vote is about.")

    class Document(BaseModel):
        source: str
        title: str
        format: str
        author: Optional[str]
        published: Optional[str]
        url: Optional[str]

    class Health(BaseModel):
        status: str
        version: Optional[str] = None
        documents: Optional[int] = None
        chunks: Optional[int] = None

    class Problem(BaseModel):
        detail: str

    basic = HTTPBasic(auto_error=False, realm=REALM, description="The chat's --auth user:password.")
    bearer = HTTPBearer(auto_error=False, description="The --api-token of qa serve.")

    def guard(request: Request, _basic: Optional[HTTPBasicCredentials] = Depends(basic),
              _bearer: Optional[HTTPAuthorizationCredentials] = Depends(bearer)) -> None:
        if not access.allows(request.headers.get("authorization")):
            raise HTTPException(401, "this qa server needs a login: HTTP Basic with the chat's user and password, "
                                "or Authorization: Bearer <api token>", headers={"WWW-Authenticate": access.challenge()})

    protected = [] if access.open else [Depends(guard)]
    refused = {401: {"model": Problem, "description": "No or wrong credentials."}} if protected else {}
    router = APIRouter(prefix="/api")

    def problem(e: QAError) -> HTTPException:
        """A caller's mistake is 400 with the engine's message; an index that cannot answer, 503."""
        return HTTPException(400 if isinstance(e, (InvalidInput, InvalidType)) else 503, str(e))

    @router.post("/ask", response_model=AnswerOut, dependencies=protected, tags=["answers"],
                 responses={400: {"model": Problem, "description": "A blank question, or sources naming no document."},
                            **refused})
    def ask(body: AskRequest):
        """Answer a question with cited passages copied from the documents: the same JSON as `qa ask --json`."""
        try:
            answer = ask_index(index, body.question, k=body.k, sources=body.sources,
                               history=[t.model_dump() for t in body.history])
        except QAError as e:
            raise problem(e) from None
        return JSONResponse(answer.to_dict())  # as `qa ask --json` builds it, without re-validating

    @router.post("/feedback", response_model=FeedbackOut, status_code=201, dependencies=protected, tags=["feedback"],
                 responses={400: {"model": Problem, "description": "Offsets that do not fit the text, a blank question…"},
                            **refused})
    def record_feedback(body: FeedbackRequest):
        """Record 👍 ("up") or 👎 ("down") on an answer: post back what /api/ask returned, with `vote`.
        Votes are kept beside the index (`qa feedback export` writes them as a test set)."""
        try:
            vote = vote_from(body.model_dump(exclude_none=True), origin="api")
            if vote.index_version is None:
                vote = replace(vote, index_version=index.snapshot().version)
            saved = feedback.record(vote)
        except QAError as e:
            raise problem(e) from None
        return FeedbackOut(id=saved.id, vote=saved.vote, created_at=saved.created_at,
                           index_version=saved.index_version, cited=len(saved.cited))

    @router.get("/documents", response_model=list[Document], dependencies=protected, tags=["index"],
                responses=refused)
    def documents():
        """Every indexed document: its source (what answers cite and `sources` takes), title, format,
        author, published date and URL where the document says."""
        try:
            return JSONResponse(document_list(index))
        except QAError as e:
            raise problem(e) from None

    @router.get("/health", response_model=Health, tags=["index"], responses={503: {"model": Health}})
    def health():
        """Whether the index can answer, and which version does (no login needed)."""
        try:
            stats = index.stats()
        except QAError:
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return Health(status="ok", version=stats["version"], documents=stats["documents"], chunks=stats["chunks"])

    return router


class Guarded:
    """An ASGI app (the MCP endpoint) behind the same Access as the API."""

    def __init__(self, app, access: Access):
        self.app, self.access = app, access

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and not self.access.allows(_header(scope, b"authorization")):
            from starlette.responses import JSONResponse

            response = JSONResponse({"detail": "this qa server needs a login"}, status_code=401,
                                    headers={"WWW-Authenticate": self.access.challenge()})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _header(scope, name: bytes) -> Optional[str]:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None
