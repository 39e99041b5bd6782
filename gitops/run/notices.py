"""What the runner tells the forge: HotFix issues, the progress comment, phase PRs, reviews, incidents.

Apart from the runner because none of it decides anything: the result is in state.json before a
notice is sent, a notice that fails is said and sent again on the next command (`unsent`), and
a review read from the forge becomes an event the runner applies like any other.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping, Sequence

from gitops.forge import incidents
from gitops.forge.base import Forge
from gitops.model import TaskList, TaskStatus
from gitops.plan import readiness, transitions
from gitops.redact import Redactor
from gitops.state.store import StateStore
from gitops.ui.reports import hotfix_issue, progress_markdown

Note = Callable[[str], None]


def open_issue(tasklist: TaskList, forge: Forge, store: StateStore, hotfix_id: str, state: dict[str, Any],
               note: Note) -> None:
    """Open a HotFix's issue from the task list's template and record its URL in the state."""
    title, body = hotfix_issue(tasklist, state, hotfix_id)
    task = next(h["task"] for h in state["hotfixes"] if h["id"] == hotfix_id)
    url = forge.open_issue(f"hotfix:{task}", title, body, ["hotfix", f"task:{task}"])

    def record(latest: dict[str, Any]) -> dict[str, Any]:
        for hotfix in latest["hotfixes"]:
            if hotfix["id"] == hotfix_id:
                hotfix["issue"] = url
        return latest

    store.update(record)
    note(f"{hotfix_id} opened: {url}")


def post_progress(tasklist: TaskList, forge: Forge, state: dict[str, Any], next_step: str,
                  run_link: Callable[[str], str] | None) -> None:
    """The sticky progress comment on the PR people act on, and the PR of a finished phase."""
    body = progress_markdown(tasklist, state, next_step, run_link)
    finished = readiness.phases_to_merge(tasklist, state)
    for phase in finished:
        forge.open_phase_pr(phase, f"{state['project']}: Phase {phase} complete", body)
    phase = finished[0] if finished else state.get("current_phase") or tasklist.phases[-1].number
    forge.upsert_comment(f"phase:{phase}", body)


def unsent(state: Mapping[str, Any] | None) -> list[transitions.Action]:
    """The HotFix issues whose notice failed earlier, and the closing of those whose task passed since
    (a closing edit that failed; closing an already closed issue does nothing on the forge)."""
    hotfixes = (state or {}).get("hotfixes", [])
    actions: list[transitions.Action] = [transitions.OpenIssue(h["id"]) for h in hotfixes
                                         if h["status"] == "open" and not h.get("issue")]
    passed = {TaskStatus.DONE.value, TaskStatus.AWAITING_APPROVAL.value}
    for task_id in dict.fromkeys(h["task"] for h in hotfixes if h.get("issue")):
        record = state["tasks"].get(task_id) or {}
        if record.get("status") in passed:
            actions.append(transitions.CloseIssue(task_id, f"Task {task_id} passed on attempt {record['attempts']}."))
    return actions


def review_decisions(tasklist: TaskList, state: Mapping[str, Any] | None, forge: Forge,
                     note: Note) -> Iterator[tuple[str, transitions.Event, str]]:
    """What reviewers decided on the forge at each waiting phase gate, as (gate, event, what to say):
    a phase PR closed without merging rejects the next phase, reopening it undoes that.

    Lazily, gate by gate, so that each decision is applied before the next PR is read."""
    # The PR of the phase before each phase gate, in task-list order (numbers may skip).
    before = {phase.gate_id: previous.number for previous, phase in zip(tasklist.phases, tasklist.phases[1:])}
    for gate, record in ((state or {}).get("gates") or {}).items():
        if gate not in before or record["status"] not in ("pending", "rejected"):
            continue
        try:
            rejected = forge.phase_rejected(before[gate])
        except Exception as exc:  # noqa: BLE001 - unknown is not a decision: the gate stays as it is
            note(f"warning: could not read the review of {gate} ({exc}); it is read again on the next command")
            continue
        if rejected and record["status"] == "pending":
            yield gate, transitions.Rejected(gate), f"Gate {gate} rejected: its PR was closed without merging."
        elif not rejected and record["status"] == "rejected":
            yield gate, transitions.Reopened(gate), f"Gate {gate} waits again: its PR was reopened."


def open_incidents(reported: Sequence[incidents.Incident], forge: Forge, redactor: Redactor, note: Note) -> None:
    """Open (or find) the issues of incidents a task reported, and close the resolved ones; like every
    forge notice, a failure is said and the result stays recorded (a re-run opens them again, idempotently)."""
    try:
        for marker, url in incidents.open_all(incidents.redacted(reported, redactor), forge).items():
            note(f"incident {marker}: {url}")
    except Exception as exc:  # noqa: BLE001 - the result is in state; only the notice failed
        note(f"warning: could not open the incidents' issues ({exc}); they are opened again on a re-run")
