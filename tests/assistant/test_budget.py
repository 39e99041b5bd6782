"""Hard budgets: each dimension, thread-safe counters, the kept program, the violation hook."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import dspy
import pytest

from assistant.budget import Budget, BudgetExceeded, BudgetGuard, Stop, Usage, estimate_tokens
from assistant.devset import Split
from assistant.metrics import answer_f1
from assistant.model_switcher import ModelSwitcher
from assistant.offline_lm import ExtractiveLM
from assistant.optimization import optimize
from assistant.qa import DocsQA


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_metric_calls_stop_before_the_call_past_the_limit() -> None:
    seen: list[int] = []
    guard = BudgetGuard(Budget(metric_calls=3))
    metric = guard.wrap_metric(lambda gold, pred: seen.append(1) or 1.0)
    for _ in range(3):
        metric(None, None)
    with pytest.raises(BudgetExceeded) as raised:
        metric(None, None)
    assert (raised.value.dimension, raised.value.used, raised.value.limit, len(seen)) == ("metric_calls", 3, 3, 3)
    assert guard.usage().metric_calls == 3


def test_lm_calls_are_refused_through_dspy_callbacks(lm_context: ExtractiveLM) -> None:
    guard = BudgetGuard(Budget(lm_calls=2))
    predict = dspy.Predict("question -> answer")
    with guard.watching():
        predict(question="one?")
        predict(question="two?")
        with pytest.raises(BudgetExceeded, match="lm_calls would go past its limit of 2"):
            predict(question="three?")
    assert guard.usage().lm_calls == 2 and len(lm_context.history) == 2


def test_tokens_are_a_counted_estimate_of_prompts_and_completions(lm_context: ExtractiveLM) -> None:
    guard = BudgetGuard(Budget(tokens=10**9))
    with guard.watching():
        dspy.Predict("question -> answer")(question="What grows in the garden?")
    entry = lm_context.history[-1]
    prompt = "".join(m["content"] for m in entry["messages"])
    completion = "".join(entry["outputs"]) if "outputs" in entry else "".join(
        c["message"]["content"] for c in entry["response"]["choices"]) if isinstance(entry["response"], dict) else None
    assert guard.usage().tokens >= estimate_tokens(prompt)
    if completion is not None:
        assert guard.usage().tokens == estimate_tokens(prompt) + estimate_tokens(completion)


def test_tokens_refuse_a_prompt_that_would_cross_the_limit(lm_context: ExtractiveLM) -> None:
    guard = BudgetGuard(Budget(tokens=5))
    with guard.watching(), pytest.raises(BudgetExceeded, match="tokens"):
        dspy.Predict("question -> answer")(question="What grows in the garden?")
    assert lm_context.history == [] and guard.usage().tokens == 0


def test_a_completion_never_carries_tokens_past_the_limit(lm_context: ExtractiveLM) -> None:
    """Task 3.3's failure (7858 tokens used of 7849): the prompt fit, the completion then crossed the limit."""
    predict = dspy.Predict("question -> answer")
    measure = BudgetGuard(Budget(tokens=10**9))
    with measure.watching():
        predict(question="What grows in the garden?")
    prompt = estimate_tokens("".join(m["content"] for m in lm_context.history[-1]["messages"]))
    assert measure.usage().tokens > prompt  # the completion costs tokens too
    guard = BudgetGuard(Budget(tokens=prompt + 1))
    with guard.watching(), pytest.raises(BudgetExceeded, match="tokens would go past its limit"):
        predict(question="What grows in the garden?")
    assert guard.usage().tokens == 0 and len(lm_context.history) == 1


LM = SimpleNamespace(kwargs={"max_tokens": 10})  # the guard reads only an LM's max_tokens


def lm_inputs(prompt_tokens: int, **kwargs: Any) -> dict[str, Any]:
    return {"prompt": None, "messages": [{"role": "user", "content": "p" * 4 * prompt_tokens}], "kwargs": kwargs}


def test_calls_in_flight_reserve_their_maximum_so_two_cannot_share_the_rest() -> None:
    """Both prompts fit the 30 tokens, but each call may add 10 more: the second one must wait its turn."""
    guard = BudgetGuard(Budget(tokens=30))
    guard.on_lm_start("a", LM, lm_inputs(10))
    with pytest.raises(BudgetExceeded, match="tokens would go past its limit of 30"):
        guard.on_lm_start("b", LM, lm_inputs(10))
    guard.on_lm_end("a", ["c" * 4 * 10])
    assert guard.usage() == Usage(lm_calls=1, tokens=20)


def test_a_call_pays_only_what_it_used_and_releases_the_rest_of_its_reservation() -> None:
    guard = BudgetGuard(Budget(tokens=30))
    guard.on_lm_start("a", LM, lm_inputs(5))
    guard.on_lm_end("a", ["c" * 4 * 2])
    guard.on_lm_start("b", LM, lm_inputs(5))  # 7 used + 15 reserved: fits
    guard.on_lm_end("b", None, RuntimeError("the LM failed"))  # the prompt was sent: it counts
    assert guard.usage() == Usage(lm_calls=2, tokens=12)


def test_the_per_call_max_tokens_and_n_completions_set_the_reservation() -> None:
    refused = BudgetGuard(Budget(tokens=30))
    with pytest.raises(BudgetExceeded):
        refused.on_lm_start("a", LM, lm_inputs(5, n=3))  # 5 + 3 * 10 > 30
    assert refused.usage() == Usage()  # a refused call is not counted in any dimension, lm_calls included
    guard = BudgetGuard(Budget(tokens=30))
    guard.on_lm_start("b", LM, lm_inputs(5, max_tokens=25))  # 5 + 25 = 30
    guard.on_lm_end("b", ["c" * 4 * 25])
    assert guard.usage() == Usage(lm_calls=1, tokens=30)


def test_an_lm_without_max_tokens_is_refused_under_a_token_limit() -> None:
    guard = BudgetGuard(Budget(tokens=10**9))
    with pytest.raises(BudgetExceeded, match="tokens"):
        guard.on_lm_start("a", SimpleNamespace(kwargs={}), lm_inputs(1))


def test_concurrent_calls_never_cross_the_token_limit() -> None:
    """Every call starts before any ends, in 8 threads: the admitted calls' maxima fit the limit."""
    guard = BudgetGuard(Budget(tokens=100))

    def start(call: int) -> bool:
        try:
            guard.on_lm_start(str(call), LM, lm_inputs(10))
        except BudgetExceeded:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        admitted = [call for call, ok in zip(range(8), pool.map(start, range(8)), strict=True) if ok]
        list(pool.map(lambda call: guard.on_lm_end(str(call), ["c" * 4 * 10]), admitted))
    assert len(admitted) == 5 and guard.usage().tokens == 100


def test_wall_time_uses_the_injected_clock() -> None:
    clock = FakeClock()
    guard = BudgetGuard(Budget(seconds=10), clock=clock)
    metric = guard.wrap_metric(lambda gold, pred: 1.0)
    with guard.watching():
        clock.now += 9.5
        metric(None, None)
        clock.now += 0.5
        with pytest.raises(BudgetExceeded, match="seconds would go past its limit of 10"):
            metric(None, None)
        clock.now += 100  # the optimizer's time ended at the stop
    assert guard.usage().seconds == 10.0 and guard.usage().metric_calls == 1


def test_once_tripped_every_later_call_is_refused() -> None:
    guard = BudgetGuard(Budget(metric_calls=1, lm_calls=100))
    metric = guard.wrap_metric(lambda gold, pred: 1.0)
    metric(None, None)
    with pytest.raises(BudgetExceeded):
        metric(None, None)
    with pytest.raises(BudgetExceeded, match="metric_calls"):
        guard.on_lm_start("id", None, {"messages": []})


def test_counters_are_thread_safe() -> None:
    guard = BudgetGuard(Budget(metric_calls=5000))
    metric = guard.wrap_metric(lambda gold, pred: 1.0)

    def hammer(_: int) -> int:
        done = 0
        for _ in range(1000):
            try:
                metric(None, None)
                done += 1
            except BudgetExceeded:
                pass
        return done

    with ThreadPoolExecutor(max_workers=8) as pool:
        done = sum(pool.map(hammer, range(8)))
    assert done == 5000 and guard.usage().metric_calls == 5000


def test_the_best_scoring_candidate_is_kept(lm_context: ExtractiveLM) -> None:
    class Candidate(dspy.Module):
        def __init__(self, answer: str) -> None:
            super().__init__()
            self.answer = answer

        def forward(self, question: str) -> dspy.Prediction:
            return dspy.Prediction(answer=self.answer)

    student, good, bad = Candidate("student"), Candidate("good"), Candidate("bad")
    scores = {"good": 0.9, "bad": 0.1}

    def compile(metric):  # noqa: ANN001, ANN202 - the optimizer stand-in
        for program in (bad, good, bad):
            metric(None, program(question="q"))
        raise RuntimeError("an optimizer wrapped the stop")  # the guard must still recognise it

    guard = BudgetGuard(Budget(metric_calls=2))
    kept = guard.run(student, lambda gold, pred: scores[pred.answer], compile)
    assert kept.answer == "good" and kept is not good
    assert guard.stop is not None and (guard.stop.kept, guard.stop.score, guard.stop.candidates) == ("best candidate", 0.9, 2)


def test_without_scored_candidates_the_student_is_kept() -> None:
    student = dspy.Predict("question -> answer")
    stops: list[Stop] = []

    def compile(metric):  # noqa: ANN001, ANN202
        raise BudgetExceeded("lm_calls", 0, 0) if guard._trip("lm_calls", 0, 0) else None

    guard = BudgetGuard(Budget(lm_calls=0), on_violation=stops.append)
    assert guard.run(student, answer_f1, compile) is student
    assert [(s.kept, s.score, s.violation.dimension) for s in stops] == [("student", None, "lm_calls")]


def test_errors_that_are_not_a_budget_stop_propagate() -> None:
    guard = BudgetGuard(Budget(metric_calls=10))
    with pytest.raises(ZeroDivisionError):
        guard.run(dspy.Predict("q -> a"), answer_f1, lambda metric: 1 / 0)


def test_optimize_stops_simba_at_exactly_the_budget_and_runs_the_hook(student: DocsQA, devset: Split) -> None:
    """In both DSPy versions (SIMBA exists in 2.6.27 and 3.0.1); GEPA's overshoot: the handler's probe."""
    calls: list[int] = []
    stops: list[Stop] = []

    def metric(gold, pred, trace=None):  # noqa: ANN001, ANN202
        calls.append(1)
        return answer_f1(gold, pred)

    guard = BudgetGuard(Budget(metric_calls=10), on_violation=stops.append)
    kept = optimize(student.deepcopy(), devset.train, switcher=ModelSwitcher(ExtractiveLM()), optimizer="simba",
                    metric=metric, guard=guard)
    assert len(calls) == 10 and isinstance(kept, DocsQA)
    assert [(s.violation.dimension, s.usage.metric_calls, s.program is kept) for s in stops] == [("metric_calls", 10, True)]


def test_optimize_without_a_violation_returns_the_compiled_program(student: DocsQA, devset: Split) -> None:
    guard = BudgetGuard(Budget(metric_calls=1000, lm_calls=1000, tokens=10**9, seconds=3600))
    compiled = optimize(student.deepcopy(), devset.train, switcher=ModelSwitcher(ExtractiveLM()), guard=guard)
    assert guard.stop is None and compiled.answer.demos and guard.usage().lm_calls > 0
