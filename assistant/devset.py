"""The labelled question/answer set shipped with the assistant, split into train and dev."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import dspy

DEVSET_PATH = Path(__file__).resolve().parent / "data" / "devset.jsonl"
_FIELDS = ("id", "question", "answer", "source", "split")
_SPLITS = ("train", "dev")


@dataclass(frozen=True)
class Split:
    """Examples to optimize on (train) and to measure on (dev); inputs: `question`."""

    train: list[dspy.Example]
    dev: list[dspy.Example]


def load_devset(path: Path = DEVSET_PATH) -> Split:
    """Read a JSONL file of {id, question, answer, source, split}; errors name file:line."""
    split: dict[str, list[dspy.Example]] = {name: [] for name in _SPLITS}
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{where}: not JSON ({error.msg})") from error
        missing = [f for f in _FIELDS if not isinstance(row.get(f), str) or not row[f].strip()]
        if missing:
            raise ValueError(f"{where}: missing or empty {', '.join(missing)}")
        if row["split"] not in split:
            raise ValueError(f"{where}: split must be one of {', '.join(_SPLITS)}, not {row['split']!r}")
        if row["question"] in seen:
            raise ValueError(f"{where}: duplicate question {row['question']!r}")
        seen.add(row["question"])
        fields = {f: row[f] for f in ("id", "question", "answer", "source")}
        split[row["split"]].append(dspy.Example(**fields).with_inputs("question"))
    return Split(train=split["train"], dev=split["dev"])
