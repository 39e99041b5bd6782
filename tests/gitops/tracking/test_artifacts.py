"""Files a handler attaches go into its task's MLflow run (a real SQLite store), vetted: regular
files inside the repository only, whether the handler ran in the engine's process or apart."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gitops.forge.local import LocalForge
from gitops.handlers import Registry
from gitops.run.runner import Runner
from gitops.tracking.artifacts import MAX_BYTES, vet
from gitops.tracking.tracker import MlflowTracker
from tests.gitops.builders import task, tasklist
from tests.gitops.run.test_task_env import ENGINE_ENV, TOKEN, Notes
from tests.gitops.tracking.attaching_handlers import PNG

REFUSED = {
    "passwd.png": "resolves to /etc/passwd, outside the repository {root}; attach files the task wrote under it "
                  "(its workdir), never a link out of it",
    "/etc/hostname": "resolves to /etc/hostname, outside the repository {root}; attach files the task wrote under "
                     "it (its workdir), never a link out of it",
    "pipe": "is a FIFO (named pipe), not a regular file; attach files only",
    "never-written.png": "cannot be read (No such file or directory); attach a file after writing it",
    "../outside.txt": "resolves to {parent}/outside.txt, outside the repository {root}; attach files the task "
                      "wrote under it (its workdir), never a link out of it",
}


def run_attaching(root: Path, environ: dict[str, str]) -> tuple[MlflowTracker, str]:
    tracker = MlflowTracker(root, {}, f"sqlite:///{root / '.gitops' / 'mlflow.db'}")
    Runner(tasklist=tasklist(task("1.1", criteria=1)), state_path=root / "state.json", root=root,
           work_dir=root / ".gitops", forge=LocalForge(root / ".gitops" / "forge"),
           registry=Registry({"1.1": "tests.gitops.tracking.attaching_handlers:ATTACHES"}), ui=Notes(),
           environ=environ, clock=lambda: "2026-12-04T00:00:00+00:00", tracker=tracker).run("ada")
    record = json.loads((root / "state.json").read_text())["tasks"]["1.1"]
    assert record["status"] == "done", record
    return tracker, record["mlflow_run_id"]


@pytest.mark.parametrize("apart", [False, True], ids=["in the engine's process", "in a process of its own"])
def test_attached_files_are_logged_into_the_tasks_run_and_the_others_are_named(tmp_path, monkeypatch, apart):
    root = tmp_path / "repo"
    root.mkdir()
    if apart:
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)  # as in a job: the handler runs without it, apart
    tracker, run_id = run_attaching(root, ENGINE_ENV if apart else {})
    client = tracker.client()
    assert sorted(a.path for a in client.list_artifacts(run_id)) == ["artifacts", "checks.json", "report.md"]
    logged = sorted(a.path for a in client.list_artifacts(run_id, "artifacts"))
    assert logged == ["artifacts/latency.png", "artifacts/notes.txt"]
    assert Path(client.download_artifacts(run_id, "artifacts/latency.png", str(tmp_path))).read_bytes() == PNG
    work = root / ".gitops" / "work" / "1.1"
    real = Path(os.path.realpath(root))
    expected = {(n if n.startswith(("/", "..")) else str(work / n)): why.format(root=real, parent=real.parent)
                for n, why in REFUSED.items()}
    said = client.get_run(run_id).data.tags["gitops.artifacts_refused"]
    assert said == "; ".join(f"{named}: {why}" for named, why in expected.items())


def test_a_link_inside_the_repository_is_followed_and_names_must_differ(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "plot.png").write_bytes(PNG)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "plot.png").write_bytes(PNG)
    os.symlink(tmp_path / "a" / "plot.png", tmp_path / "link.png")
    vetted = vet(["link.png", "a/plot.png", "b/plot.png"], tmp_path)
    assert vetted.accepted == (Path(os.path.realpath(tmp_path / "a" / "plot.png")),)
    assert vetted.refused == {"b/plot.png": f"has the name of {os.path.realpath(tmp_path / 'a' / 'plot.png')}, "
                                            "attached before it; give the files different names"}


def test_a_file_past_the_cap_is_refused(tmp_path):
    big = tmp_path / "big.bin"
    with big.open("wb") as out:
        out.truncate(MAX_BYTES + 1)  # sparse: no 50 MiB written
    assert vet(["big.bin"], tmp_path).refused == {
        "big.bin": f"is {MAX_BYTES + 1} bytes, more than the 50 MiB an artifact may be; attach a smaller file"}
