"""The constitution suite: the document and its checkers agree, and every article is exercised
by a compliant and a violating case (tests/data/constitution/*.json); the guard refuses
operations, the audit hook catches the ones nobody announced, and the DSPy callback judges
real module outputs."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import dspy
import pytest
from dspy.utils import DummyLM
from dspy.utils.callback import BaseCallback

from migration.constitution import (
    Article,
    Constitution,
    ConstitutionError,
    ConstitutionViolation,
    Guard,
    Operation,
    OutputRecord,
    Scope,
    World,
    articles,
    default,
    guarded,
    operation,
)
from migration.constitution.constitution import drift
from migration.constitution.monitor import OutputMonitor, Tally
from migration.constitution.registry import CHECKERS
from tests.conftest import DATA, ROOT

CASES = DATA / "constitution"


def load_cases(name: str) -> list[dict[str, Any]]:
    return json.loads((CASES / name).read_text(encoding="utf-8"))


def subject(scope: Scope, record: dict[str, Any]) -> OutputRecord | Operation:
    return OutputRecord(**record) if scope is Scope.OUTPUTS else Operation(**record)


ALL_CASES = [(Scope.OUTPUTS, c) for c in load_cases("outputs.json")] + [
    (Scope.OPERATIONS, c) for c in load_cases("operations.json")]
WORLD = World.of(ROOT, environ={})


def case_id(case: tuple[Scope, dict[str, Any]]) -> str:
    return f"{case[1]['article']}-{case[1]['expect']}-{case[1]['name'].replace(' ', '_')}"


# ---------------------------------------------------------------- the document and the checks agree
def test_every_article_has_a_checker_and_every_checker_an_article() -> None:
    found = articles.load()
    assert drift(found, CHECKERS) == []
    assert [a.id for a in found] == ["O1", "O2", "O3", "O4", "O5", "O6", "P1", "P2", "P3", "P4", "P5"]
    assert {a.id for a in found} == set(CHECKERS)


def test_a_missing_checker_or_article_is_drift(tmp_path: Path) -> None:
    text = articles.DOCUMENT.read_text(encoding="utf-8")
    extra = text + "\n### Article P9: Never page anyone at night\n**Applies to**: operations\n**Clause**: No pages.\n"
    (tmp_path / "extra.md").write_text(extra, encoding="utf-8")
    with pytest.raises(ConstitutionError, match=r"article P9 \(line \d+: Never page anyone at night\) has no checker"):
        Constitution.load(tmp_path / "extra.md")
    start = text.index("### Article P5")
    (tmp_path / "short.md").write_text(text[:start], encoding="utf-8")
    with pytest.raises(ConstitutionError, match="checker within_budget is registered for article P5, which the "
                                                "constitution does not have"):
        Constitution.load(tmp_path / "short.md")


HEAD = "### Article O1: T\n"
MALFORMED = {
    "no scope": (HEAD + "**Clause**: c\n", "x.md:1: article O1 has no **Applies to** field"),
    "no clause": (HEAD + "**Applies to**: outputs\n", "x.md:1: article O1 has no **Clause** field"),
    "unknown scope": (HEAD + "**Applies to**: models\n**Clause**: c\n", "applies to 'models'; write `outputs` or `operations`"),
    "id of the wrong scope": ("### Article P1: T\n**Applies to**: outputs\n**Clause**: c\n",
                              "article P1 applies to outputs: its id must start with O"),
    "parameters not an object": (HEAD + "**Applies to**: outputs\n**Clause**: c\n**Parameters**: `[1]`\n",
                                 "x.md:4: **Parameters** must be a JSON object"),
    "parameters not JSON": (HEAD + "**Applies to**: outputs\n**Clause**: c\n**Parameters**: `{x}`\n",
                            "x.md:4: **Parameters** is not a JSON object"),
    "duplicate id": (HEAD + "**Applies to**: outputs\n**Clause**: c\n### Article O1: U\n",
                     "x.md:4: article O1 is already defined at line 1"),
}


@pytest.mark.parametrize(("text", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_documents_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ConstitutionError) as error:
        articles.parse(text, "x.md")
    assert message in str(error.value)


def test_parameters_come_from_the_document() -> None:
    assert default().article("O5").params["max_words"]["answer"] == 80
    assert ".git" in default().article("P1").params["protected"]


# ---------------------------------------------------------------- every article, both ways
def test_fixtures_cover_every_article_both_ways() -> None:
    covered = {(c["article"], c["expect"]) for _, c in ALL_CASES}
    assert covered == {(a, e) for a in default().ids() for e in ("complies", "violates")}


@pytest.mark.parametrize("case", ALL_CASES, ids=case_id)
def test_article(case: tuple[Scope, dict[str, Any]]) -> None:
    scope, data = case
    thing = subject(scope, data["record"])
    verdict = default().judge_one(data["article"], thing, WORLD)
    assert verdict.applies
    judged = default().judge(thing, scope, WORLD)
    broken = [a.id for a, v in judged if v.violation is not None]
    if data["expect"] == "complies":
        assert verdict.violation is None and broken == []  # a compliant case breaks no article at all
    else:
        assert verdict.violation is not None and data["evidence"] in verdict.violation, verdict.violation
        assert data["article"] in broken


def test_secret_values_from_the_environment_are_secrets() -> None:
    world = World.of(ROOT, environ={"GITOPS_LM_API_KEY": "local-key-778899"})
    record = OutputRecord("assistant.qa.DocsQA", {"answer": "use local-key-778899"})
    assert [v.article for v in default().output_violations(record, world)] == ["O3"]
    assert "local-key-778899" not in str(default().output_violations(record, world)[0])


# ---------------------------------------------------------------- the guard and the audit hook
@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with the protected files, under a strict guard's world."""
    for name in ("state.json", "constraints.txt", "migration/B-1006.md", ".git/HEAD", "notes.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n", encoding="utf-8")
    return tmp_path


def test_an_announced_violation_is_refused_and_logged(repo: Path) -> None:
    guard = Guard(World.of(repo, environ={}))
    with guarded(guard):
        operation("write", path=repo / "notes.md")
        with pytest.raises(ConstitutionViolation) as error:
            operation("delete", path="state.json")
    assert error.value.article_ids == ["P1"]
    assert [op.kind for op in guard.operations] == ["write", "delete"]
    assert [v.article for v in guard.violations] == ["P1"]


def test_a_lenient_guard_logs_without_refusing(repo: Path) -> None:
    guard = Guard(World.of(repo, environ={}), strict=False)
    with guarded(guard):
        operation("consume", resource="lm_calls", used=12, budget=10)
    assert [v.article for v in guard.violations] == ["P5"]


def test_nested_guards_both_see_the_operation(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outer, inner = Guard(World.of(repo, environ={}), strict=False), Guard(World.of(repo, environ={}), strict=False)
    with guarded(outer), guarded(inner):
        operation("deploy", target="production")
    assert [v.article for v in outer.violations] == [v.article for v in inner.violations] == ["P2"]


def test_the_audit_hook_refuses_unannounced_deletions(repo: Path) -> None:
    guard = Guard(World.of(repo, environ={}))
    with guarded(guard):
        os.remove(repo / "notes.md")  # not protected: allowed and logged
        with pytest.raises(ConstitutionViolation, match="P1"):
            os.remove(repo / "state.json")
        with pytest.raises(ConstitutionViolation, match="contains the protected path migration/B-1006.md"):
            shutil.rmtree(repo / "migration")
        with pytest.raises(ConstitutionViolation, match="is the protected path constraints.txt"):
            os.replace(repo / "constraints.txt", repo / "old.txt")
    assert (repo / "state.json").exists() and (repo / "migration" / "B-1006.md").exists()
    assert (repo / "constraints.txt").exists() and not (repo / "notes.md").exists()
    assert {op.source for op in guard.operations} == {"audit"}


def test_the_audit_hook_refuses_a_force_push_before_git_starts(repo: Path) -> None:
    with guarded(Guard(World.of(repo, environ={}))):
        with pytest.raises(ConstitutionViolation, match="P3"):
            subprocess.run(["git", "push", "--force", "origin", "main"], cwd=repo, check=False)


def test_the_hook_is_idle_without_a_guard(repo: Path) -> None:
    Guard(World.of(repo, environ={}))  # made but never activated
    os.remove(repo / "notes.md")
    assert not (repo / "notes.md").exists()


# ---------------------------------------------------------------- the DSPy callback
class Leaky(dspy.Module):
    """A stand-in assistant module whose LM leaks a token."""

    def __init__(self) -> None:
        super().__init__()
        self.answer = dspy.Predict("context, question -> answer")

    def forward(self, question: str) -> dspy.Prediction:
        context = ["Water the tomatoes every morning."]
        answer = self.answer(context=context, question=question).answer
        return dspy.Prediction(answer=answer, context=context, sources=["README.md"])


Leaky.__module__ = "assistant.leaky"  # the monitor watches classes defined under `assistant.`


def test_the_callback_judges_watched_module_outputs() -> None:
    tally = Tally()
    monitor = OutputMonitor(World.of(ROOT, environ={}), tally.add_output)
    token = "ghp_" + "Z9y8X7w6V5" * 4
    lm = DummyLM([{"answer": f"Roses like {token}"}, {"answer": "Water the tomatoes every morning."}])
    with dspy.context(lm=lm, callbacks=[monitor]):
        Leaky()(question="When?")
        Leaky()(question="When?")
    assert tally.outputs == 2 and tally.modules == {"assistant.leaky.Leaky": 2}  # Predict is not watched
    assert sorted(v.article for v in tally.violations) == ["O1", "O3"]
    assert all("z9y8x7w6v5" not in str(v).lower() for v in tally.violations)  # not even pieces of the token


def test_a_dspy_module_subclassed_in_the_assistant_is_not_an_assistant_module() -> None:
    from assistant.validation import BestOfN

    monitor = OutputMonitor(World.of(ROOT, environ={}), Tally().add_output)
    assert monitor.watches(Leaky) and not monitor.watches(BestOfN) and not monitor.watches(dspy.Predict)


def test_a_checker_that_raises_fails_the_output_instead_of_vanishing() -> None:
    def broken(record: OutputRecord, params: dict, world: World) -> Any:
        raise KeyError("oops")

    constitution = Constitution((Article("O1", "T", Scope.OUTPUTS, "c"),), {"O1": (Scope.OUTPUTS, broken)})
    tally = Tally()
    monitor = OutputMonitor(World.of(ROOT, environ={}), tally.add_output, constitution)
    with dspy.context(lm=DummyLM([{"answer": "Water the tomatoes every morning."}]), callbacks=[monitor]):
        Leaky()(question="When?")
    assert [(v.article, v.evidence) for v in tally.violations] == [("checker-error", "a checker raised KeyError: 'oops'")]


def test_the_monitor_steps_out_of_nested_calls_and_back() -> None:
    seen: list[list[object]] = []

    class Peek(dspy.Module):
        def forward(self, question: str) -> dspy.Prediction:
            seen.append(list(dspy.settings.callbacks))
            if question == "boom":
                raise ValueError(question)
            return dspy.Prediction(answer="Water the tomatoes.", context=["Water the tomatoes."], sources=["a.md"])

    Peek.__module__ = "assistant.peek"
    tally, other = Tally(), BaseCallback()
    monitor = OutputMonitor(World.of(ROOT, environ={}), tally.add_output)
    with dspy.context(callbacks=[monitor, other]):
        Peek()(question="q")
        with pytest.raises(ValueError):
            Peek()(question="boom")
        after = list(dspy.settings.callbacks)
    assert seen == [[other], [other]]  # inside: other callbacks only, so DSPy dispatches nothing to the monitor
    assert after == [monitor, other] and tally.outputs == 1  # restored, also after a raise (which has no output)


def test_async_calls_are_judged_too() -> None:
    class Answerer(dspy.Module):
        async def aforward(self, question: str) -> dspy.Prediction:
            assert monitor not in dspy.settings.callbacks
            return dspy.Prediction(answer="", context=["Water the tomatoes."], sources=["a.md"])

    Answerer.__module__ = "assistant.answerer"
    tally = Tally()
    monitor = OutputMonitor(World.of(ROOT, environ={}), tally.add_output)
    with dspy.context(callbacks=[monitor]):
        asyncio.run(Answerer().acall(question="q"))
        assert dspy.settings.callbacks == [monitor]
    assert [v.article for v in tally.violations] == ["O4"]


def test_the_callback_attributes_evaluation_scores() -> None:
    tally = Tally()
    monitor = OutputMonitor(World.of(ROOT, environ={}), tally.add_output)
    devset = [dspy.Example(question="When?", answer="every morning").with_inputs("question")]
    lm = DummyLM([{"answer": "Water the tomatoes every morning."}])
    with dspy.context(lm=lm, callbacks=[monitor]):
        dspy.Evaluate(devset=devset, metric=lambda e, p, t=None: 1.0, display_progress=False)(Leaky())
    assert tally.modules["dspy.Evaluate"] == 1 and tally.applied["O6"] == 1 and tally.violations == []
