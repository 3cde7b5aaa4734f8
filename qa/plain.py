"""Answers as plain text, for a terminal (`qa ask`) and for agents (the MCP `ask` tool)."""

from __future__ import annotations

import textwrap

from qa.answer import Answer
from qa.text import tidy


def render_text(answer: Answer, width: int = 100) -> str:
    """Human-readable answer: the answering sentence first, then numbered cited passages."""
    out = []
    if answer.short_answer:  # the exact answer first, when qa is sure of one (qa.span)
        out.append(f"Answer: {tidy(answer.short_answer)}")
    if answer.found:
        out.append(textwrap.fill(tidy(answer.passages[0].answer), width))
        out.append("")
        out.append("Sources:")
    else:
        out.append("The sources do not answer this question. Closest passages:")
    for n, p in enumerate(answer.passages, 1):
        # A section path usually starts with the title ("Report › 2. Summary"): don't say it twice.
        heading = p.section if p.section.split(" › ")[0] == p.title else " › ".join(x for x in (p.title, p.section) if x)
        credit = "".join(f"; {x}" for x in (p.credit, p.url) if x)
        out.append(f"[{n}] {heading} — {p.source}, {p.location}{credit} (score {p.score:.2f})")
        if p.also_in:
            out.append(f"    also in: {', '.join(p.also_in)}")
        body = tidy(p.text)
        sentence = tidy(p.answer)
        body = body.replace(sentence, f">>{sentence}<<", 1) if sentence else body
        out.append(textwrap.indent(textwrap.fill(body, width - 4), "    "))
    for note in answer.notes:
        out.append(f"note: {note}")
    if answer.searched_for and answer.searched_for != answer.question:  # a follow-up, read in its context
        out.append(f"searched for: {answer.searched_for}")
    return "\n".join(out)
