"""The Gradio app: the chat, the source viewer, uploads and the index panel over one shared Index.

Every answer comes from `Index.ask()`, the engine behind the CLI and `qa.ask`. The app holds no
heavy per-session state: the Index is shared, each question reads the current immutable version,
and a citation carries its own offsets, so opening the source needs nothing remembered. Each
visitor's conversation (the last few questions and answer sentences, for follow-ups) is a small
per-session State. The HTML
comes from `qa.web.render`; the page's CSS and scripts are the files in `qa/web/static/`.
"""

# No `from __future__ import annotations` here: Gradio reads handler annotations (`gr.EventData`)
# as live classes to decide what to pass them.
import inspect
import secrets
from pathlib import Path

from qa.errors import QAError
from qa.feedback import FeedbackStore, vote_from
from qa.index import MAX_QUESTION_CHARS, Index
from qa.sources import is_ocr_format, supported_suffixes
from qa.web.render import (VIEWER_EMPTY, VIEWER_HEAD, esc, render_answer, render_conversation, render_document,
                           render_document_head, render_error, render_index_panel, render_question,
                           render_upload_messages)
from qa.web.uploads import MAX_UPLOAD_BYTES, Uploads

STATIC = Path(__file__).resolve().parent / "static"
MAX_TURNS = 20  # conversation turns kept on the page; older ones drop off the top
HISTORY_MESSAGES = 16  # messages of a visitor's conversation kept for follow-ups (the engine reads the last 8)
CHAT_PASSAGES = 3  # cited passages shown under each answer
ASK_CONCURRENCY = 4  # questions answered at once; more wait in the queue (2 cores do the work)
QUEUE_SIZE = 200  # questions and uploads waiting at most; 20 people asking at once fit easily

SEED_EXAMPLES = [
    "What was the average social worker caseload in Kent in September 2021?",
    "Who chairs the review meetings?",
    "How much did the council invest in increasing social work numbers?",
    "What rating did Kent get at its previous inspection in 2017?",
]



def static_text(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def _examples_for(index: Index) -> list[str]:
    try:
        docs = index.documents()
    except Exception:
        return []
    if docs and all(d.source.startswith("seeds/") for d in docs[:5]):
        return SEED_EXAMPLES
    return [f"What does “{d.title}” say?" for d in docs[:3]]


def _keep_api_arguments_optional(demo, fn, api_name: str) -> None:
    """Let a raw HTTP call of an API endpoint leave out trailing arguments that have defaults.

    gradio_client fills in an endpoint's defaults itself, but Gradio refuses a raw call
    (`/gradio_api/call/NAME`) that sends fewer values than the function has parameters, so adding
    a parameter would break every script written before it. The missing values are filled in
    with the function's defaults before Gradio checks the call.
    """
    defaults = [p.default for p in inspect.signature(fn).parameters.values()]
    check = demo.validate_inputs

    def validate_inputs(block_fn, inputs):
        missing = defaults[len(inputs):]
        if getattr(block_fn, "api_name", None) == api_name and missing and inspect.Parameter.empty not in missing:
            inputs.extend(missing)  # the list Gradio goes on to read
        return check(block_fn, inputs)

    demo.validate_inputs = validate_inputs


def make_app(index: Index, sources: Path | None, examples: list[str] | None = None,
             max_upload_bytes: int = MAX_UPLOAD_BYTES, k: int = CHAT_PASSAGES):
    """The Gradio Blocks app over `index`; uploads are saved into `sources` (None: no uploads)."""
    import gradio as gr  # imported here: importing qa.web costs no web framework

    examples = _examples_for(index) if examples is None else examples
    uploads = Uploads(index, Path(sources), max_upload_bytes) if sources is not None else None

    feedback = FeedbackStore.beside(index)

    def respond(question: str, turns: list[str], conversation: list[dict], chosen: list[str] | None = None):
        """One question asked in the visitor's conversation (a per-session State: nothing is shared)."""
        turns, conversation = list(turns or []), list(conversation or [])
        question = (question or "").strip()
        if not question:
            return gr.update(), turns, conversation, ""
        try:
            within = list(chosen) if chosen else None
            version = index.snapshot().version
            # What a 👍/👎 under this answer records besides the answer; the key names this answer.
            asked = {"k": k, "sources": within, "history": conversation, "index_version": version,
                     "key": secrets.token_urlsafe(12)}
            answer = index.ask(question, k=k, history=conversation, sources=within)
            reply = render_answer(answer, vote=asked)
            conversation += [{"role": "user", "content": answer.question},
                             {"role": "assistant", "content": answer.answer or ""}]
        except QAError as e:
            reply = render_error(f"Cannot answer: {e}")
        turns = (turns + [render_question(question[:MAX_QUESTION_CHARS]) + reply])[-MAX_TURNS:]
        return render_conversation(turns, examples), turns, conversation[-HISTORY_MESSAGES:], ""

    def new_conversation():
        return render_conversation([], examples), [], [], ""

    def open_citation(evt: gr.EventData):
        data = evt._data if isinstance(getattr(evt, "_data", None), dict) else {}
        source = str(data.get("source") or "")
        text = index.document_text(source) if source else None
        if text is None:
            return VIEWER_HEAD, f'<div class="qa-doc-empty">{esc(source or "That source")} is not in the index (any more).</div>'
        doc = next((d for d in index.documents() if d.source == source), None)
        head = render_document_head(doc.title if doc else source, source, data, ocr=bool(doc and is_ocr_format(doc.format)))
        return head, render_document(text, data)

    def record_vote(evt: gr.EventData):
        """👍/👎 (and a comment) under an answer: the data the page sent, checked, then stored."""
        data = evt._data if isinstance(getattr(evt, "_data", None), dict) else {}
        try:
            feedback.record(vote_from(data, origin="web"))
        except QAError as e:
            gr.Warning(f"The vote was not saved: {e}")

    def panel():
        try:
            return render_index_panel(index.stats(), index.documents())
        except Exception as e:  # an index problem is shown, not raised into the page
            return render_error(f"index problem: {e}")

    def document_choices() -> list[str]:
        try:
            return [d.source for d in index.documents()]
        except QAError:
            return []

    def refresh_panel(chosen: list[str] | None):
        """The index panel and the document picker, after the index changed (kept choices stay chosen)."""
        choices = document_choices()
        return panel(), gr.update(choices=choices, value=[c for c in (chosen or []) if c in choices])

    def add_files(files, progress=gr.Progress(track_tqdm=True)):
        files = files or []
        if uploads is None:
            return render_upload_messages(["uploads are off: start qa serve with --sources FOLDER"]), panel(), None
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

    def ask_api(question: str, k: int = 5, sources: list[str] | None = None, history: list | None = None) -> dict:
        """Answer a question with cited passages: the same JSON as `qa ask --json`. `sources`: search
        only these documents (source paths, globs such as "reports/*.pdf", or folders). `history`: the
        conversation before it, oldest first, as [{"role": "user" | "assistant", "content": str}]."""
        try:
            return index.ask(question, k=k, sources=sources or None, history=history).to_dict()
        except QAError as e:  # a bad question or k: say what is wrong, log no traceback
            raise gr.Error(f"Cannot answer: {e}", print_exception=False) from None

    theme = gr.themes.Default(
        font=["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
    )
    chat_js = static_text("scroll.js") + static_text("chat.js")
    viewer_js = static_text("scroll.js") + static_text("viewer.js")
    # analytics_enabled=False: no calls home from a local tool (set here, not in the environment).
    with gr.Blocks(title="qa — answers from your documents", analytics_enabled=False) as demo:
        demo.qa_launch_options = {"css": static_text("qa.css"), "theme": theme}
        demo.qa_index = index  # what the JSON API beside the chat answers from (qa.web.server)
        turns = gr.State([])  # the rendered turns on this visitor's page
        conversation = gr.State([])  # this visitor's conversation, as messages for follow-up questions
        gr.Markdown("## qa — answers from your documents, with citations")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=360):
                chat = gr.HTML(render_conversation([], examples), js_on_load=chat_js, elem_id="qa-chat",
                               max_height=640, min_height=240, container=True, padding=True)
                with gr.Row():
                    question = gr.Textbox(placeholder="Ask a question about the documents…", show_label=False,
                                          scale=5, elem_id="qa-question", max_length=MAX_QUESTION_CHARS, lines=1)
                    ask_button = gr.Button("Ask", variant="primary", scale=1, elem_id="qa-ask", min_width=80)
                # The choice applies to the next questions; nothing chosen searches every document.
                chosen = gr.Dropdown(choices=document_choices(), value=[], multiselect=True,
                                     label="Search only in (all documents when empty)", elem_id="qa-within")
                new_button = gr.Button("New conversation", size="sm", elem_id="qa-new")
                if examples:
                    ex = gr.Examples([[q] for q in examples], inputs=[question], label="Example questions",
                                     elem_id="qa-examples")
            with gr.Column(scale=2, min_width=320):
                viewer_head = gr.HTML(VIEWER_HEAD, elem_id="qa-viewer-head")
                viewer = gr.HTML(VIEWER_EMPTY, js_on_load=viewer_js, elem_id="qa-viewer", max_height=720,
                                 container=True, padding=True)
        with gr.Accordion("Add documents", open=False, elem_id="qa-add"):
            if uploads is None:
                gr.HTML("Uploads are off: start <code>qa serve</code> with <code>--sources FOLDER</code> to add documents here.")
            else:
                gr.HTML(f"Supported: {esc(' '.join(supported_suffixes()))}, up to {max_upload_bytes / 2**20:.0f} MB "
                        f'each. Files are saved into <span class="qa-file">{esc(uploads.folder)}</span> and indexed at '
                        "once; a file with the name of one already there replaces it.")
            files = gr.File(file_count="multiple", file_types=list(supported_suffixes()), label="Files",
                            elem_id="qa-files")
            add_button = gr.Button("Add to the index", elem_id="qa-add-button")
            upload_status = gr.HTML("", elem_id="qa-upload-status")
        with gr.Accordion("Index", open=False, elem_id="qa-index"):
            index_panel = gr.HTML(panel(), elem_id="qa-index-panel")
            refresh = gr.Button("Refresh", size="sm")

        ask_options = dict(concurrency_limit=ASK_CONCURRENCY, concurrency_id="ask", api_visibility="private")
        asked, shown = [question, turns, conversation, chosen], [chat, turns, conversation, question]
        question.submit(respond, asked, shown, **ask_options)
        ask_button.click(respond, asked, shown, **ask_options)
        new_button.click(new_conversation, None, shown, api_visibility="private")
        if examples:
            ex.load_input_event.then(respond, asked, shown, **ask_options)
        chat.cite(open_citation, None, [viewer_head, viewer], concurrency_limit=ASK_CONCURRENCY, api_visibility="private")
        chat.vote(record_vote, None, None, concurrency_limit=ASK_CONCURRENCY, api_visibility="private")
        add_button.click(add_files, [files], [upload_status, index_panel, files], concurrency_limit=1,
                         concurrency_id="index-update", api_visibility="private").then(
            refresh_panel, [chosen], [index_panel, chosen], api_visibility="private")
        refresh.click(refresh_panel, [chosen], [index_panel, chosen], api_visibility="private")
        demo.load(refresh_panel, [chosen], [index_panel, chosen], api_visibility="private")
        gr.api(ask_api, api_name="ask", concurrency_limit=ASK_CONCURRENCY, concurrency_id="ask")
        _keep_api_arguments_optional(demo, ask_api, "ask")  # callers sending (question, k) keep working
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=ASK_CONCURRENCY)
    return demo
