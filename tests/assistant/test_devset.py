"""The shipped labelled set and its loader."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from assistant.devset import DEVSET_PATH, Split, load_devset


def test_the_shipped_set_has_a_train_and_a_dev_split(devset: Split) -> None:
    assert 20 <= len(devset.train) + len(devset.dev) <= 40
    assert len(devset.train) >= 10 and len(devset.dev) >= 10
    assert {e.question for e in devset.train}.isdisjoint(e.question for e in devset.dev)


def test_examples_take_the_question_as_input(devset: Split) -> None:
    example = devset.dev[0]
    assert set(example.inputs().keys()) == {"question"}
    assert set(example.labels().keys()) == {"id", "answer", "source"}


def test_every_source_is_a_document_of_this_repository(devset: Split, repo_root: Path) -> None:
    for example in devset.train + devset.dev:
        assert (repo_root / example.source).is_file(), example.source


def test_every_gold_answer_occurs_in_its_source(devset: Split, repo_root: Path) -> None:
    # Keeps the set honest when the docs change: an answer must still be extractable.
    texts = {
        p: (repo_root / p).read_text(encoding="utf-8").replace("**", "").replace("`", "")
        for p in {e.source for e in devset.train + devset.dev}
    }
    for example in devset.train + devset.dev:
        assert example.answer.lower() in " ".join(texts[example.source].split()).lower(), example.id


def _write(tmp_path: Path, *rows: object) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8"
    )
    return path


ROW = {"id": "x", "question": "q?", "answer": "a", "source": "README.md", "split": "dev"}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["{oops"], ":1: not JSON"),
        ([{**ROW, "answer": ""}], ":1: missing or empty answer"),
        ([{k: v for k, v in ROW.items() if k != "source"}], ":1: missing or empty source"),
        ([{**ROW, "split": "test"}], ":1: split must be one of train, dev, not 'test'"),
        ([ROW, {**ROW, "id": "y"}], ":2: duplicate question 'q?'"),
    ],
)
def test_bad_rows_are_reported_with_file_and_line(
    tmp_path: Path, rows: list[object], message: str
) -> None:
    path = _write(tmp_path, *rows)
    with pytest.raises(ValueError, match="^" + re.escape(f"{path}{message}")):
        load_devset(path)


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    split = load_devset(_write(tmp_path, ROW, "", {**ROW, "question": "q2?", "split": "train"}))
    assert (len(split.train), len(split.dev)) == (1, 1)


def test_the_default_path_is_inside_the_package() -> None:
    assert DEVSET_PATH.parts[-3:] == ("assistant", "data", "devset.jsonl")
