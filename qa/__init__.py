"""qa: answers questions about a folder of documents with exact, cited passages.

    from qa import ask, build, Index
    answer = ask("Who chairs the review meetings?")
    answer.found, answer.passages[0].answer, answer.passages[0].source

Importing qa sets nothing in the process: no environment variables, no logging levels. Models are
loaded from folders on disk with local files only; nothing is fetched from a network.
"""

from qa.answer import Answer, Passage
from qa.errors import (IndexIncompatible, IndexLocked, IndexMissing, IndexProblem, IndexUnreadable, IndexWriteFailed,
                       InvalidInput, NoSources, QAError)
from qa.index import BuildReport, Index, ask, build

__all__ = [
    "ask", "build", "Index", "Answer", "Passage", "BuildReport",
    "QAError", "InvalidInput", "NoSources", "IndexProblem", "IndexMissing", "IndexIncompatible", "IndexLocked",
    "IndexUnreadable", "IndexWriteFailed",
]
