"""What people read: the HotFix issue from the task list's template and the progress comment."""
from __future__ import annotations

from gitops.github.commands import step_text
from gitops.plan import planner, transitions
from gitops.plan.planner import StepKind
from gitops.plan.transitions import Finished, Started
from gitops.state import document
from gitops.ui.reports import MAX_BODY, hotfix_issue, progress_markdown, task_graph
from tests.gitops.builders import task, tasklist

NOW = "2026-11-24T00:00:00+00:00"


def run(tl, state, task_id, status="passed", evidence="measured 3"):
    checks = [{"criterion": c.text, "status": status, "evidence": evidence, "metrics": {}} for c in tl.tasks[task_id].done_when]
    state, _ = transitions.apply(tl, state, Started(task_id), NOW)
    state, _ = transitions.apply(tl, state, Finished(task_id, checks, None if status == "passed" else "boom"), NOW)
    return state


def fresh(tl):
    state = document.new_state(tl, NOW)
    transitions.sync(tl, state)
    return state


def test_progress_has_the_table_the_graph_the_evidence_and_run_links():
    tl = tasklist(task("1.1"), task("1.2", deps=("1.1",)), task("2.1", deps=("1.2",)))
    state = run(tl, fresh(tl), "1.1", evidence="3 files | pinned")
    state["tasks"]["1.1"]["mlflow_run_id"] = "abcdef0123456789"
    body = progress_markdown(tl, state, "Run Task 1.2.", run_link=lambda r: f"http://mlflow/#/runs/{r}")
    assert body.startswith("## test: 1/3 tasks done\n\n**Next step**: Run Task 1.2.\n")
    assert "| 1.1 | Do 1.1 | ✅ done | 2/2 | 1 | [abcdef01](http://mlflow/#/runs/abcdef0123456789) |" in body
    assert "<details><summary>Task 1.1: done (attempt 1)</summary>" in body
    assert "| criterion 1 of 1.1 | passed | 3 files \\| pinned |" in body
    assert "Task 1.2:" not in body.split("```")[-1]  # no evidence section for a task that has not run


def test_the_task_graph_is_mermaid_with_phases_dependencies_and_status():
    tl = tasklist(task("1.1"), task("1.2", deps=("1.1",)), task("2.1", deps=("1.2",)))
    graph = task_graph(tl, run(tl, fresh(tl), "1.1"))
    assert graph.splitlines()[:4] == ["```mermaid", "flowchart LR", '  subgraph phase1["Phase 1: Phase 1"]', '    t1_1["1.1 Do 1.1"]:::done']
    assert "  t1_1 --> t1_2" in graph and "  t1_2 --> t2_1" in graph and graph.endswith("```")


def test_a_huge_body_is_capped_below_githubs_limit():
    tl = tasklist(task("1.1"))
    state = run(tl, fresh(tl), "1.1", evidence="x" * 100)
    state["tasks"]["1.1"]["checks"] *= 2000
    assert len(progress_markdown(tl, state, "next")) <= MAX_BODY


def test_the_hotfix_issue_comes_from_the_default_template_when_the_list_has_none():
    tl = tasklist(task("1.1"))
    state = run(tl, fresh(tl), "1.1", status="failed", evidence="exit 3")
    title, body = hotfix_issue(tl, state, "T-HotFix-1")
    assert title == "T-HotFix-1 Fix Task 1.1: Do 1.1"
    assert "**Depends on**: Task 1.1" in body and "boom" in body and "`gitops retry 1.1`" in body


def test_on_github_the_next_step_names_the_environment_or_the_pr():
    text = step_text("b-1006", "https://github.com/o/r/actions/runs/7")
    gate = planner.Step(StepKind.GATE, "Task 1.1 passed its checks; its checkpoint waits for approval.", task="1.1", gate="1.1")
    assert text(gate).endswith(
        "A reviewer approves the `b-1006-checkpoint-1-1` environment on [the waiting run](https://github.com/o/r/actions/runs/7) "
        "(Review deployments), or runs `gitops --forge github approve 1.1`.")
    phase = planner.Step(StepKind.GATE, "x", gate="phase-2")
    assert text(phase) == "Merge this PR to start Phase 2 (the merge approves gate phase-2)."
    paused = planner.Step(StepKind.PAUSED, "Task 2.1 failed.", task="2.1")
    assert text(paused) == "Task 2.1 failed. Push the fix, then run the workflow with input `retry=2.1`."


# Issue 12 item 7: a hostile title and stderr stay text in the context they are put in.
HOSTILE_TITLE = 'Deploy | "prod" ``` @ops <b>x</b>'
HOSTILE_STDERR = "boom\n```\n# Pwned\n![x](https://evil.example/p.png) cc @octocat\n</details>\nend"
Z = "\u200b"  # after @: shown, not linked, nobody notified


def hostile_state():
    tl = tasklist(task("1.1", criteria=1, title=HOSTILE_TITLE), phase_titles={1: "Ship ``` it | now"})
    checks = [{"criterion": "criterion 1 of 1.1", "status": "failed", "evidence": "| x | </details> @ada ```", "metrics": {}}]
    state, _ = transitions.apply(tl, fresh(tl), Started("1.1"), NOW)
    state, _ = transitions.apply(tl, state, Finished("1.1", checks, HOSTILE_STDERR), NOW)
    return tl, state


def test_a_hostile_title_and_stderr_render_as_text_in_the_hotfix_issue():
    tl, state = hostile_state()
    title, body = hotfix_issue(tl, state, "T-HotFix-1")
    assert title == 'T-HotFix-1 Fix Task 1.1: Deploy | "prod" ``` @ops <b>x</b>'  # an issue title is plain text
    assert body == (
        "**Priority**: Critical\n**Depends on**: Task 1.1\n\n**Do**:\n1. Reproduce the error\n2. Fix the issue\n"
        "3. Add regression test\n4. Re-run failing validation\n\n**Done when**:\n"
        "- Original task's \"Done when\" criteria pass\n- New regression test passes\n"
        "\n\n## What failed\n\n"
        f'Task 1.1 (Deploy | "prod" ``` @{Z}ops &lt;b&gt;x&lt;/b&gt;) failed on attempt 1 at {NOW}.\n\n'
        "````text\n" + HOSTILE_STDERR + "\n````\n"
        "\n| Criterion | Result | Evidence |\n|---|---|---|\n"
        f"| criterion 1 of 1.1 | failed | \\| x \\| &lt;/details&gt; @{Z}ada ``` |\n"
        "\n## When the fix is in\n\n`gitops retry 1.1` resolves T-HotFix-1 and re-runs the task."
    )


def test_a_hostile_title_and_evidence_render_as_text_in_the_progress_comment():
    tl, state = hostile_state()
    assert progress_markdown(tl, state, "Fix @ops's <task> | then retry") == "\n".join([
        "## test: 0/1 tasks done",
        "",
        f"**Next step**: Fix @{Z}ops's &lt;task&gt; | then retry",
        "",
        "| Task | Title | Status | Checks passed | Attempts | MLflow run |",
        "|---|---|---|---|---|---|",
        f'| 1.1 | Deploy \\| "prod" ``` @{Z}ops &lt;b&gt;x&lt;/b&gt; | ❌ failed | 0/1 | 1 |  |',
        "",
        "**Open HotFixes**: T-HotFix-1 (Task 1.1): not posted yet",
        "",
        "```mermaid",
        "flowchart LR",
        '  subgraph phase1["Phase 1: Ship #96;#96;#96; it | now"]',
        '    t1_1["1.1 Deploy | #quot;prod#quot; #96;#96;#96; @ops #60;b#62;x#60;/b#62;"]:::failed',
        "  end",
        "  classDef pending fill:#eeeeee",
        "  classDef running fill:#cce5ff",
        "  classDef waiting fill:#d1ecf1",
        "  classDef awaiting_approval fill:#fff3cd",
        "  classDef done fill:#d4edda",
        "  classDef failed fill:#f8d7da",
        "  classDef skipped fill:#e2e3e5",
        "```",
        "",
        "<details><summary>Task 1.1: failed (attempt 1)</summary>",
        "",
        "| Criterion | Result | Evidence |",
        "|---|---|---|",
        f"| criterion 1 of 1.1 | failed | \\| x \\| &lt;/details&gt; @{Z}ada ``` |",
        "",
        "</details>",
    ])


def test_a_task_whose_result_was_lost_reads_as_interrupted_with_the_retry_on_github():
    tl = tasklist(task("1.1"))
    state, _ = transitions.apply(tl, fresh(tl), Started("1.1"), NOW)
    state, _ = transitions.apply(tl, state, transitions.Lost("1.1", 1, "its hand-over is missing"), NOW)
    step = planner.next_step(tl, state, frozenset({"1.1"}))
    assert step.kind is StepKind.INTERRUPTED
    body = progress_markdown(tl, state, step_text("test", None)(step))
    assert "| 1.1 | Do 1.1 | ⚠️ interrupted: retry it | 0/2 | 1 |  |" in body
    assert "HotFix" not in body.split("**Next step**")[0] and "Open HotFixes" not in body
    assert body.splitlines()[2] == (
        "**Next step**: Task 1.1 was interrupted on attempt 1: its hand-over is missing. Its outcome is unknown, so "
        "no HotFix was opened; the tasks that depend on it wait. Run it again: `gitops retry 1.1`. On GitHub: run "
        "the workflow with input `retry=1.1`, or comment `/gitops retry 1.1` on the phase PR.")

