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


def make_runner(folder: Path) -> Runner:
    tl = tasklist(*(task(f"1.{i}", criteria=1) for i in range(1, TASKS + 1)))
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
