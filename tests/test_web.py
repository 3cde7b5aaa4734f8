"""The web chat: safe HTML, the source viewer, uploads, the Gradio API and a real browser."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from qa.answer import Answer, Passage
from qa.web.render import render_answer, render_document, render_question
from qa.web.server import exposure_warning, parse_auth
from qa.web.uploads import Uploads, name_problem

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
INJECTION = "<script>alert('xss')</script>"
FOLLOW_UP = ["What did Ofsted say about standards in the county's primary schools?",
             "Who is the cabinet member for education there?"]
IMG_INJECTION = "<img src=x onerror=alert('img')>"
HARBOUR = (
    "Harbour notes\n\nThe harbour festival committee meets every Thursday in the old boathouse "
    f"{INJECTION} {IMG_INJECTION} next to the ferry slipway.\n"
)


def passage(text: str, answer: str, source="seeds/a.txt", **kw) -> Passage:
    a = text.index(answer)
    base = dict(text=text, source=source, title="A <b>title</b>", start=10, end=10 + len(text), line_start=3,
                line_end=4, page=None, score=0.71, answer=answer, answer_start=10 + a, answer_end=10 + a + len(answer))
    return Passage(**{**base, **kw})


# -- rendering ----------------------------------------------------------------------------------

def test_answer_html_escapes_source_text_titles_and_the_question():
    text = f"Before. The fact is here {INJECTION} {IMG_INJECTION}. After."
    p = passage(text, f"The fact is here {INJECTION} {IMG_INJECTION}.", also_in=("seeds/<i>b</i>.txt",))
    out = render_question("<b>why</b>?") + render_answer(Answer("q", True, (p,)))
    assert "<script" not in out and "<img" not in out and "<b>" not in out and "<i>" not in out
    assert "&lt;script&gt;alert(&#x27;xss&#x27;)&lt;/script&gt;" in out
    assert "&lt;img src=x onerror=alert(&#x27;img&#x27;)&gt;" in out
    assert "&lt;b&gt;why&lt;/b&gt;?" in out


def test_found_answer_highlights_the_sentence_with_citation_markers_and_details():
    p1 = passage("Intro. Caseloads averaged 16.4 in 2021. More.", "Caseloads averaged 16.4 in 2021.",
                 also_in=("seeds/b.txt",), page=2)
    p2 = passage("Other text. Caseloads averaged 16.4 in 2021.", "Caseloads averaged 16.4 in 2021.", source="seeds/c.txt")
    p3 = passage("Unrelated words here.", "Unrelated words here.", source="seeds/d.txt", line_start=7, line_end=7)
    out = render_answer(Answer("q", True, (p1, p2, p3)))
    head = out.split('class="qa-label"')[0]
    assert '<mark class="qa-hl">Caseloads averaged 16.4 in 2021.</mark>' in head
    assert head.count('class="qa-cite"') == 2  # [1] and [2] quote the answering sentence; [3] does not
    assert "seeds/a.txt" in out and "page 2, lines 3–4" in out and "line 7" in out and "score 0.71" in out
    assert "also in: seeds/b.txt" in out
    assert 'data-source="seeds/a.txt"' in out and f'data-astart="{p1.answer_start}"' in out


def test_not_found_says_the_sources_do_not_answer_and_labels_the_closest_passages():
    p = passage("Some nearby text.", "Some nearby text.")
    out = render_answer(Answer("q", False, (p,), ("the sources do not answer this; the closest passages are shown",)))
    assert "The sources don't answer this question." in out
    assert "Closest passages" in out and "do not answer it" in out
    assert "qa-hl" not in out  # nothing is presented as the answer


def test_searched_for_shows_under_an_answer_only_when_the_conversation_changed_it():
    p = passage("Intro. The committee meets on Thursdays. More.", "The committee meets on Thursdays.")
    plain = render_answer(Answer("When does it meet?", True, (p,), searched_for="When does it meet?"))
    assert "Searched for" not in plain
    follow = render_answer(Answer("When does it meet?", True, (p,), searched_for=f"When does it meet? (+ {INJECTION})"))
    assert "Searched for: When does it meet? (+ &lt;script&gt;" in follow and "<script" not in follow


def test_document_view_marks_passage_and_sentence_at_their_offsets():
    text = "Title\n\nFirst para. <script>x</script> The answer is 42. Tail.\n\nLast."
    start, end = text.index("First"), text.index(" Tail")
    a = text.index("The answer")
    out = render_document(text, {"start": start, "end": end, "astart": a, "aend": a + 17, "n": 1})
    assert '<mark class="qa-hl" id="qa-doc-answer">The answer is 42.</mark>' in out
    assert '<span class="qa-doc-passage">First para. &lt;script&gt;x&lt;/script&gt; </span>' in out
    assert "<script" not in out and "Last." in out


def test_document_view_ignores_offsets_out_of_range_or_malformed():
    text = "Short text."
    for spans in ({"start": 0, "end": 999}, {"start": "x", "end": "<b>"}, {"start": 5, "end": 2}):
        out = render_document(text, spans)
        assert "qa-doc-passage" not in out and "qa-hl" not in out and "Short text." in out


def test_every_answer_carries_thumbs_with_what_a_vote_records(seeds_index):
    import html
    import re

    from qa.feedback import vote_from

    for question in ("How much did the council invest in increasing social work numbers?", "What is a good recipe for cake?"):
        answer = seeds_index.ask(question, k=3)
        asked = {"k": 3, "sources": None, "history": [], "index_version": "v000007", "key": "k-1"}
        out = render_answer(answer, vote=asked)
        assert out.count('class="qa-vote"') == 2 and 'data-vote="up"' in out and 'data-vote="down"' in out
        payload = json.loads(html.unescape(re.search(r'data-feedback="([^"]*)"', out).group(1)))
        vote = vote_from({**payload, "vote": "down", "comment": ""}, origin="web")
        assert vote.question == answer.question and vote.index_version == "v000007" and vote.key == "k-1"
        assert [(p.source, p.start, p.end, p.answer_start, p.answer_end, p.text) for p in vote.passages] == [
            (p.source, p.start, p.end, p.answer_start, p.answer_end, p.text) for p in answer.passages]
        cited_in_chat = out.split('class="qa-label"')[0].count('class="qa-cite"')
        assert len(vote.cited) == cited_in_chat  # the vote is about the passages the chat cites as the answer


# -- serving options ----------------------------------------------------------------------------

def test_exposed_host_without_auth_is_warned_about():
    assert exposure_warning("127.0.0.1", None) is None
    assert exposure_warning("localhost", None) is None
    assert exposure_warning("0.0.0.0", None)
    assert exposure_warning("0.0.0.0", ("u", "p")) is None


def test_auth_takes_user_colon_password():
    assert parse_auth("ann:s3:cret") == ("ann", "s3:cret")
    for bad in ("ann", ":pw", "ann:"):
        with pytest.raises(ValueError):
            parse_auth(bad)


# -- uploads ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["../x.txt", "..", "/etc/passwd.txt", "a/b.txt", "a\\b.txt", ".hidden.txt",
                                  "x.exe", "noext", "", "..x.txt"])
def test_upload_names_that_escape_the_folder_or_are_unsupported_are_refused(name):
    assert name_problem(name)


def test_plain_upload_name_is_accepted():
    assert name_problem("Notes 2024.txt") is None


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory):
    """A small index of its own (uploads change it), over one document."""
    from qa import Index

    base = tmp_path_factory.mktemp("tiny")
    (base / "docs").mkdir()
    (base / "docs" / "base.txt").write_text("Base facts\n\nThe river Wenn flows north through the valley of Ash.\n")
    ix = Index(base / "index")
    ix.build([base / "docs"], progress=False)
    return ix, base


def test_rejected_uploads_get_a_reason_and_change_nothing(tiny_index, tmp_path):
    ix, base = tiny_index
    before = ix.stats()["version"], sorted(p.name for p in (base / "docs").iterdir())
    up = Uploads(ix, base / "docs", max_bytes=1000)
    big = tmp_path / "big.txt"
    big.write_text("word " * 500)
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    target = tmp_path / "real.txt"
    target.write_text("A linked file.")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    bad = tmp_path / "x.exe"
    bad.write_bytes(b"MZ")
    messages = up.add([(big, "big.txt"), (empty, "empty.txt"), (link, "link.txt"), (bad, "x.exe"),
                       (target, "../escape.txt")])
    assert len(messages) == 5 and all("rejected" in m for m in messages)
    assert "too large" in messages[0] and "empty" in messages[1] and "symbolic link" in messages[2]
    assert "unsupported" in messages[3] and "path" in messages[4]
    assert (ix.stats()["version"], sorted(p.name for p in (base / "docs").iterdir())) == before
    assert not (base / "escape.txt").exists()


def test_accepted_upload_is_saved_indexed_and_answerable_at_once(tiny_index, tmp_path):
    ix, base = tiny_index
    new = tmp_path / "lamps.txt"
    new.write_text("Lamp notes\n\nThe lamplighter of Ormsby lit exactly 212 gas lamps every evening.\n")
    steps = []
    messages = Uploads(ix, base / "docs").add([(new, "lamps.txt")], progress=lambda f, d: steps.append(f))
    assert messages[0].startswith("added docs/lamps.txt"), messages
    assert (base / "docs" / "lamps.txt").read_text() == new.read_text()
    assert steps and steps[-1] == 1.0
    answer = ix.ask("How many gas lamps did the lamplighter of Ormsby light?")
    assert answer.found and "212" in answer.passages[0].answer


# -- a served app: gradio_client and a real browser -----------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(seeds_index, seeds_copy, tmp_path_factory):
    """`qa serve` in a subprocess over private copies of the seeds and their index, plus one hostile file."""
    from qa import Index

    base = tmp_path_factory.mktemp("served")
    shutil.copytree(seeds_copy, base / "seeds")
    shutil.copytree(seeds_index.path, base / "index")
    (base / "seeds" / "harbour.txt").write_text(HARBOUR)
    Index(base / "index").add([base / "seeds" / "harbour.txt"])
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "serve", "--index", str(base / "index"), "--sources", str(base / "seeds"),
         "--port", str(port)],
        cwd=base, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"qa serve exited: {proc.stdout.read()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("qa serve did not answer within 120 s")
            time.sleep(0.3)
        print(f"\nqa serve: page served {time.perf_counter() - started:.1f} s after start")
        yield url, base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_api_answers_from_gradio_client_with_the_documented_schema(served):
    from gradio_client import Client

    url, _ = served
    client = Client(url, verbose=False)
    data = client.predict("Who chairs the review meetings?", 3, api_name="/ask")
    assert list(data) == ["question", "found", "passages", "searched_for"]
    assert data["found"] and len(data["passages"]) == 3
    assert "chair their review meetings" in data["passages"][0]["answer"]
    assert data["passages"][0]["source"].startswith("seeds/")
    assert client.predict("What is the boiling point of water?", 3, api_name="/ask")["found"] is False


def test_api_takes_an_optional_history_for_follow_up_questions(served):
    from gradio_client import Client

    client = Client(served[0], verbose=False)
    history = [{"role": "user", "content": FOLLOW_UP[0]},
               {"role": "assistant", "content": "More work needs to be done to lift standards."}]
    data = client.predict(FOLLOW_UP[1], 3, None, history, api_name="/ask")  # (question, k, sources, history)
    assert "whiting" in data["passages"][0]["answer"].lower()
    assert data["searched_for"].startswith(FOLLOW_UP[1] + " (+ ")
    assert client.predict(FOLLOW_UP[1], 3, None, [], api_name="/ask")["searched_for"] == FOLLOW_UP[1]
    with pytest.raises(Exception, match="role"):
        client.predict(FOLLOW_UP[1], 3, None, [{"role": "bot", "content": "hi"}], api_name="/ask")


def test_api_called_over_raw_http_with_only_question_and_k_still_answers(served):
    import json as jsonlib

    url, _ = served
    request = urllib.request.Request(f"{url}gradio_api/call/ask", data=jsonlib.dumps(
        {"data": ["Who chairs the review meetings?", 2]}).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as r:
        event = jsonlib.loads(r.read())["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/ask/{event}", timeout=120) as r:
        stream = r.read().decode()
    assert "event: complete" in stream, stream
    data = jsonlib.loads(stream.split("event: complete\ndata: ", 1)[1].splitlines()[0])[0]
    assert data["found"] and len(data["passages"]) == 2 and data["searched_for"] == data["question"]


def test_twenty_people_asking_at_once_all_get_answers(served):
    from gradio_client import Client
    from seed_questions import ANSWERABLE

    url, _ = served
    client = Client(url, verbose=False)
    questions = [q for q, _ in ANSWERABLE[:20]]
    started = time.perf_counter()
    jobs = [client.submit(q, 3, api_name="/ask") for q in questions]
    results = [job.result(timeout=120) for job in jobs]
    took = time.perf_counter() - started
    print(f"\n20 simultaneous questions answered in {took:.1f} s")
    assert [r["question"] for r in results] == questions
    assert all(r["passages"] for r in results)


browser = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(chromium, served):
    ctx = chromium.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.dialogs = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.set_default_timeout(60_000)
    pg.goto(served[0])
    pg.wait_for_selector("#qa-question textarea")
    yield pg
    ctx.close()


def open_accordion(pg, accordion: str, label: str, inside: str) -> None:
    """Open an accordion and wait until what it holds shows: on a loaded machine a click that lands
    while the page is still wiring its handlers opens nothing, so it is clicked again."""
    for _ in range(5):
        pg.click(f"{accordion} button:has-text('{label}'), {accordion} .label-wrap")
        try:
            pg.locator(inside).wait_for(state="visible", timeout=15_000)
            return
        except Exception:  # still closed (or closed again): click once more
            continue
    pg.locator(inside).wait_for(state="visible", timeout=15_000)


def ask_in_browser(pg, question: str):
    turns = pg.locator("#qa-chat .qa-turn").count()
    pg.fill("#qa-question textarea", question)
    started = time.perf_counter()
    pg.click("#qa-ask")
    pg.wait_for_function(f"document.querySelectorAll('#qa-chat .qa-turn').length > {turns}")
    took = time.perf_counter() - started
    return pg.locator("#qa-chat .qa-turn").last, took


@browser
def test_browser_shows_the_answer_sentence_citation_and_highlighted_source(page):
    page.locator("#qa-examples").wait_for(state="visible")  # example questions on first load (times out if never shown)
    turn, took = ask_in_browser(page, "What was the average social worker caseload in Kent in September 2021?")
    print(f"\nanswer shown in the browser {took:.2f} s after Ask")
    sentence = turn.locator(".qa-answer mark.qa-hl")
    assert "16.4" in sentence.inner_text()
    assert "seeds/" in turn.locator(".qa-passage .qa-file").first.inner_text()
    assert "lines" in turn.locator(".qa-passage .qa-meta").first.inner_text()
    turn.locator("button.qa-cite").first.click()
    mark = page.locator("#qa-viewer #qa-doc-answer")
    mark.wait_for()
    assert "16.4" in mark.inner_text()
    assert page.locator("#qa-viewer .qa-doc-passage").count() >= 1
    head = page.locator("#qa-viewer-head").inner_text()
    assert "Source [1]" in head and "seeds/" in head and "lines" in head
    page.wait_for_function(  # scrolled into view inside the viewer
        "(() => { const m = document.querySelector('#qa-doc-answer'); const r = m.getBoundingClientRect();"
        " const v = document.querySelector('#qa-viewer').getBoundingClientRect();"
        " return r.top >= Math.max(0, v.top) && r.bottom <= Math.min(window.innerHeight, v.bottom); })()"
    )
    if os.environ.get("QA_SCREENSHOT"):  # the picture in docs/web.md: QA_SCREENSHOT=docs/web-chat.png pytest -m browser
        page.evaluate("window.scrollTo(0, 0)")
        page.wait_for_timeout(800)  # let Gradio's loading fade finish
        page.screenshot(path=os.environ["QA_SCREENSHOT"])


@browser
def test_browser_follow_up_is_answered_in_the_conversation_until_a_new_one_starts(page):
    ask_in_browser(page, FOLLOW_UP[0])
    turn, _ = ask_in_browser(page, FOLLOW_UP[1])  # "there": only the question before says where
    assert "whiting" in turn.locator(".qa-answer").inner_text().lower()
    assert turn.locator(".qa-searched").inner_text().startswith(f"Searched for: {FOLLOW_UP[1]} (+ ")
    assert page.locator("#qa-chat .qa-turn").count() == 2  # the earlier question and answer stay visible
    page.click("#qa-new")
    page.wait_for_function("document.querySelectorAll('#qa-chat .qa-turn').length == 0")
    turn, _ = ask_in_browser(page, FOLLOW_UP[1])
    assert turn.locator(".qa-searched").count() == 0  # asked on its own now


@browser
def test_browser_visitors_each_have_their_own_conversation(chromium, served):
    pages = []
    for _ in range(2):
        ctx = chromium.new_context(viewport={"width": 1200, "height": 900})
        pg = ctx.new_page()
        pg.set_default_timeout(60_000)
        pg.goto(served[0])
        pg.wait_for_selector("#qa-question textarea")
        pages.append((ctx, pg))
    (ctx_a, a), (ctx_b, b) = pages
    try:
        ask_in_browser(a, FOLLOW_UP[0])
        ask_in_browser(b, "What was the average social worker caseload in Kent in September 2021?")
        turn_a, _ = ask_in_browser(a, FOLLOW_UP[1])
        turn_b, _ = ask_in_browser(b, FOLLOW_UP[1])
        assert "whiting" in turn_a.locator(".qa-answer").inner_text().lower()
        assert FOLLOW_UP[0] not in b.locator("#qa-chat").inner_text()
        searched_b = turn_b.locator(".qa-searched")
        assert searched_b.count() == 0 or "primary" not in searched_b.inner_text().lower()
        assert b.locator("#qa-chat .qa-turn").count() == 2
    finally:
        ctx_a.close()
        ctx_b.close()


@browser
def test_browser_not_found_says_so(page):
    turn, _ = ask_in_browser(page, "What is a good recipe for chocolate cake?")
    text = turn.text_content()  # as written, before CSS capitalisation
    assert "The sources don't answer this question." in text
    assert "Closest passages" in text and "do not answer it" in text


@browser
def test_browser_shows_markup_in_a_source_as_text_and_runs_none_of_it(page):
    turn, _ = ask_in_browser(page, "Where does the harbour festival committee meet every Thursday?")
    assert "boathouse" in turn.locator(".qa-answer").inner_text()
    turn.locator("button.qa-cite").first.click()
    page.locator("#qa-viewer #qa-doc-answer").wait_for()
    viewer = page.locator("#qa-viewer").inner_text()
    assert INJECTION in viewer and IMG_INJECTION in viewer
    assert INJECTION in turn.inner_text()
    assert page.locator("#qa-chat img, #qa-viewer img, #qa-chat script, #qa-viewer script").count() == 0
    page.wait_for_timeout(300)
    assert page.dialogs == []


@browser
def test_browser_upload_is_indexed_and_answers_at_once(page, served, tmp_path):
    _, base = served
    new = tmp_path / "lighthouse.txt"
    new.write_text("Lighthouse log\n\nThe keeper of the Dunmore Head lighthouse has a cat named Marmalade.\n")
    open_accordion(page, "#qa-add", "Add documents", "#qa-add-button")
    listed = page.locator("#qa-files").get_by_text("lighthouse.txt").first
    status = page.locator("#qa-upload-status li")
    for _ in range(3):  # on a loaded machine an upload can stall: choose the file again
        page.set_input_files("#qa-files input[type=file]", str(new))
        try:
            listed.wait_for(timeout=30_000)
        except Exception:  # the list may lag behind the upload: Add tells whether the file arrived
            pass
        page.click("#qa-add-button")
        try:
            page.wait_for_function("(document.querySelector('#qa-upload-status') || {}).innerText"
                                   "?.includes('added seeds/lighthouse.txt')", timeout=120_000)
            break
        except Exception:  # "choose one or more files first": the file never arrived; again
            continue
    else:
        shown = status.first.inner_text() if status.count() else ""
        pytest.fail(f"the upload never reached the index: status {shown!r}, "
                    f"#qa-files holds {page.locator('#qa-files').inner_html()[:2000]}")
    assert "qa-ok" in (status.first.get_attribute("class") or "")
    assert (base / "seeds" / "lighthouse.txt").exists()
    turn, _ = ask_in_browser(page, "What is the name of the cat of the Dunmore Head lighthouse keeper?")
    assert "Marmalade" in turn.locator(".qa-answer mark.qa-hl").inner_text()
    assert "seeds/lighthouse.txt" in turn.inner_text()


def test_auth_option_keeps_out_clients_without_the_password(tiny_index):
    from gradio_client import Client

    from qa.web import launch, make_app

    ix, base = tiny_index
    demo = make_app(ix, base / "docs")
    port = free_port()
    served = launch(demo, "127.0.0.1", port, auth=("ann", "s3cret"), block=False, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        with pytest.raises(Exception):
            Client(url, verbose=False)
        client = Client(url, auth=("ann", "s3cret"), verbose=False)
        assert client.predict("Which way does the river Wenn flow?", 1, api_name="/ask")["found"]
    finally:
        served.close()


@browser
def test_browser_document_picker_limits_the_next_questions_to_the_chosen_document(page):
    page.locator("#qa-within input").click()
    page.locator('#qa-within [role="option"][aria-label="seeds/002_50547e16009b5205.txt"]').click()
    page.keyboard.press("Escape")
    turn, _ = ask_in_browser(page, "What did Ofsted find?")
    sources = {s.strip() for s in turn.locator(".qa-passage .qa-file").all_inner_texts()}
    assert sources == {"seeds/002_50547e16009b5205.txt"}, sources


@browser
def test_browser_thumbs_up_is_stored_beside_the_index_then_exported_and_replayed(page, served, tmp_path):
    from qa import Index
    from qa.feedback import FeedbackStore

    _, base = served
    question = "What rating did Kent get at its previous inspection in 2017?"
    store = FeedbackStore(base / "index" / "feedback.sqlite")

    def votes_on(q):
        return [v for v in store.votes() if v.question == q]

    turn, _ = ask_in_browser(page, question)
    turn.locator("button.qa-vote[data-vote='up']").click()
    assert "Thanks" in turn.locator(".qa-vote-status").inner_text()
    for _ in range(100):  # the vote travels as an event; wait for it to land
        if votes_on(question):
            break
        page.wait_for_timeout(200)
    [vote] = votes_on(question)
    ix = Index(base / "index")
    assert (vote.vote, vote.origin, vote.k, vote.history, vote.sources) == ("up", "web", 3, (), None)
    assert vote.index_version == ix.stats()["version"] and vote.found and len(vote.passages) == 3
    for p in vote.passages:  # the passages shown, with offsets that read back from the source
        assert ix.document_text(p.source)[p.start:p.end] == p.text
    assert vote.cited[0].answer in turn.locator(".qa-answer").inner_text()

    turn.locator(".qa-vote-comment").fill("Right, and the page says so too")
    turn.locator("button.qa-vote-send").click()
    for _ in range(100):
        if votes_on(question)[0].comment:
            break
        page.wait_for_timeout(200)
    [again] = votes_on(question)
    assert again.id == vote.id and again.comment == "Right, and the page says so too"
    ask_in_browser(page, "Who chairs the review meetings?")  # the conversation is drawn again: the vote stays shown
    assert page.locator("#qa-chat .qa-turn").nth(-2).locator("button.qa-vote.qa-chosen[data-vote='up']").count() == 1

    out = tmp_path / "votes.jsonl"
    qa = [sys.executable, "-m", "qa.cli"]
    exported = subprocess.run([*qa, "feedback", "export", "--index", str(base / "index"), "--out", str(out)],
                              capture_output=True, text=True, timeout=300, cwd=base)
    assert exported.returncode == 0, exported.stderr
    line = next(json.loads(x) for x in out.read_text(encoding="utf-8").splitlines() if question in x)
    assert line["vote"] == "up" and line["comment"] == again.comment and line["origin"] == "web"
    print("\nexported: " + json.dumps(line, ensure_ascii=False)[:600] + "…")
    replayed = subprocess.run([*qa, "eval", "feedback", str(out), "--index", str(base / "index")],
                              capture_output=True, text=True, timeout=300, cwd=base)
    print(replayed.stdout)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "kept" in replayed.stdout and "LOST" not in replayed.stdout
