"""One interface to every optimizer: `optimization.optimize(..., optimizer=NAME)`, in both DSPy versions."""

from __future__ import annotations

import dspy
import pytest

from assistant.devset import Split
from assistant.metrics import answer_f1
from assistant.model_switcher import ANY_ROLE, ModelSwitcher, TaskType
from assistant.offline_lm import ExtractiveLM
from assistant.optimization import OptimizationResult, optimize, validation_split
from assistant.optimizers import NAMES, OptimizerUnavailable, available, feedback_metric
from assistant.qa import DocsQA


@pytest.fixture
def routed() -> tuple[ModelSwitcher, ExtractiveLM]:
    """A switcher whose optimization LM is its own object, so that its calls can be counted."""
    reflection = ExtractiveLM()
    return ModelSwitcher(ExtractiveLM(), {(TaskType.OPTIMIZATION, ANY_ROLE): reflection}), reflection


def test_the_existing_loop_still_defaults_to_bootstrap(optimization: OptimizationResult) -> None:
    assert (optimization.optimizer, optimization.optimized.program) == ("bootstrap", "DocsQA (BootstrapFewShot)")


def test_an_unknown_optimizer_is_refused_by_name(student: DocsQA, devset: Split, switcher: ModelSwitcher) -> None:
    with pytest.raises(ValueError, match="unknown optimizer 'copro'; known: bootstrap, gepa, simba, miprov2"):
        optimize(student, devset.train, switcher=switcher, optimizer="copro")


def test_the_validation_set_is_the_last_third_of_train(devset: Split) -> None:
    train, validation = validation_split(devset.train)
    assert (len(train), len(validation)) == (10, 4)
    assert train + validation == devset.train
    assert validation_split(devset.train[:1]) == ([], devset.train[:1])


def test_gepa_metric_gives_a_score_and_feedback_naming_the_expected_answer() -> None:
    gold = dspy.Example(question="q", answer="a spade").with_inputs("question")
    result = feedback_metric(answer_f1)(gold, dspy.Prediction(answer="a spade and a rake"), None, "answer", None)
    assert result.score == 0.5  # token F1: "spade" against "spade and rake"
    assert result.feedback == "Scored 0.50. The expected answer: a spade"


def test_gepa_exists_only_where_dspy_has_it() -> None:
    assert available("gepa") is hasattr(dspy, "GEPA")
    assert all(available(name) for name in ("bootstrap", "simba", "miprov2"))
    assert not available("copro")


@pytest.mark.skipif(hasattr(dspy, "GEPA"), reason="this DSPy has GEPA")
def test_gepa_is_refused_before_dspy_3(student: DocsQA, devset: Split, switcher: ModelSwitcher) -> None:
    with pytest.raises(OptimizerUnavailable, match=rf"GEPA needs DSPy >= 3.0; this is DSPy {dspy.__version__}\."):
        optimize(student, devset.train, switcher=switcher, optimizer="gepa")


@pytest.mark.parametrize("name", ["gepa", "simba", "miprov2"])
def test_each_new_optimizer_compiles_docs_qa(
    name: str, student: DocsQA, devset: Split, routed: tuple[ModelSwitcher, ExtractiveLM]
) -> None:
    if not available(name):
        pytest.skip(f"DSPy {dspy.__version__} has no {NAMES[name]}")
    switcher, optimization_lm = routed
    compiled = optimize(student, devset.train[:9], switcher=switcher, optimizer=name, budget=12)
    assert isinstance(compiled, DocsQA) and compiled is not student
    assert [n for n, _ in compiled.named_predictors()] == ["answer", "revise"]
    with switcher.use(TaskType.QA):
        assert compiled(question=devset.dev[0].question).answer
    if name == "gepa":  # the reflection LM is the switcher's optimization LM, and it was asked
        assert optimization_lm.history
