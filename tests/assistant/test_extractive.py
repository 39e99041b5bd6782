"""The offline LM's extractive answering and prompt rewriting, without DSPy."""

from __future__ import annotations

from assistant.extractive import (
    FEEDBACK_HEADING,
    NOT_FOUND,
    best_sentences,
    compress,
    extract_answer,
    rewrite_prompt,
    split_sentences,
)

PASSAGES = [
    "Watering\nWater the tomatoes every morning. Basil needs less water.",
    "Tools\nThe shed holds a spade, a rake and a wheelbarrow.",
]


def test_split_sentences_on_lines_and_full_stops() -> None:
    assert split_sentences("One. Two!\nThree; Four\nv2.6 is here\n") == [
        "One.",
        "Two!",
        "Three;",
        "Four",
        "v2.6 is here",
    ]


def test_best_sentence_shares_the_most_weighted_terms() -> None:
    assert (
        best_sentences("What does the shed hold?", PASSAGES)[0]
        == "The shed holds a spade, a rake and a wheelbarrow."
    )


def test_heading_terms_point_at_their_passage() -> None:
    # "watering" only occurs in the first passage's heading.
    assert best_sentences("Watering basil", PASSAGES)[0] == "Basil needs less water."


def test_headings_themselves_are_never_answers() -> None:
    assert "Tools" not in best_sentences("Tools", PASSAGES)


def test_compress_keeps_what_the_question_lacks() -> None:
    sentence = "Create background flusher with bounded concurrency (asyncio.Semaphore)"
    assert (
        compress(sentence, "What gives the background flusher bounded concurrency?", 1)
        == "(asyncio.Semaphore)"
    )


def test_compress_widens_to_the_requested_length() -> None:
    sentence = "Stop execution after 2 consecutive failures"
    assert (
        compress(sentence, "After how many failures does execution stop?", 3)
        == "2 consecutive failures"
    )


def test_compress_returns_short_sentences_whole() -> None:
    assert compress("Two words", "question", 5) == "Two words"


def test_extract_answer_without_demos_is_the_whole_sentence() -> None:
    assert (
        extract_answer("How often are tomatoes watered?", PASSAGES)
        == "Water the tomatoes every morning."
    )


def test_extract_answer_with_demos_is_shorter() -> None:
    answer = extract_answer("How often are tomatoes watered?", PASSAGES, demo_lengths=[2, 2, 3])
    assert answer == "every morning."


def test_extract_answer_avoids_a_rejected_answer() -> None:
    first = extract_answer("tomatoes water", PASSAGES)
    assert extract_answer("tomatoes water", PASSAGES, avoid=first) != first


def test_extract_answer_respects_a_word_limit() -> None:
    assert len(extract_answer("What does the shed hold?", PASSAGES, max_words=2).split()) <= 3


def test_extract_answer_without_context_says_so() -> None:
    assert extract_answer("anything", []) == NOT_FOUND


def test_rewrite_prompt_appends_new_feedback_once() -> None:
    current = "You are the reviewer. Check every claim."
    once = rewrite_prompt(current, "Answers were too long.\nCheck every claim.")
    assert once == f"{current}\n{FEEDBACK_HEADING}\n- Answers were too long."
    assert rewrite_prompt(once, "Answers were too long.") == once
    twice = rewrite_prompt(once, "Cite the task id.")
    assert twice.count(FEEDBACK_HEADING) == 1 and twice.endswith("- Cite the task id.")


def test_rewrite_prompt_without_feedback_keeps_the_prompt() -> None:
    assert rewrite_prompt("You are the coder.", "") == "You are the coder."
