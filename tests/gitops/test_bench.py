"""Benchmarks (pytest-benchmark; run them with scripts/bench). Without --benchmark-enable each
runs once, as a plain test of the same code path."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gitops.forge.local import LocalForge
from gitops.handlers import Check, Handler, Registry
from gitops.run.runner import Runner
from tests.conftest import ROOT
from tests.gitops.builders import task, tasklist

TASKS = 20
NOOP = Handler(action=lambda ctx: None, checks={"criterion": lambda ctx: Check.passed("noop measured 0")})


class QuietUI:
    def task_started(self, *args) -> None: ...

    def task_finished(self, *args) -> None: ...

    def note(self, message: str) -> None: ...

    def confirm(self, step, approver):
        return None


def make_runner(folder: Path, count: int = TASKS, chained: bool = False) -> Runner:
    """`count` no-op tasks, independent or (`chained`) each depending on the one before."""
    tl = tasklist(*(task(f"1.{i}", deps=(f"1.{i - 1}",) if chained and i > 1 else (), criteria=1)
                    for i in range(1, count + 1)))
    return Runner(
        tasklist=tl,
        state_path=folder / "state.json",
        root=folder,
        work_dir=folder / ".gitops",
        forge=LocalForge(folder / ".gitops" / "forge"),
        registry=Registry({t: "tests.gitops.test_bench:NOOP" for t in tl.tasks}),
        ui=QuietUI(),
        environ={},
        clock=lambda: "2026-11-24T00:00:00+00:00",
    )


def test_engine_overhead_per_task(benchmark, tmp_path):
    """Planner + state writes + forge progress for one task whose handler does nothing."""
    rounds = iter(range(10_000))

    def setup():
        folder = tmp_path / str(next(rounds))
        folder.mkdir()
        return (make_runner(folder),), {}

    def run_pipeline(runner: Runner) -> None:
        outcome = runner.run("bench")
        assert outcome.step.kind.value == "finished", outcome.step

    benchmark.pedantic(run_pipeline, setup=setup, rounds=5, iterations=1)
    if benchmark.stats:
        benchmark.extra_info["per_task_ms"] = benchmark.stats.stats.mean * 1000 / TASKS


def _cli(*args: str) -> subprocess.CompletedProcess:
    gitops = Path(sys.executable).with_name("gitops")
    return subprocess.run([str(gitops), *args], capture_output=True, text=True, cwd=ROOT)


@pytest.mark.parametrize("command", [["lint"], ["status"]], ids=["lint", "status"])
def test_command_start_up(benchmark, command, tmp_path):
    """Wall time of a whole `gitops lint` / `gitops status` process on B-1006."""
    state = ["--state", str(tmp_path / "state.json")]
    result = benchmark.pedantic(_cli, args=(*state, *command), rounds=5, iterations=1)
    assert result.returncode == 0, result.stderr


def test_status_and_lint_keep_heavy_libraries_off_their_import_path(tmp_path):
    probe = (
        "import sys; from gitops.cli import main\n"
        "for args in (['lint'], ['--state', sys.argv[1], 'status']):\n"
        "    try: main(args)\n"
        "    except SystemExit: pass\n"
        "print(sorted(m for m in ('dspy', 'mlflow', 'github', 'litellm', 'detect_secrets') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "s.json")], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stderr


# --- scaling: the engine's cost per task must not grow with the task list ---------------------


def _flat_tasklist(count: int) -> str:
    """`count` independent trivial tasks in one phase, as a person would write them."""
    tasks = "".join(
        f"### Task 1.{i}: Step {i}\n**Dependencies**: None\n**Run**: `true`\n\n**Done when**:\n- [ ] ok\n\n"
        for i in range(1, count + 1)
    )
    return f"# Flat {count}\n\n## Phase 1: All\n\n{tasks}"


@pytest.mark.parametrize("count", [100, 1000])
def test_engine_cost_per_task_by_list_size(benchmark, tmp_path, count):
    """A whole local run of `count` chained no-op tasks (each: two state writes, planning, the
    forge's progress comment). extra_info["per_task_ms"]: compare 100 with 1000. Without
    --benchmark-enable only the 100-task list runs (once), as a test of the same path."""
    if benchmark.disabled and count > 100:
        pytest.skip("1000 tasks only when benchmarking (scripts/bench)")
    rounds = iter(range(10_000))

    def setup():
        folder = tmp_path / str(next(rounds))
        folder.mkdir()
        return (make_runner(folder, count, chained=True),), {}

    def run_pipeline(runner: Runner) -> None:
        outcome = runner.run("bench")
        assert outcome.step.kind.value == "finished", outcome.step

    benchmark.pedantic(run_pipeline, setup=setup, rounds=3, iterations=1)
    if benchmark.stats:
        benchmark.extra_info["per_task_ms"] = benchmark.stats.stats.mean * 1000 / count


@pytest.mark.parametrize("count", [1000, 10_000])
@pytest.mark.parametrize("command", ["lint", "status"])
def test_command_on_a_long_task_list(benchmark, tmp_path, command, count):
    """`gitops lint` / `gitops status` as processes on a list of `count` tasks (10k: linear?)."""
    if benchmark.disabled and count > 1000:
        pytest.skip("10,000 tasks only when benchmarking (scripts/bench)")
    path = tmp_path / "flat.md"
    path.write_text(_flat_tasklist(count), encoding="utf-8")
    args = ("--tasklist", str(path), "--state", str(tmp_path / "state.json"), command)
    result = benchmark.pedantic(_cli, args=args, rounds=3, iterations=1)
    assert result.returncode == 0, result.stderr
    if benchmark.stats:
        benchmark.extra_info["per_task_us"] = benchmark.stats.stats.mean * 1e6 / count


@pytest.mark.parametrize(
    "field",
    ["**Run**: " + "`" * 20_000, "**Dependencies**: " + "(" * 200_000, "**Run**: `true`"],
    ids=["backticks-20k", "parens-200k", "plain"],
)
def test_parse_hostile_fields(benchmark, field):
    """Inputs that took cubic or quadratic time (8 KB of backticks: seconds); now linear."""
    from gitops.tasklist.parser import parse

    text = f"## Phase 1: A\n### Task 1.1: B\n{field}\n**Done when**:\n- [ ] ok\n"
    benchmark.pedantic(parse, args=(text, "t.md"), rounds=3, iterations=1)
