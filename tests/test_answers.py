"""Questions about the seeds get the answering sentence first; others are not found."""

import pytest

from seed_questions import ANSWERABLE, UNANSWERABLE

JSON_PASSAGE_KEYS = {"text", "source", "title", "start", "end", "line_start", "line_end", "page", "score",
                     "answer", "answer_start", "answer_end", "also_in", "author", "published", "url",
                     "short_answer", "short_start", "short_end"}  # issue 21: the short answer (null when unsure)


def _flat(s: str) -> str:
    return " ".join(s.split()).lower()


def test_most_paraphrased_seed_questions_get_the_answering_sentence_first(seeds_any_store):
    misses = []
    for question, expected in ANSWERABLE:
        answer = seeds_any_store.ask(question)
        if not (answer.found and any(_flat(e) in _flat(answer.passages[0].answer) for e in expected)):
            misses.append((question, answer.passages[0].answer[:100] if answer.passages else None))
    share = 1 - len(misses) / len(ANSWERABLE)
    # The floor the engine must keep; docs/performance.md reports the measured share.
    assert share >= 0.7, misses


@pytest.mark.parametrize("question", UNANSWERABLE)
def test_questions_the_seeds_cannot_answer_are_not_found(seeds_any_store, question):
    answer = seeds_any_store.ask(question)
    assert answer.found is False
    assert answer.answer is None
    assert answer.passages, "closest passages are still shown"
    assert any("do not answer" in n for n in answer.notes)


def test_every_cited_span_reads_back_from_the_source_file(seeds_any_store, seeds_copy):
    for question, _ in ANSWERABLE[:10]:
        for p in seeds_any_store.ask(question, k=5).passages:
            text = (seeds_copy.parent / p.source).read_text(encoding="utf-8")
            assert text[p.start:p.end] == p.text
            assert text[p.answer_start:p.answer_end] == p.answer
            assert p.start <= p.answer_start < p.answer_end <= p.end
            lines = text.splitlines()
            assert _flat(p.text.splitlines()[0]) in _flat(lines[p.line_start - 1])
            assert _flat(p.text.splitlines()[-1]) in _flat(lines[p.line_end - 1])
            assert p.page is None


def test_same_quote_in_several_sources_collapses_into_one_result_with_also_in(seeds_any_store):
    answer = seeds_any_store.ask("Who said the result was fantastic but that the work does not stop here?", k=5)
    sources = [p.source for p in answer.passages]
    assert len(sources) == len(set(sources)) or all(p.also_in == () for p in answer.passages) is False
    quote = "our work does not stop here"
    holders = [p for p in answer.passages if quote in _flat(p.text)]
    assert len(holders) == 1, [p.source for p in holders]
    assert holders[0].also_in, "the other source carrying the quote is listed"
    assert holders[0].source not in holders[0].also_in


def test_answer_json_has_exactly_the_documented_schema(seeds_any_store):
    d = seeds_any_store.ask("How much did the council invest in social work?", k=3).to_dict()
    assert set(d) == {"question", "found", "passages", "searched_for"}
    assert d["searched_for"] == d["question"]  # no conversation: what was asked is what was searched for
    assert isinstance(d["found"], bool)
    for p in d["passages"]:
        assert set(p) == JSON_PASSAGE_KEYS
        assert p["source"].startswith("seeds/")
        assert p["page"] is None
        assert isinstance(p["also_in"], list)
        if p["short_answer"] is None:
            assert p["short_start"] is None and p["short_end"] is None
        else:
            assert isinstance(p["short_answer"], str)
            assert p["answer_start"] <= p["short_start"] < p["short_end"] <= p["answer_end"]
            assert p["answer"][p["short_start"] - p["answer_start"]:p["short_end"] - p["answer_start"]] == p["short_answer"]


def test_k_limits_passages_and_bad_k_is_a_clear_error(seeds_any_store):
    assert len(seeds_any_store.ask("What did Ofsted find?", k=2).passages) == 2
    for bad in (0, -3):
        with pytest.raises(ValueError, match="k must be"):
            seeds_any_store.ask("What did Ofsted find?", k=bad)
    assert len(seeds_any_store.ask("What did Ofsted find?", k=10**6).passages) <= 100


def test_empty_question_is_an_error_and_a_huge_one_is_truncated_with_a_note(seeds_any_store):
    for bad in ("", "   \n\t"):
        with pytest.raises(ValueError, match="empty"):
            seeds_any_store.ask(bad)
    with pytest.raises(TypeError):
        seeds_any_store.ask(42)
    huge = "What was the caseload in Kent? " + "blah " * 20000
    answer = seeds_any_store.ask(huge)
    assert any("truncated" in n for n in answer.notes)
    assert len(answer.question) <= 2000


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_each_retriever_can_be_chosen(seeds_any_store, mode):
    answer = seeds_any_store.ask("Which award was the virtual school the first to receive?", mode=mode)
    assert "national nurturing schools" in _flat(answer.passages[0].text)


def _overlapping_hits():
    """Chunks of one document as the chunker cuts them with a one-sentence overlap: A = s0 s1,
    B = s1 s2, and C = s1 alone; s1 answers the question best in each."""
    import numpy as np

    from qa.search import Hit
    from qa.stores import StoredChunk

    text = "Alpha beta gamma. The harbour opens at dawn. Delta epsilon zeta."
    s0, s1, s2 = (0, 17), (18, 44), (45, 64)
    e = np.eye(3, dtype=np.float32)

    def chunk(cid, spans, vectors):
        a, b = spans[0][0], spans[-1][1]
        return StoredChunk(cid, "doc", "harbour.txt", "Harbour", a, b, 1, 1, None, "", text[a:b], text[a:b],
                           tuple(spans), np.stack(vectors))

    hits = [Hit(chunk(1, [s0, s1], [e[0], e[1]]), 0.9, 0.7, 1.0),
            Hit(chunk(2, [s1, s2], [e[1], 0.6 * e[1] + 0.8 * e[2]]), 0.8, 0.7, 0.9),
            Hit(chunk(3, [s1], [e[1]]), 0.7, 0.7, 0.8)]
    return text, hits, e[1]


def test_overlapping_chunks_with_the_same_answer_show_as_one_passage_over_both():
    from qa.answer import select, to_passage

    text, hits, question = _overlapping_hits()
    found, scored = select("When does the harbour open?", question, hits, {"harbour": 1.0, "open": 1.0},
                           lambda texts: pytest.fail("stored sentence vectors are used"), k=5)
    assert found and len(scored) == 1
    passage = to_passage(scored[0])
    # The sentence only B holds is not lost; the offsets contract holds for the joined span.
    assert passage.text == text[passage.start:passage.end] == text
    assert passage.answer == text[passage.answer_start:passage.answer_end] == "The harbour opens at dawn."
    assert passage.chunk_id == 1


def test_k_passages_come_back_when_overlapping_chunks_share_their_answer(seeds_any_store):
    for question, _ in ANSWERABLE[:8]:
        answer = seeds_any_store.ask(question, k=5)
        assert len(answer.passages) == 5, question
        shown = [(p.source, p.answer_start) for p in answer.passages]
        assert len(shown) == len(set(shown)), "no sentence is the answer of two passages"


def test_a_list_item_number_is_not_the_quantity_a_how_many_question_asks_for():
    from qa.answer import answer_type_match

    question = "How many unaccompanied children arrived?"
    assert answer_type_match(question, "5. Positive experiences are evident for many children.") == 0.0
    assert answer_type_match(question, "(2) Children arrived in unparalleled numbers.") == 0.0
    assert answer_type_match(question, "5. Some 400 children arrived that summer.") == 1.0
    assert answer_type_match(question, "Some 400 children arrived that summer.") == 1.0
    assert answer_type_match("When was it rebuilt?", "1987. The lighthouse was automated.") == 1.0


@pytest.mark.parametrize("question, sentence, offers", [
    ("Who chairs the meetings?", "The Council Leader chairs them.", 1.0),
    ("Who chairs the meetings?", "they are chaired by cllr smith", 1.0),  # a title before a name
    ("When does the office open?", "It opens at 9.30am on weekdays.", 1.0),
    ("What time does the shuttle leave?", "The shuttle leaves at 18:00.", 1.0),
    ("When does the shuttle leave?", "The shuttle leaves from the harbour.", 0.0),
])
def test_the_kind_of_answer_a_question_asks_for_is_recognised_in_a_sentence(question, sentence, offers):
    from qa.answer import answer_type_match

    assert answer_type_match(question, sentence) == offers
