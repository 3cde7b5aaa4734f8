"""Command line: a thin layer over the library (qa.index); heavy imports happen inside commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Cited extractive answers from your documents.")

IndexOption = typer.Option(None, "--index", "-i", help="Index folder (default ./index).")
StoreOption = typer.Option(None, "--store", help="Where vectors and chunks live: default the index folder (FAISS + SQLite); milvus:///file.db or milvus://host:19530.")
RerankerOption = typer.Option(None, "--reranker", help="Folder of a cross-encoder model that re-scores the first passages (none is bundled).")
ModelOption = typer.Option(None, "--model", help="Folder of a sentence-transformers model (default: bundled all-MiniLM-L6-v2).")


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"qa: {message}", err=True)
    raise typer.Exit(code)


def render(answer, width: int = 100) -> str:
    """Human-readable answer (qa.plain.render_text)."""
    from qa.plain import render_text

    return render_text(answer, width)


@app.command()
def build(
    paths: Optional[List[Path]] = typer.Argument(None, help="Files or folders to index (default: what the index was built from)."),
    index: Optional[Path] = IndexOption,
    model: Optional[Path] = ModelOption,
    full: bool = typer.Option(False, "--full", help="Rebuild everything instead of updating what changed."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when any file was skipped or indexed with a warning."),
    no_wait: bool = typer.Option(False, "--no-wait", help="Refuse at once if another build holds the index."),
    as_json: bool = typer.Option(False, "--json", help="Print the build report as JSON."),
    store: Optional[str] = StoreOption,
    ray: Optional[str] = typer.Option(None, "--ray", help="Embed with Ray Data: 'local' starts a local Ray, 'auto' joins this machine's, or a cluster address (ray://head:10001)."),
    ray_actors: int = typer.Option(2, "--ray-actors", help="Embedding actors (one model each) with --ray."),
    precision: Optional[str] = typer.Option(None, "--precision", help="Model weights: int8 (faster builds, quality within 0.005; see docs/performance.md) or fp32. Default: what the index was built with, else int8 (fp32 for models ONNX Runtime cannot run)."),
):
    """Build or update an index from files and folders (.txt .md and more)."""
    from qa.errors import QAError
    from qa.index import Index

    try:
        ix = Index(index, model=model, store=store, precision=precision)
        if ray is not None:
            from qa.ray_embed import RayEncoder, _ray

            _ray()  # a missing extra fails here, naming it
            ix.bulk_encode = RayEncoder(ray, model, actors=ray_actors, precision=ix.embedder.precision)
    except (ImportError, QAError) as e:  # an unknown --precision, a missing extra
        _fail(str(e))
    sources = [str(p) for p in paths] if paths else None
    try:
        report = ix.build(sources, full=full, progress=not as_json and sys.stderr.isatty(), wait=not no_wait)
    except QAError as e:
        _fail(str(e))
    typer.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.summary())
    if strict and report.problems:
        skipped = sum(p.skipped for p in report.problems)
        _fail(f"{skipped} file(s) skipped, {len(report.problems) - skipped} warning(s) (--strict)", 1)


@app.command()
def ask(
    question: str = typer.Argument(..., help="The question, in quotes."),
    k: int = typer.Option(5, "-k", help="Number of passages to show."),
    index: Optional[Path] = IndexOption,
    mode: str = typer.Option("hybrid", "--mode", help="Retriever: hybrid, dense or bm25."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer as JSON."),
    store: Optional[str] = StoreOption,
    reranker: Optional[Path] = RerankerOption,
    within: Optional[List[str]] = typer.Option(None, "--in", help="Search only these documents: a source path, a glob such as 'reports/*.pdf', or a folder (repeatable)."),
    history: Optional[Path] = typer.Option(None, "--history", help="JSON file (- for stdin) with the conversation before the question: [{\"role\": \"user\"|\"assistant\", \"content\": \"...\"}, ...], oldest first."),
):
    """Answer a question with cited passages from the index (./index, refreshed from its sources)."""
    from qa.converse import check_history
    from qa.errors import QAError
    from qa.index import check_k, clean_question, ready_index

    conversation = None
    try:
        clean_question(question)
        check_k(k)
        if history is not None:
            conversation = _read_history(history)
            check_history(conversation)
    except QAError as e:
        _fail(str(e), 2)
    try:
        ix = ready_index(index, store=store)
        ix.reranker = reranker
        answer = ix.ask(question, k=k, mode=mode, history=conversation, sources=within or None)
    except (QAError, ImportError) as e:
        _fail(str(e))
    if as_json:
        typer.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        for note in answer.notes:
            typer.echo(f"note: {note}", err=True)
    else:
        typer.echo(render(answer))


def _read_history(path: Path) -> list:
    """The conversation in a JSON file (or on stdin for "-"); InvalidInput when it is not JSON."""
    from qa.errors import InvalidInput

    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as e:
        raise InvalidInput(f"cannot read the history file {path}: {e.strerror or e}") from None
    try:
        return json.loads(text)
    except ValueError as e:
        raise InvalidInput(f"the history file {path} is not JSON: {e}") from None


@app.command()
def chat(
    index: Optional[Path] = IndexOption,
    k: int = typer.Option(3, "-k", help="Number of passages to show under each answer."),
    store: Optional[str] = StoreOption,
    reranker: Optional[Path] = RerankerOption,
    within: Optional[List[str]] = typer.Option(None, "--in", help="Search only these documents: a source path, a glob such as 'reports/*.pdf', or a folder (repeatable)."),
):
    """A conversation in the terminal: follow-up questions are read in the context of the earlier
    ones. /new starts over, /sources lists the indexed documents, Ctrl-D quits."""
    from qa.errors import QAError
    from qa.index import check_k, ready_index

    try:
        import readline  # noqa: F401  line editing and recall for input()
    except ImportError:  # not on every platform; input() still works
        pass
    try:
        check_k(k)
        ix = ready_index(index, store=store)
        ix.reranker = reranker
        documents = ix.documents()
    except (QAError, ImportError) as e:
        _fail(str(e))
    typer.echo(f"Asking {ix.path} ({len(documents)} documents). Follow-ups use the conversation; "
               "/new starts over, /sources lists the documents, Ctrl-D quits.")
    conversation: list[dict] = []
    while True:
        try:
            line = input("\n> ").strip()
        except EOFError:
            typer.echo()
            return
        except KeyboardInterrupt:  # drops the line being typed, as a shell does
            typer.echo()
            continue
        if not line:
            continue
        if line.startswith("/"):
            command = line.split()[0].lower()
            if command == "/new":
                conversation = []
                typer.echo("New conversation.")
            elif command == "/sources":
                for d in ix.documents():
                    typer.echo(f"{d.source}  {d.title}")
            else:
                typer.echo("Commands: /new starts a new conversation, /sources lists the documents; Ctrl-D quits.")
            continue
        try:
            answer = ix.ask(line, k=k, history=conversation, sources=within or None)
        except QAError as e:
            typer.echo(f"qa: {e}", err=True)
            continue
        typer.echo(render(answer))
        conversation = (conversation + [{"role": "user", "content": answer.question},
                                        {"role": "assistant", "content": answer.answer or ""}])[-CHAT_MESSAGES:]


CHAT_MESSAGES = 16  # messages of the conversation kept for follow-ups (the engine reads the last 8)


@app.command()
def check(index: Optional[Path] = IndexOption):
    """Check that every vector has its chunk row and back; exit 1 if not."""
    from qa.errors import IndexProblem
    from qa.index import Index

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


@app.command()
def watch(
    paths: List[Path] = typer.Argument(..., help="Folders (or files) to keep indexed."),
    index: Optional[Path] = IndexOption,
    debounce: float = typer.Option(1.0, "--debounce", help="Seconds of quiet after changes before updating."),
    poll: bool = typer.Option(False, "--poll", help="Poll the file system instead of using OS notifications."),
):
    """Keep an index up to date as files appear, change or go."""
    from qa.index import Index
    from qa.watch import watch as run_watch

    try:
        run_watch(Index(index), [str(p) for p in paths], debounce=debounce, poll=poll, log=lambda m: typer.echo(m, err=True))
    except KeyboardInterrupt:
        pass


@app.command("eval")
def eval_(
    benchmark: str = typer.Argument(..., help="squad, scifact, abstention, doc2dial, squad-chained, or feedback FILE."),
    file: Optional[Path] = typer.Argument(None, help="feedback: the JSONL test set written by `qa feedback export`."),
    index: Optional[Path] = typer.Option(None, "--index", "-i", help="feedback: the index to replay the votes against (default ./index)."),
    k: Optional[int] = typer.Option(None, "-k", help="feedback: ask every question with this k (default: the k each vote was given with)."),
    split: Optional[str] = typer.Option(None, "--split", help="squad, squad-chained: tune (articles 1-24), test (25-48) or all; scifact: train or test; doc2dial: tune, test (halves of the dialogues) or all."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Ask a fixed seeded sample of this many questions."),
    settings: Optional[List[str]] = typer.Option(None, "--set", help="Override a setting, e.g. search.dense_weight=0.4 or chunk.max_chars=500."),
    latency: int = typer.Option(0, "--latency", help="Also time this many asks with the plain engine (k=5, no remembered vectors)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
):
    """Measure answer quality on SQuAD v1.1 dev, BEIR SciFact, abstention on held-out SQuAD articles,
    follow-up questions on doc2dial, SQuAD asked after questions about other paragraphs, or replay
    votes: `qa eval feedback FILE` exits 1 when a 👍 passage fell out of the top k."""
    if benchmark == "feedback":
        return _eval_feedback(file, index, k, as_json)
    if file is not None or index is not None or k is not None:
        _fail("FILE, --index and -k are for `qa eval feedback` only", 2)
    from qa import evaluate as ev
    from qa.errors import InvalidInput
    from qa.settings import Settings

    try:
        chosen = Settings().with_overrides(settings or [])
    except InvalidInput as e:
        _fail(str(e), 2)
    log = lambda m: typer.echo(m, err=True)  # noqa: E731
    if benchmark == "squad":
        split = split or "all"
        if split not in ev.SPLITS:
            _fail(f"squad splits: {', '.join(ev.SPLITS)}", 2)
        result = ev.eval_squad(chosen, split, limit, log=log).row()
        if latency:
            ix = ev.squad_index(chosen, ev.memo_for(chosen), ev.squad_articles(), log=log)
            articles = ev.squad_articles()
            qs = [q.text for q in ev.sample(ev.squad_questions(articles, ev.split_articles(len(articles), split)), latency)]
            result["latency"] = ev.ask_latency(ix.path, chosen, qs)
    elif benchmark == "scifact":
        split = split or "test"
        if split not in ("train", "test"):
            _fail("scifact splits: train, test", 2)
        result = ev.eval_scifact(chosen, split, limit, log=log)
    elif benchmark == "abstention":
        scores = ev.eval_abstention(chosen, limit, log=log)
        tune, test = ev.abstention_curve(scores["tune"]), ev.abstention_curve(scores["test"])
        pick = ev.choose_threshold(tune)
        at_default = chosen.answer.found_threshold
        result = {
            "chosen_on_tune": pick,
            "test_at_chosen": next(c for c in test if c["threshold"] == pick["threshold"]),
            "test_at_default": ev.abstention_curve(scores["test"], [at_default])[0],
            "test_curve": test,
        }
    elif benchmark in ("doc2dial", "squad-chained"):
        split = split or "all"
        if split not in ev.SPLITS:
            _fail(f"{benchmark} splits: {', '.join(ev.SPLITS)}", 2)
        run = ev.eval_doc2dial if benchmark == "doc2dial" else ev.eval_squad_chained
        result = {"rows": run(chosen, split, limit, log=log)}
    else:
        _fail("benchmark must be squad, scifact, abstention, doc2dial or squad-chained", 2)
    result = {"benchmark": benchmark, "split": split, "settings": settings or [], **result}
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            if key == "rows":
                typer.echo(_table(value))
                continue
            if key == "short_curve":
                typer.echo("short answers by confidence threshold:")
                typer.echo("threshold  coverage  exact_match     f1")
                for c in value:
                    em = "—" if c["exact_match"] is None else f"{c['exact_match']:.3f}"
                    f = "—" if c["f1"] is None else f"{c['f1']:.3f}"
                    typer.echo(f"{c['threshold']:9.2f}  {c['coverage']:8.3f}  {em:>11}  {f:>5}")
            elif key == "test_curve":
                typer.echo("threshold  answerable_found  answered_correctly  unanswerable_rejected")
                for c in value:
                    typer.echo(f"{c['threshold']:9.2f}  {c['answerable_found']:16.3f}  {c['answered_correctly']:18.3f}  {c['unanswerable_rejected']:21.3f}")
            else:
                typer.echo(f"{key}: {value}")


def _eval_feedback(file: Optional[Path], index: Optional[Path], k: Optional[int], as_json: bool) -> None:
    from qa.errors import QAError
    from qa.feedback import read_jsonl, replay
    from qa.index import check_k, ready_index

    if file is None:
        _fail("qa eval feedback FILE: give the JSONL file written by `qa feedback export`", 2)
    try:
        if k is not None:
            check_k(k)
        votes = read_jsonl(file)
        result = replay(ready_index(index), votes, k=k)
    except OSError as e:
        _fail(f"cannot read {file}: {e.strerror or e}", 2)
    except QAError as e:
        _fail(str(e), 2 if isinstance(e, (ValueError, TypeError)) else 1)
    typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2) if as_json else result.table())
    if result.failed:
        raise typer.Exit(1)


def _table(rows: dict) -> str:
    """Rows of figures (name -> {column: value}) as an aligned text table; other values as lines."""
    tables = {name: row for name, row in rows.items() if isinstance(row, dict)}
    columns = list(dict.fromkeys(c for row in tables.values() for c in row))
    width = max([len(n) for n in tables] + [4])
    lines = [" " * width + "".join(f"  {c:>14}" for c in columns)]
    for name, row in tables.items():
        lines.append(f"{name:<{width}}" + "".join(f"  {row.get(c, ''):>14}" for c in columns))
    lines += [f"{name}: {value}" for name, value in rows.items() if name not in tables]
    return "\n".join(lines)


@app.command()
def serve(
    index: Optional[Path] = IndexOption,
    sources: Optional[Path] = typer.Option(None, "--sources", help="Folder where uploaded files are saved (default: the index's first source folder); with no index yet, the folder to build it over."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; 0.0.0.0 exposes the chat to the network."),
    port: int = typer.Option(7860, "--port", help="Port to listen on."),
    auth: Optional[str] = typer.Option(None, "--auth", help="Require a login: user:password."),
    max_upload_mb: float = typer.Option(50, "--max-upload-mb", help="Largest file accepted by upload, in MB."),
    reranker: Optional[Path] = RerankerOption,
    demo: bool = typer.Option(False, "--demo", help="Serve the bundled demo documents (seeds/), indexed in qa's cache folder unless --index says where."),
    api_token: Optional[str] = typer.Option(None, "--api-token", help="Let programs call the JSON API (and MCP) with Authorization: Bearer TOKEN; default QA_API_TOKEN. With it or --auth, the API refuses other calls."),
    mcp: bool = typer.Option(False, "--mcp", help="Also serve the MCP tools ask and documents at /mcp (streamable HTTP; needs the mcp extra)."),
):
    """Serve the web chat over ./index (or --index) at http://127.0.0.1:7860, the JSON API at /api
    (docs at /docs) and, with --mcp, MCP at /mcp; --demo for the bundled seeds."""
    from qa.errors import QAError
    from qa.settings import api_token as token_from_environment
    from qa.web import serve as serve_web

    try:
        serve_web(index, sources, host=host, port=port, auth=auth, max_upload_mb=max_upload_mb, reranker=reranker,
                  demo=demo, api_token=api_token or token_from_environment(), mcp=mcp)
    except (QAError, OSError) as e:  # OSError: the port is taken
        _fail(str(e))


@app.command()
def mcp(
    index: Optional[Path] = IndexOption,
    demo: bool = typer.Option(False, "--demo", help="Serve the bundled demo documents (seeds/)."),
    store: Optional[str] = StoreOption,
):
    """Serve the MCP tools ask and documents over stdio (how desktop agents launch a tool)."""
    from qa.errors import QAError
    from qa.index import ready_index
    from qa.mcp_server import serve_stdio

    try:
        ix = ready_index(index, demo=demo, store=store)  # logs go to stderr: stdout carries the protocol
        serve_stdio(ix)
    except QAError as e:
        _fail(str(e))
    except KeyboardInterrupt:
        pass


feedback_app = typer.Typer(no_args_is_help=True, help="Votes (👍/👎) given on answers, kept beside the index.")
app.add_typer(feedback_app, name="feedback")


@feedback_app.command("export")
def feedback_export(
    index: Optional[Path] = IndexOption,
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="JSONL file to write (default: standard output)."),
):
    """Write every vote as a JSONL test set (one vote a line) for `qa eval feedback FILE`."""
    from qa.errors import QAError
    from qa.feedback import FeedbackStore, export
    from qa.index import Index

    try:
        votes = FeedbackStore.beside(Index(index)).votes()
    except QAError as e:
        _fail(str(e))
    if out is None:
        export(votes, sys.stdout)
    else:
        with open(out, "w", encoding="utf-8") as f:
            n = export(votes, f)
        typer.echo(f"{n} votes written to {out}", err=True)


@app.command()
def bench(
    sizes: str = typer.Option("2,6", "--sizes", help="Corpus sizes in SQuAD dev articles, comma-separated (48 = all)."),
    systems: str = typer.Option("qa,txtai,langchain", "--systems", help="Systems to compare: qa, qa-int8, txtai, langchain."),
    questions: int = typer.Option(50, "--questions", help="Questions asked per size (a fixed seeded sample)."),
    cold_runs: int = typer.Option(3, "--cold-runs", help="Fresh `qa ask` processes timed per size (0: skip)."),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
):
    """Build throughput, ask latency, memory, disk and cold start, side by side with txtai and LangChain."""
    from qa import bench as qa_bench

    chosen = [s.strip() for s in systems.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in qa_bench.SYSTEMS]
    if unknown:
        _fail(f"unknown system(s) {', '.join(unknown)}; choose from {', '.join(qa_bench.SYSTEMS)}", 2)
    try:
        counts = [int(s) for s in sizes.split(",") if s.strip()]
    except ValueError:
        _fail("--sizes takes whole numbers of articles, e.g. 2,6,48", 2)
    rows = qa_bench.run(counts, chosen, questions=questions, cold_runs=cold_runs, log=lambda m: typer.echo(m, err=True))
    typer.echo(json.dumps(rows, indent=2) if as_json else qa_bench.table(rows))


def configure_process() -> None:
    """What only a program (never `import qa`) may set for its whole process: no model hub, no
    tokenizer threads forked into worker processes, no library chatter on the terminal."""
    import logging
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights come only from folders on disk
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # every recoverable oddity of a file, not the user's problem
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bar on every start
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def main() -> None:
    configure_process()
    app()


if __name__ == "__main__":
    main()
