"""Follow-up questions: the history a question may come with, and what the conversation changes.

The dialogues over the seeds are our own; each checks behaviour (which document a follow-up is
read in, that a new topic is not read in the old one), not an exact wording of the answer.
"""

import pytest

from qa.converse import MAX_HISTORY_TURNS, Turn, TurnVectors, check_history, turn_weights
from qa.errors import InvalidInput, InvalidType
from qa.settings import ConversationSettings

QUESTIONS = [
    "Who chairs the review meetings?",
    "What was the average social worker caseload in Kent in September 2021?",
    "What is the boiling point of water?",
]


def said(role: str, content: str) -> dict:
    return {"role": role, "content": content}


# -- the history argument ------------------------------------------------------------------------

@pytest.mark.parametrize("question", QUESTIONS)
def test_no_history_and_an_empty_history_give_exactly_the_answer_without_a_conversation(seeds_any_store, question,
                                                                                       monkeypatch):
    alone = seeds_any_store.ask(question)
    import qa.index

    def never(*args, **kwargs):
        raise AssertionError("a question without history must not be searched as a follow-up")

    monkeypatch.setattr(qa.index, "follow_up", never)
    for history in (None, [], ()):
        answer = seeds_any_store.ask(question, history=history)
        assert answer == alone  # every passage, offset, sentence and score, bit for bit
        assert answer.searched_for == answer.question == question


def test_history_is_a_list_of_role_and_content_messages_oldest_first():
    turns = check_history([said("user", "  Who chairs\n the meetings? "), said("assistant", "The children do."),
                           {"role": "user", "content": "", "metadata": {"title": "ignored"}},
                           Turn("user", "And where?")])
    assert turns == (Turn("user", "Who chairs the meetings?"), Turn("assistant", "The children do."),
                     Turn("user", "And where?"))
    assert check_history(None) == () and check_history([]) == ()


@pytest.mark.parametrize("history, error, words", [
    ("Who chairs the meetings?", InvalidType, "list"),
    ({"role": "user", "content": "x"}, InvalidType, "list"),
    (42, InvalidType, "list"),
    (["Who chairs the meetings?"], InvalidType, "history[0]"),
    ([said("user", "x"), said("bot", "y")], InvalidInput, "history[1] has role 'bot'"),
    ([{"content": "x"}], InvalidInput, "role None"),
    ([said("user", None)], InvalidType, "content must be a string"),
    ([said("user", ["a", "file"])], InvalidType, "content must be a string"),
    ([said("user", "x")] * (MAX_HISTORY_TURNS + 1), InvalidInput, f"at most {MAX_HISTORY_TURNS}"),
])
def test_bad_history_is_a_clear_error(history, error, words):
    with pytest.raises(error, match=words.replace("[", r"\[").replace("]", r"\]")):
        check_history(history)


def test_bad_history_is_refused_by_ask_before_anything_is_searched(seeds_index):
    with pytest.raises(InvalidInput, match="role"):
        seeds_index.ask("Where do they take place?", history=[said("system", "be brief")])
    with pytest.raises(TypeError):
        seeds_index.ask("Where do they take place?", history="Who chairs the review meetings?")


def test_a_long_history_is_read_only_as_far_as_the_last_turns():
    settings = ConversationSettings(turns=4)
    old = [said("user", f"old question {i}") for i in range(500)]
    recent = [said("user", "Who chairs the review meetings?"), said("assistant", "Children chair them.")] * 2
    assert check_history(old + recent)[-settings.turns:] == check_history(recent)


def test_recent_turns_weigh_more_and_an_answer_weighs_less_than_its_question():
    s = ConversationSettings(decay=0.5, assistant_weight=0.5)
    turns = [Turn("user", "a"), Turn("assistant", "b"), Turn("user", "c"), Turn("assistant", "d")]
    assert turn_weights(turns, s) == [0.5, 0.25, 1.0, 0.5]


def test_turn_vectors_are_remembered_so_a_follow_up_encodes_only_what_is_new():
    encoded = []

    def encode(texts):
        import numpy as np

        encoded.extend(texts)
        return np.eye(4, dtype=np.float32)[: len(texts)]

    memory = TurnVectors(size=2)
    memory.encode("m", encode, ["a", "b"])
    memory.encode("m", encode, ["b", "c"])
    assert encoded == ["a", "b", "c"]
    memory.encode("m", encode, ["a"])  # dropped: the memory holds two texts
    assert encoded == ["a", "b", "c", "a"]
    memory.encode("other model", encode, ["a"])
    assert encoded[-1] == "a" and len(encoded) == 5


# -- dialogues over the seeds ----------------------------------------------------------------------

SCHOOLS = "What did Ofsted say about standards in the county's primary schools?"  # the 2011 article (002)


def chat(index, *questions):
    """Ask each question after the ones before it and qa's answers to them; the last answer."""
    history: list[dict] = []
    for question in questions:
        answer = index.ask(question, history=history)
        history += [said("user", question), said("assistant", answer.answer or "")]
    return answer


def test_a_follow_up_is_searched_in_the_document_the_conversation_is_about(seeds_any_store):
    first = seeds_any_store.ask(SCHOOLS)
    assert first.passages[0].source.startswith("seeds/002")
    answer = chat(seeds_any_store, SCHOOLS, "Who is the cabinet member for education there?")
    assert answer.passages[0].source.startswith("seeds/002")
    assert "mike whiting" in answer.passages[0].answer.lower()
    assert answer.searched_for.startswith("Who is the cabinet member for education there? (+ ")


def test_a_follow_up_asked_within_chosen_documents_stays_inside_them(seeds_any_store):
    """The conversation points at seeds/002; the reader chose other documents: every search of the
    follow-up, the whole-conversation one too, keeps to the choice."""
    history = [said("user", SCHOOLS), said("assistant", seeds_any_store.ask(SCHOOLS).answer or "")]
    within = ["seeds/003*", "seeds/004*"]
    answer = seeds_any_store.ask("Who is the cabinet member for education there?", k=5, history=history,
                                 sources=within)
    assert answer.passages and answer.searched_for.startswith("Who is the cabinet member for education there? (+ ")
    assert all(p.source.startswith(("seeds/003", "seeds/004")) for p in answer.passages)


def test_a_pronoun_is_read_as_the_person_the_conversation_named(seeds_index):
    answer = chat(seeds_index, SCHOOLS, "Who is the cabinet member for education there?", "What did he say?")
    assert answer.passages[0].source.startswith("seeds/002")
    assert "whiting" in answer.passages[0].answer.lower()


def test_a_question_on_a_new_topic_drops_the_old_one(seeds_any_store):
    new_topic = "What was the average social worker caseload in Kent in September 2021?"
    alone = seeds_any_store.ask(new_topic)
    answer = chat(seeds_any_store, SCHOOLS, "Who is the cabinet member for education there?", new_topic)
    assert answer.searched_for == new_topic  # it stands on its own: asked alone
    assert answer.passages[0].source == alone.passages[0].source
    assert answer.passages[0].answer == alone.passages[0].answer and "16.4" in answer.passages[0].answer


def test_the_answer_to_a_follow_up_is_a_sentence_of_its_source_and_not_found_stays_honest(seeds_index, seeds_copy):
    answer = chat(seeds_index, SCHOOLS, "What is the boiling point of water?")
    assert not answer.found  # a conversation's prior is no evidence that a sentence answers
    follow = chat(seeds_index, SCHOOLS, "Who is the cabinet member for education there?")
    for p in follow.passages:
        text = (seeds_copy.parent / p.source).read_text(encoding="utf-8")
        assert text[p.start:p.end] == p.text and text[p.answer_start:p.answer_end] == p.answer
