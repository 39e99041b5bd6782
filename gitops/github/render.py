"""Write the workflow of a task list (`gitops render`) and detect drift (`gitops render --check`).

The job graph comes from `gitops.github.workflow`; this module turns it into YAML with a header that
says it is generated, from which file, and that file's sha256.
"""
from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Collection

import yaml

from gitops.github.job_steps import ACTIONS
from gitops.github.windows_workflow import windows_workflow
from gitops.github.workflow import workflow
from gitops.model import TaskList


def render(tasklist: TaskList, *, tasklist_path: str, handled: Collection[str] = (),
           state_path: str = "state.json", windows: Collection[str] = ()) -> str:
    """The workflow YAML for a task list; `tasklist_path` is its path from the repository root,
    `handled` the task ids its handler registry names (tasks with neither handler nor Run get a gate),
    `windows` those whose handler has a time window (the registry's WINDOWS)."""
    text = _yaml(workflow(tasklist, tasklist_path, handled, state_path, windows))
    # Every run of a comment checks out the default branch, reads the comment from the event file and
    # obeys only writers (gitops.github.comment_command): not the pull_request_target-like misuse zizmor means.
    text = text.replace("\n  issue_comment:\n", "\n  issue_comment: # zizmor: ignore[dangerous-triggers] commands from writers "
                                                "only, run on the default branch\n")
    # No run-level concurrency on purpose: a run waiting at a gate must not hold a group, and runs
    # that overlap never run a task twice (gitops.github.workflow, gitops.run.claims).
    text = text.replace("\n'on':\n", "\n'on': # zizmor: ignore[concurrency-limits] runs overlap on purpose; "
                                      "tasks are claimed per run\n", 1)
    return _header(tasklist, tasklist_path) + text


def render_windows(tasklist: TaskList, *, tasklist_path: str, windows: Collection[str]) -> str:
    """The scheduled workflow that evaluates the time windows of the tasks `windows` (gitops.github.windows_workflow)."""
    return _header(tasklist, tasklist_path, _WINDOWS_JOBS) + _yaml(windows_workflow(tasklist, tasklist_path, windows))


def _yaml(document: dict) -> str:
    text = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000,
                     default_flow_style=False)
    for repo, sha, version in ACTIONS.values():
        text = text.replace(f"uses: {repo}@{sha}\n", f"uses: {repo}@{sha} # {version}\n")
    # PyYAML writes no comments: a permission's reason travels quoted and becomes a comment here.
    return re.sub(r"^( +[a-z-]+: )'(read|write) # ((?:[^']|'')*)'$",
                  lambda m: f"{m[1]}{m[2]} # {m[3].replace(chr(39) * 2, chr(39))}", text, flags=re.MULTILINE)


def check(tasklist: TaskList, path: Path | str, *, tasklist_path: str, handled: Collection[str] = (),
          state_path: str = "state.json", windows: Collection[str] = ()) -> list[str]:
    """Drift between the workflow file at `path` and what `render` writes; empty when in sync."""
    wanted = render(tasklist, tasklist_path=tasklist_path, handled=handled, state_path=state_path, windows=windows)
    return check_text(wanted, path, tasklist_path)


def check_text(wanted: str, path: Path | str, tasklist_path: str) -> list[str]:
    """Drift between the file at `path` and `wanted`, rendered from `tasklist_path`; empty when in sync."""
    fix = f"run `gitops --tasklist {tasklist_path} render` and commit {path}"
    try:
        found = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return [f"{path}: missing; {fix}"]
    except (OSError, UnicodeDecodeError) as exc:
        return [f"{path}: cannot be read ({exc}); {fix}"]
    if found == wanted:
        return []
    diff = list(difflib.unified_diff(found.splitlines(), wanted.splitlines(), f"{path} (committed)",
                                     f"{path} (rendered from {tasklist_path})", lineterm="", n=1))
    shown = diff[:60] + ([f"... {len(diff) - 60} more diff lines"] if len(diff) > 60 else [])
    return [f"{path}: differs from what `gitops render` writes for {tasklist_path}; {fix}", *shown]


def write(tasklist: TaskList, path: Path | str, *, tasklist_path: str, handled: Collection[str] = (),
          state_path: str = "state.json", windows: Collection[str] = ()) -> bool:
    """Write the workflow to `path` if its content changed; True when written."""
    return write_text(render(tasklist, tasklist_path=tasklist_path, handled=handled, state_path=state_path,
                             windows=windows), path)


def write_text(text: str, path: Path | str) -> bool:
    """Write `text` to `path` if its content changed; True when written."""
    path = Path(path)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text, encoding="utf-8")
    temp.replace(path)
    return True


_MAIN_JOBS = ("# Jobs: plan -> task-<id> (one per task, no write token) -> record-<id> (commits its result) -> gate-<id>\n"
              "# (after each task that can await approval) -> report.\n")
_WINDOWS_JOBS = ("# Hourly and on dispatch: evaluate (the time windows that have ended, no write token) -> record\n"
                 "# (commits the evaluations) -> report. Schedules run only from the default branch.\n")


def _header(tasklist: TaskList, tasklist_path: str, jobs: str = _MAIN_JOBS) -> str:
    return (
        "# generated by gitops render; do not edit\n"
        f"# command: gitops --tasklist {tasklist_path} render\n"
        f"# source: {tasklist_path} (sha256 {tasklist.sha256})\n"
        "# Edit the task list and render again; CI fails when this file drifts (gitops render --check).\n"
        + jobs
    )


# --------------------------------------------------------------------------- YAML
class _Dumper(yaml.SafeDumper):
    """Safe YAML with multi-line strings as `|` blocks and indented lists."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)
