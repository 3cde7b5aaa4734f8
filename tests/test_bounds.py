"""Question and parameter bounds through the Python API, the command line and the web API.

Control characters, 1 MB questions, k of 0, negative or a million, non-string input: each gets a
clear error or a sane clamp, never a traceback to the user and never a hang.
"""

from __future__ import annotations

import socket
import time
import unicodedata

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from qa.index import MAX_K, MAX_QUESTION_CHARS, check_k, clean_question

QUESTION = "Who chairs the review meetings?"
MEGABYTE = ("How many social workers did Kent employ in 2021 " * 25_000)[: 2**20]  # 1 MB of ordinary words
NASTY_MEGABYTE = "".join(chr(c) for c in range(0x20000)) * 8  # every code point below U+20000, ~1 M chars
NOT_STRINGS = [None, 42, 4.2, b"bytes", ["a list"], {"a": 1}]
BAD_K_VALUES = [0, -1, -10**9]
NOT_INTS = [True, 2.5, "5", None, [3]]
TIME_LIMIT = 60  # seconds; a question that takes longer than this counts as a hang (2 shared cores)


# -- the checks themselves, fuzzed (no model) -----------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.text(max_size=3000) | st.text(alphabet=st.characters(categories=("Cc", "Cf", "Zs", "Zl", "Zp", "Cs", "Co"))))
def test_any_string_becomes_a_clean_bounded_question_or_a_value_error(text):
    try:
        question, notes = clean_question(text)
    except ValueError as e:
        assert "empty" in str(e)
        return
    assert question and question == question.strip() and len(question) <= MAX_QUESTION_CHARS
    assert not any(unicodedata.category(ch)[0] == "C" for ch in question)  # no control/format/surrogate chars
    assert "  " not in question
    assert bool(notes) == (len(" ".join("".join(" " if unicodedata.category(c)[0] == "C" else c for c in text).split())) > MAX_QUESTION_CHARS)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(2**70), max_value=2**70))
def test_any_integer_k_is_clamped_or_refused(k):
    if k < 1:
        with pytest.raises(ValueError, match="at least 1"):
            check_k(k)
    else:
        assert check_k(k) == min(k, MAX_K)


@pytest.mark.parametrize("k", NOT_INTS + [np.float64(3.0)])
def test_k_that_is_not_an_integer_is_a_type_error(k):
    with pytest.raises(TypeError, match="k must be an integer"):
        check_k(k)


# -- the Python API -------------------------------------------------------------------------------

@pytest.mark.parametrize("question", ["", "   \n\t", "\x00\x01\x02\x1b\x7f", "\u200b\u200d\ufeff", "\ud800"])
def test_an_empty_question_is_a_clear_value_error(seeds_index, question):
    with pytest.raises(ValueError, match="the question is empty"):
        seeds_index.ask(question)


@pytest.mark.parametrize("question", NOT_STRINGS)
def test_a_question_that_is_not_a_string_is_a_clear_type_error(seeds_index, question):
    with pytest.raises(TypeError, match="question must be a string"):
        seeds_index.ask(question)


@pytest.mark.parametrize("k", BAD_K_VALUES)
def test_k_below_one_is_a_clear_value_error(seeds_index, k):
    with pytest.raises(ValueError, match="k must be at least 1"):
        seeds_index.ask(QUESTION, k=k)


@pytest.mark.parametrize("k", NOT_INTS)
def test_k_of_another_type_is_a_clear_type_error(seeds_index, k):
    with pytest.raises(TypeError, match="k must be an integer"):
        seeds_index.ask(QUESTION, k=k)


def test_unknown_mode_is_a_clear_value_error(seeds_index):
    with pytest.raises(ValueError, match="unknown retrieval mode"):
        seeds_index.ask(QUESTION, mode="<script>")


def test_a_huge_k_is_clamped(seeds_index):
    for k in (10**6, 2**63, np.int64(10**6)):
        answer = seeds_index.ask(QUESTION, k=k)
        assert 0 < len(answer.passages) <= MAX_K
    assert len(seeds_index.ask(QUESTION, k=10**6).passages) == len(seeds_index.ask(QUESTION, k=MAX_K).passages)


def test_control_characters_in_a_question_are_ignored(seeds_index):
    plain = seeds_index.ask(QUESTION)
    noisy = seeds_index.ask("Who\x00 chairs\x1b[31m the\u200b review\r\n meetings?\x7f\x07")
    assert noisy.question == "Who chairs [31m the review meetings?"
    assert noisy.found == plain.found and noisy.passages[0].source == plain.passages[0].source


@pytest.mark.parametrize("question", [MEGABYTE, NASTY_MEGABYTE], ids=["words", "every-code-point"])
def test_a_one_megabyte_question_is_cut_with_a_note_and_answered_quickly(seeds_index, question):
    started = time.perf_counter()
    answer = seeds_index.ask(question, k=3)
    took = time.perf_counter() - started
    print(f"\n1 MB question ({len(question):,} chars) answered in {took:.2f} s")
    assert took < TIME_LIMIT
    assert len(answer.question) <= MAX_QUESTION_CHARS
    assert any("truncated" in n for n in answer.notes)
    assert answer.passages


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(question=st.text(max_size=300), k=st.integers(-5, 10**7))
def test_any_question_and_k_give_an_answer_or_a_clear_error(seeds_index, question, k):
    try:
        answer = seeds_index.ask(question, k=k)
    except ValueError as e:
        assert "empty" in str(e) or "at least 1" in str(e)
        return
    assert len(answer.passages) <= min(k, MAX_K)
    assert answer.to_dict()["question"] == answer.question


# -- the command line -----------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["-k", "0"], "k must be at least 1"),
    (["-k", "-3"], "k must be at least 1"),
    (["-k", "many"], "Invalid value for '-k'"),
])
def test_cli_refuses_bad_k_with_exit_2_and_a_message(seeds_index, args, message):
    from qa.cli import app

    result = CliRunner().invoke(app, ["ask", QUESTION, "--index", str(seeds_index.path), *args], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert message in result.output and "Traceback" not in result.output


def test_cli_refuses_a_control_character_question_and_clamps_a_huge_k(seeds_index):
    import json

    from qa.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["ask", "\x01\x02\x1b", "--index", str(seeds_index.path)])
    assert result.exit_code == 2 and "the question is empty" in result.output
    result = runner.invoke(app, ["ask", QUESTION, "-k", "1000000", "--json", "--index", str(seeds_index.path)])
    assert result.exit_code == 0, result.output
    assert 0 < len(json.loads(result.stdout)["passages"]) <= MAX_K


# -- the web API ----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def web_api(seeds_index, seeds_copy):
    """The web app over the shared seeds index, served on 127.0.0.1 (asks only: nothing is changed)."""
    from gradio_client import Client

    from qa.web import launch, make_app

    demo = make_app(seeds_index, seeds_copy)
    port = free_port()
    served = launch(demo, "127.0.0.1", port, block=False, quiet=True)
    try:
        yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    finally:
        served.close()


def web_ask(client, question, k):
    return client.submit(question, k, api_name="/ask").result(timeout=TIME_LIMIT)


@pytest.mark.parametrize("question, k, message", [
    ("", 3, "the question is empty"),
    ("\x00\x01\x1b\x7f", 3, "the question is empty"),
    (QUESTION, 0, "k must be at least 1"),
    (QUESTION, -7, "k must be at least 1"),
    (QUESTION, "5", "k must be an integer"),
    (QUESTION, 2.5, "k must be an integer"),
    (QUESTION, None, "k must be an integer"),
    (None, 3, "question must be a string"),
    (12345, 3, "question must be a string"),
    (["a", "list"], 3, "question must be a string"),
])
def test_web_api_answers_bad_input_with_a_clear_error_and_no_traceback(web_api, capfd, question, k, message):
    with pytest.raises(Exception) as caught:
        web_ask(web_api, question, k)
    assert f"Cannot answer: {message}" in str(caught.value)
    assert "Traceback" not in str(caught.value)
    assert "Traceback" not in capfd.readouterr().err  # and the server logs none either


def test_web_api_clamps_a_huge_k_and_cuts_a_one_megabyte_question(web_api):
    data = web_ask(web_api, QUESTION, 10**6)
    assert data["found"] and 0 < len(data["passages"]) <= MAX_K
    started = time.perf_counter()
    data = web_ask(web_api, MEGABYTE, 3)
    print(f"\n1 MB question through the web API answered in {time.perf_counter() - started:.2f} s")
    assert len(data["question"]) <= MAX_QUESTION_CHARS and data["passages"]
    data = web_ask(web_api, "Who\x00 chairs\x1b the review meetings?\x7f", 3)
    assert data["question"] == "Who chairs the review meetings?" and data["found"]
