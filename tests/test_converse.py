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
