"""ModelSwitcher routes per task type and role, and is thread-safe through dspy.context."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import dspy
import pytest

from assistant.model_switcher import ANY_ROLE, ModelSwitcher, TaskType
from assistant.offline_lm import ExtractiveLM
from assistant.signatures import AnswerQuestion

CONTEXT = ["Tools\nThe shed holds a spade, a rake and a wheelbarrow."]


@pytest.fixture
def lms() -> dict[str, ExtractiveLM]:
    return {name: ExtractiveLM() for name in ("default", "qa", "qa_reviewer", "refine")}


@pytest.fixture
def routed(lms: dict[str, ExtractiveLM]) -> ModelSwitcher:
    return ModelSwitcher(
        lms["default"],
        {
            (TaskType.QA, ANY_ROLE): lms["qa"],
            (TaskType.QA, "reviewer"): lms["qa_reviewer"],
            (TaskType.ROLE_REFINEMENT, ANY_ROLE): lms["refine"],
        },
    )


def test_exact_route_then_task_wildcard_then_default(
    routed: ModelSwitcher, lms: dict[str, ExtractiveLM]
) -> None:
    assert routed.lm_for(TaskType.QA, "reviewer") is lms["qa_reviewer"]
    assert routed.lm_for(TaskType.QA, "coder") is lms["qa"]
    assert routed.lm_for(TaskType.QA) is lms["qa"]
    assert routed.lm_for(TaskType.ROLE_REFINEMENT, "coder") is lms["refine"]
    assert routed.lm_for(TaskType.OPTIMIZATION, "coder") is lms["default"]


def test_use_makes_the_routed_lm_current_only_inside(
    routed: ModelSwitcher, lms: dict[str, ExtractiveLM]
) -> None:
    before = dspy.settings.lm
    with routed.use(TaskType.QA, "reviewer") as lm:
        assert lm is lms["qa_reviewer"] and dspy.settings.lm is lm
        with routed.use(TaskType.ROLE_REFINEMENT):
            assert dspy.settings.lm is lms["refine"]
        assert dspy.settings.lm is lm
    assert dspy.settings.lm is before


def test_from_environ_reads_default_and_per_task_models() -> None:
    switcher = ModelSwitcher.from_environ({"GITOPS_LM_QA": "openai/qa-model"})
    assert isinstance(switcher.default, ExtractiveLM)
    assert switcher.label(TaskType.QA, "coder") == "openai/qa-model"
    assert switcher.label(TaskType.ROLE_REFINEMENT) == "offline DummyLM (deterministic extractive)"


def test_threads_each_see_their_own_lm(routed: ModelSwitcher, lms: dict[str, ExtractiveLM]) -> None:
    roles = [
        ("reviewer", TaskType.QA),
        ("coder", TaskType.QA),
        ("planner", TaskType.ROLE_REFINEMENT),
    ] * 3
    barrier = threading.Barrier(len(roles))
    seen: list[tuple[ExtractiveLM, list[object]]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(role: str, task: TaskType) -> None:
        try:
            with routed.use(task, role) as lm:
                barrier.wait()  # every thread is inside its own context at the same time
                observed = []
                for _ in range(3):
                    observed.append(dspy.settings.lm)
                    dspy.Predict(AnswerQuestion)(
                        context=CONTEXT, question="What does the shed hold?"
                    )
            with lock:
                seen.append((lm, observed))
        except BaseException as error:  # surfaced in the main thread below
            errors.append(error)

    threads = [threading.Thread(target=work, args=args) for args in roles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert all(all(o is lm for o in observed) for lm, observed in seen)
    # Every call went to the routed LM: 3 threads x 3 calls each.
    assert [len(lms[n].history) for n in ("qa_reviewer", "qa", "refine", "default")] == [9, 9, 9, 0]


@pytest.fixture
def main_thread_configured() -> Iterator[ExtractiveLM]:
    lm = ExtractiveLM()
    dspy.configure(lm=lm)
    try:
        yield lm
    finally:
        dspy.configure(lm=None)  # leave no global LM behind for the other tests


def test_configure_from_another_thread_raises(main_thread_configured: ExtractiveLM) -> None:
    # Why the switcher only ever uses dspy.context.
    errors: list[BaseException] = []

    def reconfigure() -> None:
        try:
            dspy.configure(lm=ExtractiveLM())
        except RuntimeError as error:
            errors.append(error)

    thread = threading.Thread(target=reconfigure)
    thread.start()
    thread.join()
    assert len(errors) == 1 and "thread that initially configured" in str(errors[0])
    assert dspy.settings.lm is main_thread_configured


def test_context_in_a_thread_overrides_the_configured_lm(
    main_thread_configured: ExtractiveLM,
) -> None:
    switcher = ModelSwitcher(ExtractiveLM())
    seen: list[object] = []

    def work() -> None:
        with switcher.use(TaskType.QA):
            seen.append(dspy.settings.lm)
        seen.append(dspy.settings.lm)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [switcher.default, main_thread_configured]


def test_whether_the_context_reaches_asyncio_to_thread_depends_on_the_dspy_version() -> None:
    # Evidence for Task 4.1 (AsyncMemoryRehydrator uses asyncio.to_thread): DSPy 2.6 keeps
    # context overrides in a threading.local, DSPy 3.0 in a contextvar, which to_thread copies.
    switcher = ModelSwitcher(ExtractiveLM())

    async def current_lm_in_worker() -> object:
        with switcher.use(TaskType.QA):
            return await asyncio.to_thread(lambda: dspy.settings.lm)

    seen = asyncio.run(current_lm_in_worker())
    if int(dspy.__version__.split(".")[0]) >= 3:
        assert seen is switcher.default
    else:
        assert seen is not switcher.default
