"""Issue 12 item 2: one sample of each secret shape, fed through a failing task, reaches no outlet:
the HotFix issue, the progress comment, state.json, the job summary and the MLflow runs; and what
was masked is registered with `::add-mask::` for the job log."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gitops.forge.local import LocalForge
from gitops.handlers import Check, Handler, Registry
from gitops.run.runner import Runner
from gitops.tracking.tracker import MlflowTracker
from tests.gitops.builders import task, tasklist
from tests.gitops.github.conftest import make_forge
from tests.gitops.github.test_engine_github import NotesUI
from tests.gitops.secret_samples import ENV_SECRET, ENVIRON, hostile_stderr, leaks


def act(ctx):
    """Attempt 1 raises with the samples in its message; attempt 2 records them and fails its check."""
    if ctx.attempt == 1:
        raise RuntimeError(f"deploy failed:\n{hostile_stderr()}")
    return {"test_results": {"log": hostile_stderr(), "lines": hostile_stderr().splitlines()}}


HOSTILE = Handler(action=act, checks={"criterion 1": lambda ctx: Check.failed(hostile_stderr(), leaked=1)})


def run_pipeline(folder: Path, environ: dict[str, str], forge: Any) -> MlflowTracker:
    """Fail Task 1.1 twice (a halt), resume with the samples in the reason, post the progress."""
    tracker = MlflowTracker(folder, environ, f"sqlite:///{folder / 'mlflow.db'}")
    runner = Runner(
        tasklist=tasklist(task("1.1", criteria=1), task("1.2", ("1.1",), criteria=1, run="true")),
        state_path=folder / "state.json", root=folder, work_dir=folder / ".gitops", forge=forge,
        registry=Registry({"1.1": "tests.gitops.github.test_no_secret_leaves:HOSTILE"}), ui=NotesUI(),
        environ=environ, clock=lambda: "2026-11-24T00:00:00+00:00", tracker=tracker,
    )
    assert runner.run("ada").exit_code == 1
    runner.retry("1.1")
    assert json.loads((folder / "state.json").read_text())["halted"]
    runner.resume(f"rotated the keys:\n{hostile_stderr()}", by=f"ada {ENV_SECRET}")
    runner.report()
    tracker.close(json.loads((folder / "state.json").read_text()))
    return tracker


def mlflow_texts(tracker: MlflowTracker, folder: Path) -> list[str]:
    """Every tag, param and artifact of every run the tracker logged."""
    client = tracker.client()
    texts = []
    for run in client.search_runs([tracker.experiment_id]):
        texts += [*run.data.tags.values(), *run.data.params.values()]
        for artifact in client.list_artifacts(run.info.run_id):
            path = client.download_artifacts(run.info.run_id, artifact.path, str(folder / "downloads"))
            texts.append(Path(path).read_text(encoding="utf-8"))
    assert len(texts) > 10 and any("Traceback" in t for t in texts)  # the runs are there
    return texts


def assert_nothing_leaks(outlet: str, texts: list[str]) -> None:
    joined = "\n".join(texts)
    assert "***" in joined, f"{outlet}: nothing was posted"
    assert leaks(joined) == [], f"{outlet} leaks: {leaks(joined)}"


def test_on_github_no_sample_reaches_an_issue_a_comment_the_summary_state_or_mlflow(api, environ, tmp_path, capsys):
    environ = {**environ, **ENVIRON}
    tracker = run_pipeline(tmp_path, environ, make_forge(environ))
    posted = [json.dumps(request.body) for request in api.writes()]
    assert_nothing_leaks("GitHub (every write: issues, comments, PRs)", posted)
    assert api.github.hotfix_issues() and any("1.1" in body for body in posted)
    assert_nothing_leaks("the job summary", [Path(environ["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8")])
    state = (tmp_path / "state.json").read_text(encoding="utf-8")
    assert_nothing_leaks("state.json", [state])
    assert "rotated the keys" in state
    assert_nothing_leaks("MLflow", mlflow_texts(tracker, tmp_path))
    log = capsys.readouterr().out
    assert f"::add-mask::{ENV_SECRET}\n" in log
    assert_nothing_leaks("the job log", [line for line in log.splitlines() if not line.startswith("::add-mask::")])


@pytest.mark.parametrize("kind", ["issues", "comments"])
def test_locally_no_sample_reaches_the_forge_files_state_or_mlflow(tmp_path, kind):
    tracker = run_pipeline(tmp_path, dict(ENVIRON), LocalForge(tmp_path / ".gitops" / "forge"))
    files = sorted((tmp_path / ".gitops" / "forge" / kind).glob("*.md"))
    assert files
    assert_nothing_leaks(f"the local forge's {kind}", [f.read_text(encoding="utf-8") for f in files])
    assert_nothing_leaks("state.json", [(tmp_path / "state.json").read_text(encoding="utf-8")])
    assert_nothing_leaks("MLflow", mlflow_texts(tracker, tmp_path))
