"""Every error qa raises on purpose, under one root: `except qa.QAError` catches them all.

Each message says what is wrong and what to do. Errors about what a caller passed in also
derive from ValueError or TypeError, so code written against those keeps working.
Storage back-ends raise their own exceptions (sqlite3, OSError, pymilvus); qa wraps them into
`IndexUnreadable` or `IndexWriteFailed` before they reach a caller.
"""

from __future__ import annotations


class QAError(Exception):
    """Root of the errors qa raises for a person or a program to act on."""


# -- what the caller passed in -------------------------------------------------------------------
class InvalidInput(QAError, ValueError):
    """A question, k, history, filter or setting that cannot be used as given."""


class InvalidType(QAError, TypeError):
    """An argument of the wrong type (a number where a string belongs, ...)."""


class NoSources(QAError, ValueError):
    """Nothing indexable was found where the build was pointed."""


class Unreadable(QAError, ValueError):
    """Raised by a loader for a file it cannot read; the message is the reason shown to the user.
    A build never lets it escape: the file is reported as skipped and the rest is indexed."""


class MissingExtra(QAError, ImportError):
    """An optional feature whose package is not installed; the message names the pip extra."""


class InvalidModel(QAError, FileNotFoundError):
    """A --model or --reranker folder that does not hold such a model."""


class EmbeddingFailed(QAError, RuntimeError):
    """Encoding went wrong outside qa's control (a remote encoder returned the wrong rows)."""


# -- the index -----------------------------------------------------------------------------------
class IndexProblem(QAError):
    """Base for index problems a user can act on (the message says what to do)."""


class IndexMissing(IndexProblem):
    """No index has been built at this place yet."""


class IndexIncompatible(IndexProblem):
    """The index was built by another format, model or precision; the message gives the rebuild command."""


class IndexLocked(IndexProblem):
    """Another build holds the writer lock (raised only when asked not to wait)."""


class IndexUnreadable(IndexProblem):
    """The stored index cannot be read (a damaged file, an unreachable Milvus)."""


class IndexWriteFailed(IndexProblem, OSError):
    """Writing a new version failed (a full disk, a file size limit, a lost server). The previous
    version is unchanged and keeps answering. An OSError too, as the failure it wraps was one."""


__all__ = [
    "QAError", "InvalidInput", "InvalidType", "NoSources", "Unreadable", "MissingExtra", "InvalidModel", "EmbeddingFailed",
    "IndexProblem", "IndexMissing", "IndexIncompatible", "IndexLocked", "IndexUnreadable", "IndexWriteFailed",
]
