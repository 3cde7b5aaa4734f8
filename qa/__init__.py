"""qa: answers questions about a folder of documents with exact, cited passages.

    from qa import ask, build, Index
    answer = ask("Who chairs the review meetings?")
    answer.found, answer.passages[0].answer, answer.passages[0].source
"""

from qa.answer import Answer, Passage
from qa.index import BuildReport, Index, NoSources, ask, build
from qa.store import IndexIncompatible, IndexLocked, IndexMissing, IndexProblem

__all__ = [
    "ask", "build", "Index", "Answer", "Passage", "BuildReport",
    "NoSources", "IndexProblem", "IndexMissing", "IndexIncompatible", "IndexLocked",
]
