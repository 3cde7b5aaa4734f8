"""The web chat (`qa serve`): a Gradio app over one shared, read-only Index.

Every answer comes from `Index.ask()`, the engine behind the CLI and `qa.ask`. The app holds no
heavy per-session state: the Index is shared, each question reads the current immutable version,
and a citation carries its own offsets, so opening the source needs nothing remembered.

All HTML is built here, and every piece of source text, title, file name and question goes
through `html.escape`: a document holding `<script>` shows it as text and runs nothing.
"""

import html
import ipaddress
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a local tool
from qa.answer import Answer, Passage  # noqa: E402
from qa.index import Index, MAX_QUESTION_CHARS  # noqa: E402
from qa.sources import Problem, SourceFile, load, supported_suffixes  # noqa: E402
from qa.store import IndexProblem  # noqa: E402

MAX_UPLOAD_BYTES = 50 * 2**20
MAX_TURNS = 20  # conversation turns kept on the page; older ones drop off the top
CHAT_PASSAGES = 3  # cited passages shown under each answer
ASK_CONCURRENCY = 4  # questions answered at once; more wait in the queue (2 cores do the work)
QUEUE_SIZE = 200  # questions and uploads waiting at most; 20 people asking at once fit easily
# Gradio keeps a copy of the page's component config (~37 KB) for every session it has seen,
# 10,000 by default, and each call of the plain HTTP API (`/gradio_api/call/ask` without a session)
# is a new session: memory grew ~55 MB per 1,000 questions until that cap. Oldest sessions go first;
# a browser tab idle through this many other sessions starts a fresh conversation.
SESSION_CAPACITY = 1000
MALLOC_ARENAS = 2  # see limit_malloc_arenas

SEED_EXAMPLES = [
    "What was the average social worker caseload in Kent in September 2021?",
    "Who chairs the review meetings?",
    "How much did the council invest in increasing social work numbers?",
    "What rating did Kent get at its previous inspection in 2017?",
]


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _flat(text: str) -> str:
    """Whitespace runs (PDF line wraps, blank lines) as single spaces, for reading in the chat."""
    return re.sub(r"\s+", " ", text)


def lines_label(p: Passage) -> str:
    lines = f"line {p.line_start}" if p.line_start == p.line_end else f"lines {p.line_start}–{p.line_end}"
    return (f"page {p.page}, " if p.page is not None else "") + lines


# -- rendering the conversation ------------------------------------------------------------------

def _cite_attrs(p: Passage, n: int, sentence: bool = True) -> str:
    """Data a citation carries to the source viewer: everything needed, nothing remembered.

    The sentence offsets go along only when the chat marks that sentence as the answer.
    """
    data = {"source": p.source, "start": p.start, "end": p.end, "label": lines_label(p), "n": n}
    if sentence:
        data.update(astart=p.answer_start, aend=p.answer_end)
    return " ".join(f'data-{k}="{esc(v)}"' for k, v in data.items())


def _passage_body(p: Passage, highlight: bool) -> str:
    """The passage text, escaped, with its answering sentence marked (offsets from the Passage)."""
    a = max(0, min(len(p.text), p.answer_start - p.start))
    b = max(a, min(len(p.text), p.answer_end - p.start))
    if not highlight or a == b:
        return esc(_flat(p.text).strip())
    before, answer, after = p.text[:a], p.text[a:b], p.text[b:]
    return f'{esc(_flat(before).lstrip())}<mark class="qa-hl">{esc(_flat(answer))}</mark>{esc(_flat(after).rstrip())}'


def _passage_card(p: Passage, n: int, cited: bool) -> str:
    where = [f'<span class="qa-title">{esc(p.title)}</span>']
    if p.section and p.section != p.title:
        where.append(f'<span class="qa-section">› {esc(p.section)}</span>')
    meta = (
        f'<span class="qa-file">{esc(p.source)}</span> · {esc(lines_label(p))} · '
        f'<span class="qa-score">score {p.score:.2f}</span>'
    )
    also = f'<div class="qa-also">also in: {esc(", ".join(p.also_in))}</div>' if p.also_in else ""
    return (
        f'<li class="qa-passage" value="{n}">'
        f'<div class="qa-where"><span class="qa-n">[{n}]</span> {" ".join(where)}</div>'
        f'<div class="qa-meta">{meta}</div>{also}'
        f'<div class="qa-text">{_passage_body(p, highlight=cited)}</div>'
        f'<button type="button" class="qa-open" {_cite_attrs(p, n, sentence=cited)}>Show in source</button>'
        "</li>"
    )


def render_question(question: str) -> str:
    return f'<div class="qa-q"><span class="qa-who">You asked</span><div class="qa-qtext">{esc(question)}</div></div>'


def render_answer(answer: Answer) -> str:
    """One reply: the highlighted answering sentence with citation markers, then the cited passages."""
    ps = answer.passages
    if answer.found and ps:
        first = ps[0]
        same = " ".join(_flat(first.answer).split())
        cited = [n for n, p in enumerate(ps, 1) if n == 1 or " ".join(_flat(p.answer).split()) == same]
        markers = "".join(
            f'<button type="button" class="qa-cite" title="Show [{n}] in its source" {_cite_attrs(ps[n - 1], n)}>{n}</button>'
            for n in cited
        )
        head = (
            f'<div class="qa-answer"><mark class="qa-hl">{esc(_flat(first.answer).strip())}</mark>'
            f'<span class="qa-cites">{markers}</span></div>'
            '<div class="qa-label">Cited passages</div>'
        )
    elif ps:
        cited = []
        head = (
            '<div class="qa-none">The sources don\'t answer this question.</div>'
            '<div class="qa-label">Closest passages — shown for reference, they do not answer it</div>'
        )
    else:
        cited = []
        head = '<div class="qa-none">The sources don\'t answer this question: the index holds no passages.</div>'
    cards = "".join(_passage_card(p, n, answer.found and n in cited) for n, p in enumerate(ps, 1))
    notes = [n for n in answer.notes if "closest passages are shown" not in n]
    foot = "".join(f'<div class="qa-note">note: {esc(n)}</div>' for n in notes)
    kind = "qa-found" if answer.found else "qa-notfound"
    return f'<div class="qa-a {kind}">{head}<ol class="qa-passages">{cards}</ol>{foot}</div>'


def render_error(message: str) -> str:
    return f'<div class="qa-a qa-error"><div class="qa-none">{esc(message)}</div></div>'


def render_conversation(turns: Iterable[str], examples: list[str]) -> str:
    turns = list(turns)
    if not turns:
        hint = " Try one of the example questions below." if examples else ""
        return (
            '<div class="qa-welcome">Ask a question about the documents. Each answer is a sentence copied '
            "from a source, highlighted, with numbered citations: open one to read the whole document "
            f"with the passage marked.{hint}</div>"
        )
    return "".join(f'<div class="qa-turn">{t}</div>' for t in turns)


# -- the source viewer ---------------------------------------------------------------------------

def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def render_document(text: str, spans: dict | None = None) -> str:
    """The whole document as text with the passage and the answering sentence highlighted.

    `spans` holds start/end (the passage) and astart/aend (the sentence), offsets into `text`;
    anything out of range is ignored rather than trusted.
    """
    n = len(text)
    s = spans or {}
    start, end, astart, aend = (_int(s.get(k)) for k in ("start", "end", "astart", "aend"))
    passage = (start, end) if start is not None and end is not None and 0 <= start < end <= n else None
    answer = (astart, aend) if astart is not None and aend is not None and 0 <= astart < aend <= n else None
    if passage and answer and not (passage[0] <= answer[0] and answer[1] <= passage[1]):
        answer = None  # a sentence outside its passage is not something we produced
    cuts = sorted({0, n, *(passage or ()), *(answer or ())})
    out = []
    for a, b in zip(cuts, cuts[1:]):
        piece = esc(text[a:b])
        if answer and answer[0] <= a and b <= answer[1]:
            piece = f'<mark class="qa-hl" id="qa-doc-answer">{piece}</mark>'
        if passage and passage[0] <= a and b <= passage[1]:
            piece = f'<span class="qa-doc-passage">{piece}</span>'
        out.append(piece)
    return f'<pre class="qa-doc-text">{"".join(out)}</pre>'


def render_document_head(title: str, source: str, spans: dict | None = None) -> str:
    """Above the viewer: which document, and where the cited passage is (cosmetic, escaped)."""
    s = spans or {}
    n = _int(s.get("n"))
    label = f' · {esc(s["label"])}' if s.get("label") else ""
    return (
        f'<div class="qa-doc-head"><span class="qa-title">Source{" [%d]" % n if n else ""}: {esc(title)}</span>'
        f'<div class="qa-meta"><span class="qa-file">{esc(source)}</span>{label}</div></div>'
    )


VIEWER_HEAD = '<div class="qa-doc-head"><span class="qa-title">Source</span></div>'
VIEWER_EMPTY = '<div class="qa-doc-empty">Choose a citation — a number next to an answer, or “Show in source” — to read the whole document here with the passage highlighted.</div>'


# -- the index panel -----------------------------------------------------------------------------

def render_index_panel(stats: dict, documents: list) -> str:
    built = stats.get("built_at") or "?"
    rows = "".join(
        f'<tr><td class="qa-file">{esc(d.source)}</td><td>{esc(d.title)}</td><td>{esc(d.format)}</td></tr>'
        for d in documents
    )
    folders = ", ".join(stats.get("sources") or []) or "—"
    return (
        '<div class="qa-stats">'
        f'<div><b>{stats.get("documents", 0)}</b> documents</div><div><b>{stats.get("chunks", 0)}</b> passages (chunks)</div>'
        f'<div>model <b>{esc(stats.get("model") or "?")}</b></div><div>built <b>{esc(built)}</b></div>'
        "</div>"
        f'<div class="qa-meta">index {esc(stats.get("index", ""))} ({esc(stats.get("version") or "")}) · source folders: {esc(folders)}</div>'
        f'<table class="qa-docs"><thead><tr><th>source</th><th>title</th><th>format</th></tr></thead><tbody>{rows}</tbody></table>'
    )


# -- uploads -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UploadOutcome:
    name: str
    saved: Path | None  # where it was saved, when accepted
    message: str


def name_problem(name: str) -> str | None:
    """Why an uploaded file name cannot be saved as is in the sources folder (None: it can)."""
    if not name or not name.strip():
        return "the file has no name"
    if "/" in name or "\\" in name or "\x00" in name or os.path.isabs(name):
        return "the file name holds a path; only plain names are saved"
    if name in (".", "..") or name.startswith(".."):
        return "the file name tries to leave the sources folder"
    if name.startswith("."):
        return "hidden files (names starting with a dot) are not indexed"
    if len(name.encode("utf-8", "surrogatepass")) > 255:
        return "the file name is too long"
    suffix = Path(name).suffix.lower()
    if suffix not in supported_suffixes():
        kinds = " ".join(supported_suffixes())
        return f"unsupported file type {suffix or '(none)'} (supported: {kinds})"
    return None


class Uploads:
    """Saves uploaded files into the sources folder and adds them to the index, one update at a time."""

    def __init__(self, index: Index, folder: Path, max_bytes: int = MAX_UPLOAD_BYTES):
        self.index = index
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.lock = threading.Lock()

    def check(self, path: Path, name: str) -> str | None:
        reason = name_problem(name)
        if reason:
            return reason
        if path.is_symlink():
            return "symbolic links are not accepted"
        if not path.is_file():
            return "not a regular file"
        size = path.stat().st_size
        if size > self.max_bytes:
            return f"too large ({size / 2**20:.1f} MB; the limit is {self.max_bytes / 2**20:.0f} MB)"
        dest = self.folder / name
        if dest.is_symlink() or (dest.exists() and not dest.is_file()):
            return f"{self.folder.name}/{name} exists and is not a regular file"
        if dest.resolve().parent != self.folder.resolve():
            return "the file name tries to leave the sources folder"
        doc = load(SourceFile(path, f"{self.folder.name}/{name}"))
        if isinstance(doc, Problem):
            return f"unreadable: {doc.reason}"
        return None

    def save(self, path: Path, name: str) -> UploadOutcome:
        """Check one upload and copy it into the folder atomically (a rejected file changes nothing)."""
        path = Path(path)
        reason = self.check(path, name)
        if reason:
            return UploadOutcome(name, None, f"{name}: rejected — {reason}")
        self.folder.mkdir(parents=True, exist_ok=True)
        dest = self.folder / name
        fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=self.folder)  # dot name: never indexed half-written
        try:
            with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                shutil.copyfileobj(src, out)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return UploadOutcome(name, dest, "")

    def add(self, files: list[tuple[Path, str]], progress: Callable[[float, str], None] = lambda f, d: None,
            embedding_bar: bool = False) -> list[str]:
        """Save the acceptable files, then update the index with them. Returns messages for a person.

        `embedding_bar` lets the engine show its tqdm bar while embedding (the web page tracks it).
        """
        with self.lock:
            messages, saved = [], []
            for i, (path, name) in enumerate(files):
                progress(i / max(1, len(files)) * 0.3, f"checking {name}")
                outcome = self.save(path, name)
                (saved.append(outcome) if outcome.saved else messages.append(outcome.message))
            if saved:
                progress(0.35, f"updating the index with {len(saved)} file(s)")
                started = time.perf_counter()
                report = self.index.add([o.saved for o in saved], progress=embedding_bar, log=lambda m: progress(0.4, m))
                took = time.perf_counter() - started
                progress(1.0, "done")
                for p in report.problems:
                    messages.append(f"{p.source}: {'skipped' if p.skipped else 'note'} — {p.reason}")
                new = [*(f"added {s}" for s in report.added), *(f"updated {s}" for s in report.changed)]
                same = len(saved) - len(report.added) - len(report.changed)
                if same > 0:
                    new.append(f"{same} file(s) unchanged")
                messages.insert(0, f"{'; '.join(new) or 'nothing changed'} in {took:.1f} s — "
                                   f"the index now holds {report.documents} documents, {report.chunks_total} passages; "
                                   "ask about them now.")
            return messages


def render_upload_messages(messages: list[str]) -> str:
    if not messages:
        return ""
    items = "".join(
        f'<li class="{"qa-bad" if "rejected" in m or "skipped" in m else "qa-ok"}">{esc(m)}</li>' for m in messages
    )
    return f'<ul class="qa-upload-status">{items}</ul>'


# -- the app -------------------------------------------------------------------------------------

CSS = """
.qa-q { margin: 14px 0 6px; }
.qa-who { font-size: .8em; text-transform: uppercase; letter-spacing: .05em; color: var(--body-text-color-subdued); }
.qa-qtext { font-weight: 600; font-size: 1.05em; white-space: pre-wrap; }
.qa-a { border-left: 3px solid var(--color-accent); padding: 4px 0 8px 12px; }
.qa-a.qa-notfound, .qa-a.qa-error { border-left-color: #b0b0b0; }
.qa-answer { font-size: 1.12em; line-height: 1.55; margin: 4px 0 10px; }
mark.qa-hl { background: #ffe066; color: #1a1a1a; padding: 1px 2px; border-radius: 3px; }
.qa-cites { margin-left: 4px; }
button.qa-cite { font-size: .72em; vertical-align: super; min-width: 1.6em; padding: 0 4px; margin: 0 1px;
  border: 1px solid var(--color-accent); border-radius: 4px; background: var(--background-fill-primary);
  color: var(--color-accent); cursor: pointer; line-height: 1.3; }
button.qa-cite:hover, button.qa-open:hover { background: var(--color-accent); color: white; }
.qa-none { font-weight: 600; margin: 4px 0 8px; }
.qa-label { font-size: .8em; text-transform: uppercase; letter-spacing: .05em; color: var(--body-text-color-subdued); margin: 6px 0 4px; }
ol.qa-passages { list-style: none; padding: 0; margin: 0; }
li.qa-passage { border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 8px 10px; margin: 6px 0; }
.qa-notfound li.qa-passage { background: var(--background-fill-secondary); }
.qa-where { font-weight: 600; }
.qa-n { color: var(--color-accent); }
.qa-section { font-weight: 400; color: var(--body-text-color-subdued); }
.qa-meta, .qa-also, .qa-note { font-size: .85em; color: var(--body-text-color-subdued); }
.qa-file { font-family: var(--font-mono); font-size: .92em; }
div.qa-text { margin: 6px 0; padding: 0 0 0 10px; border-left: 2px solid var(--border-color-primary); line-height: 1.5; }
button.qa-open { font-size: .8em; padding: 1px 8px; border: 1px solid var(--border-color-primary); border-radius: 4px;
  background: var(--background-fill-primary); cursor: pointer; }
.qa-welcome { color: var(--body-text-color-subdued); padding: 8px 4px; }
.qa-doc-head { padding: 0 2px; }
.qa-doc-head .qa-title { font-weight: 600; }
pre.qa-doc-text { white-space: pre-wrap; word-wrap: break-word; font-family: var(--font); font-size: .92em; line-height: 1.5;
  background: none; border: none; padding: 6px 0; margin: 0; }
.qa-doc-passage { background: #e3efff; color: #1a1a1a; }
.qa-doc-empty { color: var(--body-text-color-subdued); padding: 12px 4px; }
.qa-stats { display: flex; gap: 24px; flex-wrap: wrap; margin: 4px 0; }
table.qa-docs { width: 100%; font-size: .88em; margin-top: 8px; }
table.qa-docs { border-collapse: collapse; }
table.qa-docs td, table.qa-docs th { text-align: left; padding: 3px 10px 3px 0; vertical-align: top; border: none;
  border-bottom: 1px solid var(--border-color-primary); background: none; }
ul.qa-upload-status { margin: 4px 0; padding-left: 18px; }
li.qa-bad { color: #b42318; }
"""

# Scroll `target` to `where` (0 top, 0.5 centre) inside the nearest scrolling box around `element`,
# moving the window only when that box is out of sight.
SCROLL_JS = """
const scrollInBox = (target, where) => {
  let box = element;
  while (box && box !== document.body && !/(auto|scroll)/.test(getComputedStyle(box).overflowY)) box = box.parentElement;
  if (box && box !== document.body) {
    const offset = target.getBoundingClientRect().top - box.getBoundingClientRect().top;
    box.scrollTop += offset - where * (box.clientHeight - Math.min(target.offsetHeight, box.clientHeight)) - 8;
    const r = box.getBoundingClientRect();
    if (r.top < 0 || r.top > window.innerHeight - 80) box.scrollIntoView({block: 'start'});
  } else {
    target.scrollIntoView({block: where ? 'center' : 'start'});
  }
};
"""

# Clicking a citation sends its data attributes to the server as the `cite` event's data.
CHAT_JS = SCROLL_JS + """
element.addEventListener('click', (e) => {
  const b = e.target.closest('[data-source]');
  if (b && element.contains(b)) trigger('cite', Object.assign({}, b.dataset));
});
watch('value', () => {
  const turns = element.querySelectorAll('.qa-turn');
  if (turns.length) scrollInBox(turns[turns.length - 1], 0);
});
"""

VIEWER_JS = SCROLL_JS + """
watch('value', () => {
  const m = element.querySelector('#qa-doc-answer') || element.querySelector('.qa-doc-passage');
  if (m) scrollInBox(m, 0.5);
});
"""


def _examples_for(index: Index) -> list[str]:
    try:
        docs = index.documents()
    except Exception:
        return []
    if docs and all(d.source.startswith("seeds/") for d in docs[:5]):
        return SEED_EXAMPLES
    return [f"What does “{d.title}” say?" for d in docs[:3]]


def make_app(index: Index, sources: Path, examples: list[str] | None = None,
             max_upload_bytes: int = MAX_UPLOAD_BYTES, k: int = CHAT_PASSAGES):
    """The Gradio Blocks app over `index`; uploads are saved into `sources`."""
    import gradio as gr  # imported here: the rendering above needs no web framework

    examples = _examples_for(index) if examples is None else examples
    uploads = Uploads(index, Path(sources), max_upload_bytes)

    def respond(question: str, turns: list[str]):
        turns = list(turns or [])
        question = (question or "").strip()
        if not question:
            return gr.update(), turns, ""
        try:
            reply = render_answer(index.ask(question, k=k))
        except (ValueError, TypeError, IndexProblem) as e:
            reply = render_error(f"Cannot answer: {e}")
        turns = (turns + [render_question(question[:MAX_QUESTION_CHARS]) + reply])[-MAX_TURNS:]
        return render_conversation(turns, examples), turns, ""

    def open_citation(evt: gr.EventData):
        data = evt._data if isinstance(getattr(evt, "_data", None), dict) else {}
        source = str(data.get("source") or "")
        text = index.document_text(source) if source else None
        if text is None:
            return VIEWER_HEAD, f'<div class="qa-doc-empty">{esc(source or "That source")} is not in the index (any more).</div>'
        title = next((d.title for d in index.documents() if d.source == source), source)
        return render_document_head(title, source, data), render_document(text, data)

    def panel():
        try:
            return render_index_panel(index.stats(), index.documents())
        except Exception as e:  # an index problem is shown, not raised into the page
            return render_error(f"index problem: {e}")

    def add_files(files, progress=gr.Progress(track_tqdm=True)):
        files = files or []
        if not files:
            return render_upload_messages(["choose one or more files first"]), panel(), None
        pairs = []
        for f in files:
            p = Path(f if isinstance(f, str) else getattr(f, "name", f))
            pairs.append((p, p.name))
        try:
            messages = uploads.add(pairs, progress=lambda frac, desc: progress(frac, desc=desc), embedding_bar=True)
        except Exception as e:
            messages = [f"rejected — the index could not be updated: {e}"]
        return render_upload_messages(messages), panel(), None

    def ask_api(question: str, k: int = 5) -> dict:
        """Answer a question with cited passages: the same JSON as `qa ask --json`."""
        try:
            return index.ask(question, k=k).to_dict()
        except (ValueError, TypeError) as e:  # a bad question or k: say what is wrong, log no traceback
            raise gr.Error(f"Cannot answer: {e}", print_exception=False) from None

    theme = gr.themes.Default(
        font=["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
    )
    with gr.Blocks(title="qa — answers from your documents") as demo:
        demo.qa_launch_options = {"css": CSS, "theme": theme}
        turns = gr.State([])
        gr.Markdown("## qa — answers from your documents, with citations")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=360):
                chat = gr.HTML(render_conversation([], examples), js_on_load=CHAT_JS, elem_id="qa-chat",
                               max_height=640, min_height=240, container=True, padding=True)
                with gr.Row():
                    question = gr.Textbox(placeholder="Ask a question about the documents…", show_label=False,
                                          scale=5, elem_id="qa-question", max_length=MAX_QUESTION_CHARS, lines=1)
                    ask_button = gr.Button("Ask", variant="primary", scale=1, elem_id="qa-ask", min_width=80)
                if examples:
                    ex = gr.Examples([[q] for q in examples], inputs=[question], label="Example questions",
                                     elem_id="qa-examples")
            with gr.Column(scale=2, min_width=320):
                viewer_head = gr.HTML(VIEWER_HEAD, elem_id="qa-viewer-head")
                viewer = gr.HTML(VIEWER_EMPTY, js_on_load=VIEWER_JS, elem_id="qa-viewer", max_height=720,
                                 container=True, padding=True)
        with gr.Accordion("Add documents", open=False, elem_id="qa-add"):
            gr.HTML(f"Supported: {esc(' '.join(supported_suffixes()))}, up to {max_upload_bytes / 2**20:.0f} MB each. "
                    f'Files are saved into <span class="qa-file">{esc(uploads.folder)}</span> and indexed at once; '
                    "a file with the name of one already there replaces it.")
            files = gr.File(file_count="multiple", file_types=list(supported_suffixes()), label="Files",
                            elem_id="qa-files")
            add_button = gr.Button("Add to the index", elem_id="qa-add-button")
            upload_status = gr.HTML("", elem_id="qa-upload-status")
        with gr.Accordion("Index", open=False, elem_id="qa-index"):
            index_panel = gr.HTML(panel(), elem_id="qa-index-panel")
            refresh = gr.Button("Refresh", size="sm")

        ask_options = dict(concurrency_limit=ASK_CONCURRENCY, concurrency_id="ask", api_visibility="private")
        question.submit(respond, [question, turns], [chat, turns, question], **ask_options)
        ask_button.click(respond, [question, turns], [chat, turns, question], **ask_options)
        if examples:
            ex.load_input_event.then(respond, [question, turns], [chat, turns, question], **ask_options)
        chat.cite(open_citation, None, [viewer_head, viewer], concurrency_limit=ASK_CONCURRENCY, api_visibility="private")
        add_button.click(add_files, [files], [upload_status, index_panel, files], concurrency_limit=1,
                         concurrency_id="index-update", api_visibility="private")
        refresh.click(panel, None, index_panel, api_visibility="private")
        demo.load(panel, None, index_panel, api_visibility="private")
        gr.api(ask_api, api_name="ask", concurrency_limit=ASK_CONCURRENCY, concurrency_id="ask")
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=ASK_CONCURRENCY)
    return demo


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, auth: tuple[str, str] | None) -> str | None:
    if is_loopback(host) or auth is not None:
        return None
    return (f"serving on {host} without --auth: anyone who can reach this machine can read the documents "
            "and add files to the index")


def parse_auth(auth: str | None) -> tuple[str, str] | None:
    if auth is None:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise ValueError("--auth takes user:password")
    return user, password


def launch(demo, host: str = "127.0.0.1", port: int = 7860, auth: tuple[str, str] | None = None,
           max_upload_bytes: int = MAX_UPLOAD_BYTES, block: bool = True, quiet: bool = False):
    """Start serving `demo`; with block=False return at once (the server runs in a thread)."""
    options = getattr(demo, "qa_launch_options", {})
    return demo.launch(
        server_name=host, server_port=port, auth=auth, max_file_size=max_upload_bytes,
        prevent_thread_lock=not block, quiet=quiet, show_error=False, ssr_mode=False, footer_links=["api"],
        state_session_capacity=SESSION_CAPACITY,
        **options,
    )


def open_index(index: str | Path | None, sources: str | Path | None) -> Index:
    """The Index to serve: the default one (built over ./seeds on first use) or the folder given."""
    from qa.index import default

    if index is None and sources is None:
        return default()
    ix = Index(index) if index is not None else default()
    if not ix.exists():
        if sources is None:
            raise FileNotFoundError(f"no index at {ix.path}; build it with: qa build FOLDER --index {ix.path}")
        print(f"qa: building the index {ix.path} over {sources} (first use)…", file=sys.stderr, flush=True)
        print(ix.build([sources], progress=False).summary(), file=sys.stderr, flush=True)
    return ix


def sources_folder(ix: Index, sources: str | Path | None) -> Path:
    if sources is not None:
        return Path(sources)
    folders = ix.stats().get("sources") or []
    first = next((Path(f) for f in folders if Path(f).is_dir()), None)
    return first if first is not None else Path("seeds")


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's per-thread malloc arenas (a server runs dozens of worker threads).

    Each thread otherwise gets an arena of its own, up to 8 per core, and freed memory scattered
    over them is rarely returned. In `benchmarks/load.py` (one run each, shared machine) RSS peaked
    94 and 122 MB above its warm level without the cap, 59 and 94 MB with it, at the same
    throughput; it rises and falls with the number of worker threads. MALLOC_ARENA_MAX in the
    environment wins. False where this is not glibc."""
    if "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        return ctypes.CDLL(None).mallopt(-8, arenas) == 1  # -8: M_ARENA_MAX
    except (OSError, AttributeError):
        return False


def serve(index: str | Path | None = None, sources: str | Path | None = None, host: str = "127.0.0.1",
          port: int = 7860, auth: str | None = None, max_upload_mb: float = 50,
          reranker: str | Path | None = None) -> None:
    started = time.perf_counter()
    limit_malloc_arenas()
    credentials = parse_auth(auth)
    ix = open_index(index, sources)
    if reranker is not None:
        from qa.rerank import Reranker

        Reranker.shared(reranker)  # a bad folder stops the server here, not at the first question
        ix.reranker = reranker
    folder = sources_folder(ix, sources)
    # Load the model while Gradio is imported and started, so the first person does not wait for it.
    warm = threading.Thread(target=ix.ask, args=("warm up",), daemon=True)
    warm.start()
    warning = exposure_warning(host, credentials)
    if warning:
        print(f"qa: WARNING: {warning}", file=sys.stderr, flush=True)
    limit = int(max_upload_mb * 2**20)
    demo = make_app(ix, folder, max_upload_bytes=limit)
    launch(demo, host, port, credentials, limit, block=False, quiet=True)
    warm.join()
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(f"qa: serving {ix.path} at http://{shown}:{port} (uploads go to {folder}; ready in "
          f"{time.perf_counter() - started:.1f} s; Ctrl-C stops)", file=sys.stderr, flush=True)
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
