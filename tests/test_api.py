"""The JSON API beside the chat: its contract (schema, errors, OpenAPI docs), who may call it, and
votes through it; plus a small run of benchmarks/api_throughput.py (the full run is --run-slow)."""

import base64
import json
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Who chairs the review meetings?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(index_path: Path, **options):
    """`launch` in this process over the index at `index_path`; returns (served, base URL)."""
    from qa import Index
    from qa.web import launch, make_app

    demo = make_app(Index(index_path), None)
    port = free_port()
    served = launch(demo, "127.0.0.1", port, block=False, quiet=True, **options)
    return served, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def private_index(seeds_index, tmp_path_factory) -> Path:
    """A copy of the seeds index: votes are written beside it."""
    folder = tmp_path_factory.mktemp("api") / "index"
    shutil.copytree(seeds_index.path, folder)
    return folder


@pytest.fixture(scope="module")
def api(private_index):
    import httpx

    served, url = serve(private_index)
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            yield client
    finally:
        served.close()


# -- the contract ---------------------------------------------------------------------------------

def test_ask_returns_exactly_what_qa_ask_json_prints(api, private_index):
    r = api.post("/api/ask", json={"question": QUESTION, "k": 3})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    cli = subprocess.run([sys.executable, "-m", "qa.cli", "ask", QUESTION, "-k", "3", "--json", "--index",
                          str(private_index)], capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr
    assert r.json() == json.loads(cli.stdout)
    assert list(r.json()) == ["question", "found", "passages", "searched_for"] and len(r.json()["passages"]) == 3


def test_ask_defaults_to_five_passages_and_searches_only_the_sources_given(api):
    assert len(api.post("/api/ask", json={"question": "What did Ofsted find?"}).json()["passages"]) == 5
    within = api.post("/api/ask", json={"question": "What did Ofsted find?", "k": 3, "sources": ["seeds/002*"]}).json()
    assert {p["source"] for p in within["passages"]} == {"seeds/002_50547e16009b5205.txt"}


@pytest.mark.parametrize("body, status, says", [
    ({"question": ""}, 400, "the question is empty"),
    ({"question": " \n\t "}, 400, "the question is empty"),
    ({"question": 42}, 422, "valid string"),
    ({}, 422, "Field required"),
    ({"question": QUESTION, "k": 0}, 422, "greater than or equal to 1"),
    ({"question": QUESTION, "k": "many"}, 422, "valid integer"),
    ({"question": QUESTION, "sources": ["nowhere/*.pdf"]}, 400, "no indexed document matches nowhere/*.pdf"),
    ({"question": QUESTION, "history": [{"role": "system", "content": "hi"}]}, 422, "'user' or 'assistant'"),
    ({"question": QUESTION, "history": [{"role": "user"}]}, 422, "Field required"),
])
def test_a_question_that_cannot_be_asked_gets_400_or_422_with_a_message(api, body, status, says):
    r = api.post("/api/ask", json=body)
    assert r.status_code == status, r.text
    assert says in r.text


def test_a_conversation_before_the_question_is_read_for_the_follow_up(api):
    history = [{"role": "user", "content": "What did Ofsted say about standards in the county's primary schools?"},
               {"role": "assistant", "content": "More work needs to be done to lift standards."}]
    follow_up = "Who is the cabinet member for education there?"
    r = api.post("/api/ask", json={"question": follow_up, "k": 2, "history": history})
    assert r.status_code == 200 and r.json()["passages"]
    assert r.json()["searched_for"].startswith(follow_up + " (+ ")  # read in the conversation's context
    assert "whiting" in r.json()["passages"][0]["answer"].lower()
    alone = api.post("/api/ask", json={"question": follow_up, "k": 2, "history": []})
    assert alone.status_code == 200 and alone.json()["searched_for"] == follow_up


def test_documents_lists_each_source_with_title_format_and_metadata(api, seeds_index):
    docs = api.get("/api/documents").json()
    assert [d["source"] for d in docs] == [d.source for d in seeds_index.documents()]
    assert all(list(d) == ["source", "title", "format", "author", "published", "url"] for d in docs)
    by = {d["source"]: d for d in docs}
    assert by["seeds/002_50547e16009b5205.txt"]["author"] == "Paul Francis"
    assert by["seeds/000_573acb9ecb29c4cc.txt"]["published"] == "2022-07-07"


def test_health_names_the_version_answering(api, seeds_index):
    assert api.get("/api/health").json() == {"status": "ok", "version": seeds_index.stats()["version"],
                                             "documents": 5, "chunks": seeds_index.stats()["chunks"]}


def test_openapi_docs_describe_every_route_and_the_ask_schema(api):
    assert "swagger" in api.get("/docs").text.lower()
    spec = api.get("/openapi.json").json()
    assert {"/api/ask", "/api/feedback", "/api/documents", "/api/health"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert set(schemas["AskRequest"]["properties"]) == {"question", "k", "history", "sources"}
    # The documented response is exactly what /api/ask sends (and `qa ask --json` prints).
    answer = api.post("/api/ask", json={"question": QUESTION, "k": 2}).json()
    assert list(schemas["AnswerOut"]["properties"]) == list(answer)
    assert list(schemas["PassageOut"]["properties"]) == list(answer["passages"][0])


def test_the_chat_is_still_served_at_the_root(api):
    page = api.get("/")
    assert page.status_code == 200 and "gradio" in page.text.lower()


# -- votes through the API ------------------------------------------------------------------------

def test_a_vote_posted_with_the_answer_is_kept_beside_the_index_not_inside_a_version(api, private_index):
    before = sorted(p.name for p in private_index.iterdir())
    versions = {p.name: sorted(q.name for q in p.iterdir()) for p in private_index.glob("v[0-9]*")}
    answer = api.post("/api/ask", json={"question": QUESTION, "k": 3}).json()
    r = api.post("/api/feedback", json={**answer, "vote": "up", "comment": "exactly right", "k": 3})
    assert r.status_code == 201, r.text
    saved = r.json()
    assert saved["vote"] == "up" and saved["cited"] >= 1 and saved["index_version"] == (private_index / "CURRENT").read_text().strip()
    assert sorted(p.name for p in private_index.iterdir()) == sorted(set(before) | {"feedback.sqlite"})
    assert {p.name: sorted(q.name for q in p.iterdir()) for p in private_index.glob("v[0-9]*")} == versions
    with sqlite3.connect(private_index / "feedback.sqlite") as db:
        question, vote, comment, passages, origin = db.execute(
            "SELECT question, vote, comment, passages, origin FROM votes WHERE id = ?", (saved["id"],)).fetchone()
    assert (question, vote, comment, origin) == (QUESTION, "up", "exactly right", "api")
    shown = json.loads(passages)
    assert [(p["source"], p["start"], p["end"], p["text"]) for p in shown] == [
        (p["source"], p["start"], p["end"], p["text"]) for p in answer["passages"]]
    assert shown[0]["cited"] and shown[0]["answer"] == answer["passages"][0]["answer"]


def test_a_second_vote_with_the_same_key_replaces_the_first(api, private_index):
    from qa.feedback import FeedbackStore

    answer = api.post("/api/ask", json={"question": "How many inspectors carried out the inspection?", "k": 2}).json()
    first = api.post("/api/feedback", json={**answer, "vote": "up", "key": "answer-7"}).json()
    second = api.post("/api/feedback", json={**answer, "vote": "down", "comment": "wrong year", "key": "answer-7"}).json()
    assert first["id"] == second["id"]
    kept = [v for v in FeedbackStore(private_index / "feedback.sqlite").votes() if v.key == "answer-7"]
    assert [(v.vote, v.comment) for v in kept] == [("down", "wrong year")]


@pytest.mark.parametrize("change, status, says", [
    (lambda a: {**a, "vote": "maybe"}, 422, "'up' or 'down'"),
    (lambda a: {**a, "passages": [{**a["passages"][0], "end": a["passages"][0]["end"] + 5}]}, 400, "do not fit its text"),
    (lambda a: {**a, "question": "  "}, 400, "the question is empty"),
    (lambda a: {**a, "comment": "x" * 3000}, 422, "at most 2000 characters"),
])
def test_a_vote_that_does_not_fit_its_answer_is_refused_with_a_message(api, change, status, says):
    answer = api.post("/api/ask", json={"question": QUESTION, "k": 1}).json()
    r = api.post("/api/feedback", json=change({**answer, "vote": "up"}))
    assert r.status_code == status, r.text
    assert says in r.text


# -- who may call ---------------------------------------------------------------------------------

def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture(scope="module")
def guarded(private_index):
    """Served with the chat's login (--auth ann:s3cret) and a token for programs (--api-token)."""
    import httpx

    served, url = serve(private_index, auth=("ann", "s3cret"), api_token="tok-123", mcp=True)
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            yield client
    finally:
        served.close()


@pytest.mark.parametrize("headers", [{}, basic("ann", "wrong"), basic("bob", "s3cret"), {"Authorization": "Bearer tok-12"},
                                     {"Authorization": "Bearer"}, {"Authorization": "Basic not-base64!"}])
def test_with_auth_every_route_refuses_callers_without_the_login_or_token(guarded, headers):
    for method, path, body in (("POST", "/api/ask", {"question": QUESTION}), ("GET", "/api/documents", None),
                               ("POST", "/api/feedback", {"question": QUESTION, "vote": "up"}),
                               ("POST", "/mcp", {"jsonrpc": "2.0", "id": 1, "method": "tools/list"})):
        r = guarded.request(method, path, json=body, headers=headers)
        assert r.status_code == 401, (path, r.text)
        assert r.headers["www-authenticate"].startswith("Basic")


def test_with_auth_the_chat_login_as_basic_or_the_token_as_bearer_lets_a_program_in(guarded):
    for headers in (basic("ann", "s3cret"), {"Authorization": "Bearer tok-123"}):
        r = guarded.post("/api/ask", json={"question": QUESTION, "k": 1}, headers=headers)
        assert r.status_code == 200 and r.json()["found"]
        assert guarded.get("/api/documents", headers=headers).status_code == 200


def test_with_auth_the_chat_itself_still_asks_for_its_login(guarded):
    assert guarded.get("/config").status_code == 401
    assert guarded.get("/api/health").json()["status"] == "ok"  # for a load balancer: says nothing of the documents


def test_a_token_alone_guards_the_api(private_index):
    import httpx

    served, url = serve(private_index, api_token="only-this")
    try:
        assert httpx.post(f"{url}/api/ask", json={"question": QUESTION}).status_code == 401
        ok = httpx.post(f"{url}/api/ask", json={"question": QUESTION}, headers={"Authorization": "Bearer only-this"})
        assert ok.status_code == 200
        refused = httpx.post(f"{url}/api/ask", json={"question": QUESTION}, headers=basic("ann", "only-this"))
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
    finally:
        served.close()


def test_serve_takes_the_token_from_the_environment_when_not_given(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    import qa.web
    from qa.cli import app

    seen = {}
    monkeypatch.setattr(qa.web, "serve", lambda *a, **kw: seen.update(kw))
    monkeypatch.setenv("QA_API_TOKEN", "from-env")
    assert CliRunner().invoke(app, ["serve", "--index", str(tmp_path)]).exit_code == 0
    assert seen["api_token"] == "from-env" and seen["mcp"] is False
    CliRunner().invoke(app, ["serve", "--index", str(tmp_path), "--api-token", "given", "--mcp"])
    assert seen["api_token"] == "given" and seen["mcp"] is True


# -- throughput: benchmarks/api_throughput.py ------------------------------------------------------

def run_benchmark(index: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "api_throughput.py"), "--index", str(index),
                           "--json", *args], capture_output=True, text=True, timeout=3600)
    return done, json.loads(done.stdout) if done.stdout.strip() else {}


def test_the_throughput_benchmark_runs_all_three_paths_at_a_small_size(seeds_index):
    done, out = run_benchmark(seeds_index.path, "--questions", "24", "--clients", "4")
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {r["path"]: r for r in out["rows"]}
    assert set(rows) == {"engine (Index.ask)", "Gradio /ask", "/api/ask"}
    print("\n" + "\n".join(f"{p}: {r['per_second']} q/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
                           f"{r['vs_engine']}× engine" for p, r in rows.items()))
    for r in rows.values():
        assert r["questions"] == 24 and r["failed"] == 0 and r["per_second"] > 0 and 0 < r["p50_ms"] <= r["p99_ms"]


@pytest.mark.slow
def test_the_api_keeps_half_the_engines_rate_with_eight_clients_and_p99_under_250_ms(seeds_index):
    done, out = run_benchmark(seeds_index.path, "--check")
    print("\n" + json.dumps(out, indent=2))
    assert done.returncode == 0, done.stderr[-2000:]
    assert out["targets_met"]
