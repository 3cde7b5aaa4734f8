"""Votes on answers: what a vote holds, where it is kept, the JSONL test set and its replay
(`qa feedback export`, `qa eval feedback FILE`). The browser's 👍 is in tests/test_web.py."""

import json
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import replace

import pytest

from qa.errors import InvalidInput, InvalidType
from qa.feedback import FeedbackStore, Vote, export, read_jsonl, replay, vote_from

QA = [sys.executable, "-m", "qa.cli"]
ANSWERED = "What rating did Kent get at its previous inspection in 2017?"
NOT_ANSWERED = "What is a good recipe for chocolate cake?"


@pytest.fixture
def index_copy(seeds_index, seeds_copy, tmp_path):
    """A private copy of the seeds and their index (votes are written beside it; a test may change it)."""
    from qa import Index

    shutil.copytree(seeds_copy, tmp_path / "seeds")
    (tmp_path / "index").mkdir()
    shutil.copy(seeds_index.path / "embeddings.sqlite", tmp_path / "index")  # nothing is embedded again
    ix = Index(tmp_path / "index")
    ix.build([tmp_path / "seeds"], progress=False)
    return ix


def voted(ix, question: str, vote: str, k: int = 3, **extra) -> Vote:
    return vote_from({**ix.ask(question, k=k).to_dict(), "vote": vote, "k": k, **extra})


# -- what a vote holds ----------------------------------------------------------------------------

def test_a_vote_is_about_the_passages_that_gave_the_answer(seeds_index):
    answer = seeds_index.ask("How much did the council invest in increasing social work numbers?", k=4)
    vote = vote_from({**answer.to_dict(), "vote": "up"})
    first = " ".join(answer.passages[0].answer.split())
    assert [p.cited for p in vote.passages] == [i == 0 or " ".join(p.answer.split()) == first
                                               for i, p in enumerate(answer.passages)]
    assert vote.passages[0].answer == answer.passages[0].answer and vote.k == 4 and vote.found
    assert vote_from({**seeds_index.ask(NOT_ANSWERED, k=2).to_dict(), "vote": "down"}).cited == ()


def test_a_passage_may_name_itself_as_what_the_vote_is_about(seeds_index):
    data = seeds_index.ask(ANSWERED, k=3).to_dict()
    data["passages"][2]["cited"] = True
    assert [p.cited for p in vote_from({**data, "vote": "down"}).passages] == [False, False, True]


@pytest.mark.parametrize("change, error, says", [
    (lambda d: {**d, "vote": "sideways"}, InvalidInput, "vote must be 'up' or 'down'"),
    (lambda d: {**d, "question": " "}, InvalidInput, "the question is empty"),
    (lambda d: {**d, "question": 7}, InvalidType, "question must be a string"),
    (lambda d: {**d, "passages": [{**d["passages"][0], "text": d["passages"][0]["text"][1:]}]}, InvalidInput, "do not fit"),
    (lambda d: {**d, "passages": [{**d["passages"][0], "answer_end": d["passages"][0]["end"] + 1}]}, InvalidInput, "do not fit"),
    (lambda d: {**d, "passages": "all"}, InvalidType, "passages must be a list"),
    (lambda d: {**d, "history": [{"role": "system", "content": "x"}]}, InvalidInput, "user or assistant"),
    (lambda d: {**d, "comment": "x" * 2001}, InvalidInput, "longer than 2000"),
    (lambda d: {**d, "k": 0}, InvalidInput, "k must be between 1 and 100"),
])
def test_a_vote_that_does_not_fit_its_answer_says_why(seeds_index, change, error, says):
    data = {**seeds_index.ask(ANSWERED, k=2).to_dict(), "vote": "up"}
    with pytest.raises(error, match=says):
        vote_from(change(data))


# -- where votes are kept -------------------------------------------------------------------------

def test_votes_are_kept_beside_the_index_and_publish_no_version(index_copy):
    version = index_copy.stats()["version"]
    store = FeedbackStore.beside(index_copy)
    saved = store.record(replace(voted(index_copy, ANSWERED, "up", comment="right", sources=["seeds/004*"],
                                       history=[{"role": "user", "content": "Hello"}]), index_version=version))
    assert store.path == index_copy.path / "feedback.sqlite"
    assert index_copy.stats()["version"] == version
    assert not list((index_copy.path / version).rglob("feedback*"))
    [back] = store.votes()
    assert back == saved and back.id == 1 and back.created_at.endswith("Z")
    assert (back.question, back.vote, back.comment, back.sources, back.history, back.index_version) == (
        ANSWERED, "up", "right", ("seeds/004*",), ({"role": "user", "content": "Hello"},), version)
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1  # migrations are numbered
    index_copy.build(progress=False, full=True)  # a rebuild leaves the votes alone
    assert FeedbackStore.beside(index_copy).votes() == [back]


def test_a_vote_with_the_key_of_an_earlier_one_replaces_its_vote_and_comment(index_copy):
    store = FeedbackStore.beside(index_copy)
    first = store.record(voted(index_copy, ANSWERED, "up", key="a1"))
    again = store.record(voted(index_copy, ANSWERED, "down", key="a1", comment="not this"))
    other = store.record(voted(index_copy, ANSWERED, "up"))
    assert first.id == again.id != other.id
    assert [(v.id, v.vote, v.comment) for v in store.votes()] == [(first.id, "down", "not this"), (other.id, "up", "")]


# -- the test set and its replay ------------------------------------------------------------------

def test_exported_votes_read_back_as_the_same_votes(index_copy, tmp_path):
    store = FeedbackStore.beside(index_copy)
    saved = [store.record(voted(index_copy, q, v)) for q, v in ((ANSWERED, "up"), (NOT_ANSWERED, "up"))]
    out = tmp_path / "votes.jsonl"
    with open(out, "w", encoding="utf-8") as f:
        assert export(store.votes(), f) == 2
    lines = out.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    assert list(first) == ["id", "created_at", "index_version", "origin", "question", "history", "sources", "k", "found",
                           "vote", "comment", "passages"]
    assert list(first["passages"][0]) == ["source", "start", "end", "answer_start", "answer_end", "answer", "text", "cited"]
    assert [replace(v, key=None) for v in read_jsonl(out)] == [replace(v, key=None) for v in saved]


def test_replay_keeps_up_voted_passages_and_flags_down_voted_ones_still_shown(index_copy):
    votes = [voted(index_copy, ANSWERED, "up"), voted(index_copy, ANSWERED, "down"),
             voted(index_copy, NOT_ANSWERED, "up")]
    result = replay(index_copy, votes)
    assert not result.failed
    assert [c.status for c in result.checks] == ["kept", "still shown", "still not found"]
    assert result.checks[0].rank_then == result.checks[0].rank_now == 1
    assert result.counts == {"up_passages": 1, "up_kept": 1, "down_passages": 1, "down_dropped": 0,
                             "notfound_votes": 1, "notfound_still": 1}


def test_replay_says_lost_when_an_up_voted_passage_falls_out_of_the_top_k(index_copy):
    up = voted(index_copy, ANSWERED, "up", k=2)
    source = up.cited[0].source
    down = voted(index_copy, ANSWERED, "down", k=2)
    index_copy.remove([index_copy.path.parent / source])
    result = replay(index_copy, [up, down])
    assert result.failed
    assert [c.status for c in result.checks] == ["LOST", "dropped"]
    assert result.checks[0].rank_now is None and "LOST" in result.table()


def test_replay_finds_a_passage_whose_document_changed_around_it(index_copy):
    """Offsets move when text is added before a passage; the same words still count as kept."""
    up = voted(index_copy, ANSWERED, "up", k=3)
    path = index_copy.path.parent / up.cited[0].source
    path.write_text("A new first line added later.\n\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    index_copy.build(progress=False)
    moved = index_copy.ask(ANSWERED, k=3).passages[0]
    assert moved.answer_start != up.cited[0].answer_start
    assert [c.status for c in replay(index_copy, [up]).checks] == ["kept"]


def test_qa_feedback_export_then_qa_eval_feedback_gate_on_lost_passages(index_copy, tmp_path):
    store = FeedbackStore.beside(index_copy)
    store.record(voted(index_copy, ANSWERED, "up", k=2))
    store.record(voted(index_copy, NOT_ANSWERED, "down", k=2))
    out = tmp_path / "votes.jsonl"
    exported = subprocess.run([*QA, "feedback", "export", "--index", str(index_copy.path), "--out", str(out)],
                              capture_output=True, text=True, timeout=300)
    assert exported.returncode == 0, exported.stderr
    assert "2 votes written" in exported.stderr and len(out.read_text().splitlines()) == 2
    to_stdout = subprocess.run([*QA, "feedback", "export", "--index", str(index_copy.path)], capture_output=True,
                               text=True, timeout=300)
    assert to_stdout.stdout == out.read_text()

    passed = subprocess.run([*QA, "eval", "feedback", str(out), "--index", str(index_copy.path)],
                            capture_output=True, text=True, timeout=300)
    print("\n" + passed.stdout)
    assert passed.returncode == 0, passed.stderr
    assert "👍 passages still in the top k: 1/1" in passed.stdout and "kept" in passed.stdout

    source = json.loads(out.read_text().splitlines()[0])["passages"][0]["source"]
    (index_copy.path.parent / source).unlink()  # the document is deleted: the index follows its sources
    failed = subprocess.run([*QA, "eval", "feedback", str(out), "--index", str(index_copy.path), "--json"],
                            capture_output=True, text=True, timeout=300)
    assert failed.returncode == 1
    result = json.loads(failed.stdout)
    assert result["failed"] and result["checks"][0]["status"] == "LOST"


def test_qa_eval_feedback_refuses_a_file_that_is_not_a_test_set(tmp_path, seeds_index):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "x", "vote": "up"}\nnot json\n')
    r = subprocess.run([*QA, "eval", "feedback", str(bad), "--index", str(seeds_index.path)], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 2 and "line 2" in r.stderr
    r = subprocess.run([*QA, "eval", "feedback"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "qa feedback export" in r.stderr
