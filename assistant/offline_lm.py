"""A deterministic offline LM: reads the ChatAdapter prompt and answers extractively.

Used whenever `GITOPS_LM` is unset, so that QA, BootstrapFewShot and evaluation produce
real (if modest) scores with no network. It answers by picking the context sentence that
best matches the question; with few-shot demos in the prompt it trims that sentence to
the demos' typical answer length, so optimizing the program measurably changes its output.
"""
from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dspy.utils import DummyLM

from assistant.extractive import extract_answer, rewrite_prompt

OFFLINE_LABEL = "offline DummyLM (deterministic extractive)"

_HEADER = re.compile(r"\[\[ ## (\w+) ## \]\]")
_OUTPUT_SPEC = re.compile(r"^\d+\. `(\w+)` \((.*?)\):", re.MULTILINE)
_RESPOND = "\n\nRespond with the corresponding output fields"
_REASONING = frozenset({"reasoning", "rationale", "discussion"})
_ANSWER = frozenset({"answer", "response", "output"})


@dataclass(frozen=True)
class PromptView:
    """What a ChatAdapter prompt asks for: the inputs, the output fields, the demos."""

    inputs: dict[str, str]
    outputs: list[tuple[str, str]]  # (field name, type as written in the system message)
    demos: list[dict[str, str]] = field(default_factory=list)


def parse_fields(content: str) -> dict[str, str]:
    """The `[[ ## name ## ]]` sections of one message, by field name."""
    parts = _HEADER.split(content)
    fields = {name: value.strip() for name, value in zip(parts[1::2], parts[2::2], strict=True)}
    fields.pop("completed", None)  # DSPy 3.0 closes demo turns with this marker, 2.6 does not
    return fields


def read_prompt(messages: Sequence[Mapping[str, Any]]) -> PromptView:
    """Parse the system message, the demo turns and the final user message of a chat prompt."""
    system = next((str(m["content"]) for m in messages if m.get("role") == "system"), "")
    spec = system.split("Your output fields are:", 1)[-1].split("All interactions", 1)[0]
    outputs = _OUTPUT_SPEC.findall(spec) if system else [("answer", "str")]
    turns = [m for m in messages if m.get("role") != "system"]
    final = str(turns[-1]["content"]).split(_RESPOND, 1)[0] if turns else ""
    demos: list[dict[str, str]] = []
    for user, reply in zip(turns[:-1:2], turns[1:-1:2], strict=False):
        demos.append({**parse_fields(str(user["content"])), **parse_fields(str(reply["content"]))})
    inputs = parse_fields(final) or {"question": final}
    return PromptView(inputs=inputs, outputs=outputs, demos=demos)


def context_passages(view: PromptView) -> list[str]:
    """The `context` input as a list of passages (DSPy renders `list[str]` as JSON)."""
    raw = view.inputs.get("context")
    if raw is None:
        return [v for k, v in view.inputs.items() if k != "question"]
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return [raw]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def respond(view: PromptView) -> dict[str, str]:
    """A deterministic value for every requested output field."""
    return {name: _value(name, type_, view) for name, type_ in view.outputs}


def _answer(view: PromptView) -> str:
    lengths = [len(d["answer"].split()) for d in view.demos if d.get("answer")]
    limit = re.search(r"at most (\d+) words", view.inputs.get("feedback", ""))
    return extract_answer(
        view.inputs.get("question") or next(iter(view.inputs.values()), ""),
        context_passages(view),
        demo_lengths=lengths,
        avoid=view.inputs.get("previous_answer"),
        max_words=int(limit.group(1)) if limit else None,
    )


def _value(name: str, type_: str, view: PromptView) -> str:
    if name in _ANSWER:
        return _answer(view)
    if name in _REASONING:
        return f"The passage sentence sharing the most terms with the input is: {_answer(view)}"
    if "prompt" in name or "instruction" in name:
        current = next((v for k, v in view.inputs.items() if "prompt" in k or "instruction" in k), "")
        feedback = next((v for k, v in view.inputs.items() if "feedback" in k), "")
        return rewrite_prompt(current, feedback)
    if type_.startswith("dict"):
        # Refine's feedback signature asks for advice per module name (a JSON list input).
        try:
            names = json.loads(view.inputs.get("module_names") or "[]")
        except json.JSONDecodeError:
            names = []
        return json.dumps({str(n): "Answer with one sentence copied from the context." for n in names})
    if type_.startswith("list"):
        return "[]"
    if type_ in ("int", "float"):
        return "0"
    if type_ == "bool":
        return "false"
    if type_.startswith("Literal["):
        return type_[len("Literal[") :].split(",")[0].strip(" ]'\"")
    return _answer(view)


class ExtractiveLM(DummyLM):
    """`DummyLM` whose answers are computed from each prompt instead of a fixed script."""

    label = OFFLINE_LABEL

    def __init__(self) -> None:
        # Per-thread scratch space for the current call's answer; see `answers` below.
        self._pending: dict[int, dict[str, dict[str, str]]] = {}
        super().__init__(answers={})

    # DummyLM.__call__ looks its reply up in `self.answers` (dict mode: the first key found
    # in the last message). Serving a per-thread dict keyed by "" lets us reuse DummyLM's
    # formatting, history and callbacks unchanged in 2.6 and 3.0 (their history APIs
    # differ: `update_global_history` vs `update_history`), while dspy.Evaluate's threads
    # share one LM. A dict, not threading.local: BestOfN/Refine deep-copy the LM.
    @property
    def answers(self) -> dict[str, dict[str, str]]:
        """The reply DummyLM will format for the calling thread."""
        return self._pending.get(threading.get_ident(), {})

    @answers.setter
    def answers(self, value: Any) -> None:
        pass  # DummyLM.__init__ assigns its script here; replies are computed per call instead

    def __call__(
        self, prompt: str | None = None, messages: list[dict[str, Any]] | None = None, **kwargs: Any
    ) -> list[Any]:
        """Answer the chat `messages` (or a bare `prompt`) deterministically."""
        view = read_prompt(messages or [{"role": "user", "content": prompt or ""}])
        me = threading.get_ident()
        self._pending[me] = {"": respond(view)}
        try:
            return super().__call__(prompt=prompt, messages=messages, **kwargs)
        finally:
            self._pending.pop(me, None)
