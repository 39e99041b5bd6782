"""Answer metrics in the DSPy metric shape `metric(example, prediction, trace=None)`."""
from __future__ import annotations

import re
import string
from collections import Counter
from typing import Any

# An answer bootstrapped into a demo must be at least this good (token F1).
BOOTSTRAP_F1 = 0.5

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans({ch: " " for ch in string.punctuation})


def normalize_answer(text: str) -> list[str]:
    """SQuAD-style normalisation: lower case, no punctuation or articles, split on spaces."""
    return _ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split()


def token_f1(prediction: str, gold: str) -> float:
    """Harmonic mean of token precision and recall between two answers (0.0 to 1.0)."""
    pred, ref = normalize_answer(prediction), normalize_answer(gold)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when both answers normalise to the same tokens, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def answer_f1(example: Any, prediction: Any, trace: Any = None) -> float | bool:
    """Token F1 of `prediction.answer`; while bootstrapping (trace set), whether it is good enough."""
    score = token_f1(str(getattr(prediction, "answer", "") or ""), str(example.answer))
    # DSPy's convention: optimizers pass a trace and want a pass/fail decision for a demo.
    return score >= BOOTSTRAP_F1 if trace is not None else score


def answer_exact(example: Any, prediction: Any, trace: Any = None) -> float:
    """Exact match of `prediction.answer` against `example.answer`."""
    return exact_match(str(getattr(prediction, "answer", "") or ""), str(example.answer))


def answer_in_context(example: Any, prediction: Any, trace: Any = None) -> float:
    """1.0 when every token of the gold answer occurs in the retrieved context (retriever recall)."""
    context = " ".join(getattr(prediction, "context", None) or ())
    return float(set(normalize_answer(str(example.answer))) <= set(normalize_answer(context)))


def retrieval_hit(example: Any, prediction: Any, trace: Any = None) -> float:
    """1.0 when the example's source document is among the prediction's retrieved sources."""
    return float(example.get("source") in (getattr(prediction, "sources", None) or ()))
