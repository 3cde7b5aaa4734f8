"""Command line: a thin layer over the library (qa.index); heavy imports happen inside commands."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Cited extractive answers from your documents.")

IndexOption = typer.Option(None, "--index", "-i", help="Index folder (default ./index).")
ModelOption = typer.Option(None, "--model", help="Folder of a sentence-transformers model (default: bundled all-MiniLM-L6-v2).")


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"qa: {message}", err=True)
    raise typer.Exit(code)


def _tidy(text: str) -> str:
    from qa.text import tidy

    return tidy(text)


def render(answer, width: int = 100) -> str:
    """Human-readable answer: the answering sentence first, then numbered cited passages."""
    out = []
    if answer.found:
        out.append(textwrap.fill(_tidy(answer.passages[0].answer), width))
        out.append("")
        out.append("Sources:")
    else:
        out.append("The sources do not answer this question. Closest passages:")
    for n, p in enumerate(answer.passages, 1):
        where = f"page {p.page}, " if p.page else ""
        lines = f"line {p.line_start}" if p.line_start == p.line_end else f"lines {p.line_start}–{p.line_end}"
        section = f" › {p.section}" if p.section and p.section != p.title else ""
        out.append(f"[{n}] {p.title}{section} — {p.source}, {where}{lines} (score {p.score:.2f})")
        if p.also_in:
            out.append(f"    also in: {', '.join(p.also_in)}")
        body = _tidy(p.text)
        sentence = _tidy(p.answer)
        body = body.replace(sentence, f">>{sentence}<<", 1) if sentence else body
        out.append(textwrap.indent(textwrap.fill(body, width - 4), "    "))
    for note in answer.notes:
        out.append(f"note: {note}")
    return "\n".join(out)


@app.command()
def build(
    paths: Optional[List[Path]] = typer.Argument(None, help="Files or folders to index (default: ./seeds, or what the index was built from)."),
    index: Optional[Path] = IndexOption,
    model: Optional[Path] = ModelOption,
    full: bool = typer.Option(False, "--full", help="Rebuild everything instead of updating what changed."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when any file was skipped."),
    no_wait: bool = typer.Option(False, "--no-wait", help="Refuse at once if another build holds the index."),
    as_json: bool = typer.Option(False, "--json", help="Print the build report as JSON."),
):
    """Build or update an index from files and folders (.txt .md and more)."""
    from qa.index import Index, NoSources
    from qa.settings import default_sources
    from qa.store import IndexProblem

    ix = Index(index, model=model)
    sources = [str(p) for p in paths] if paths else (None if ix.exists() else [str(default_sources())])
    try:
        report = ix.build(sources, full=full, progress=not as_json and sys.stderr.isatty(), wait=not no_wait)
    except (NoSources, IndexProblem, FileNotFoundError) as e:
        _fail(str(e))
    typer.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.summary())
    if strict and any(p.skipped for p in report.problems):
        _fail(f"{sum(p.skipped for p in report.problems)} file(s) skipped (--strict)", 1)


@app.command()
def ask(
    question: str = typer.Argument(..., help="The question, in quotes."),
    k: int = typer.Option(5, "-k", help="Number of passages to show."),
    index: Optional[Path] = IndexOption,
    mode: str = typer.Option("hybrid", "--mode", help="Retriever: hybrid, dense or bm25."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer as JSON."),
):
    """Answer a question with cited passages from the index."""
    from qa.index import Index, check_k, clean_question, default
    from qa.store import IndexProblem

    try:
        clean_question(question)
        check_k(k)
    except (ValueError, TypeError) as e:
        _fail(str(e), 2)
    try:
        ix = default() if index is None else Index(index)
        answer = ix.ask(question, k=k, mode=mode)
    except (IndexProblem, ValueError) as e:
        _fail(str(e))
    if as_json:
        typer.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        for note in answer.notes:
            typer.echo(f"note: {note}", err=True)
    else:
        typer.echo(render(answer))


@app.command()
def check(index: Optional[Path] = IndexOption):
    """Check that every vector has its chunk row and back; exit 1 if not."""
    from qa.index import Index
    from qa.store import IndexProblem

    try:
        ix = Index(index)
        problems = ix.check()
        stats = ix.stats()
    except IndexProblem as e:
        _fail(str(e))
    if problems:
        for p in problems:
            typer.echo(f"problem: {p}")
        _fail(f"index {ix.path} is inconsistent")
    typer.echo(f"index {ix.path} ({stats['version']}) is consistent: {stats['documents']} documents, {stats['chunks']} chunks")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
