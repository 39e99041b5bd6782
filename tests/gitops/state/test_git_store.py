"""GitStateStore against real git: a bare repository in a temp dir is the remote."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitops.errors import StateError
from gitops.model import Header, TaskList
from gitops.state import document, phase_branches, state_commit
from gitops.state import file as state_io
from gitops.run.history_commits import HistoryCommit
from gitops.state.git_auth import github_auth_env
from gitops.state.git_repo import GitSyncError
from gitops.state.git_store import GitStateStore
from gitops.state.state_text import dumps
from gitops.state.task_work import WorkConflict

WRITER = Path(__file__).with_name("git_store_writer.py")
BRANCH = "gitops/demo/phase-1"
EMPTY = TaskList(path="demo.md", title="demo", header=Header(), phases=(), tasks={})


def git(cwd: Path, *args: str, input: str | None = None) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, input=input, check=False,
                            env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
                                 "GIT_COMMITTER_EMAIL": "t@x", "PATH": "/usr/bin:/bin", "HOME": str(cwd)})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def initial() -> dict:
    return document.new_state(EMPTY, "t0")


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A bare remote whose main has README.md and state.json; every ref update is logged."""
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    git(bare, "config", "core.logAllRefUpdates", "always")
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "--quiet", str(bare), str(seed))
    (seed / "README.md").write_text("demo\n")
    (seed / "state.json").write_text(dumps(initial()))
    git(seed, "add", ".")
    git(seed, "commit", "--quiet", "-m", "seed")
    git(seed, "push", "--quiet", "origin", "HEAD:main")
    return bare


def clone(remote: Path, name: str) -> Path:
    target = remote.parent / name
    git(remote.parent, "clone", "--quiet", str(remote), str(target))
    return target


def refs(bare: Path) -> str:
    return git(bare, "for-each-ref", "--format=%(refname) %(objectname)")


def blob(bare: Path, rev: str) -> dict:
    raw = subprocess.run(["git", "cat-file", "blob", f"{rev}:state.json"], cwd=bare, capture_output=True, check=True).stdout
    return state_commit.parse(raw, f"state.json at {rev}", BRANCH)


def add_task(task_id: str):
    def change(current: dict) -> dict:
        current["tasks"][task_id] = {"status": "done", "attempts": 1, "started_at": None, "finished_at": None,
                                     "commit": None, "run_url": None, "mlflow_run_id": None, "error": None, "checks": []}
        return current

    return change


@pytest.mark.slow
def test_concurrent_writers_in_processes_lose_no_update_and_never_force_push(remote, tmp_path):
    writers, updates = 8, 5
    clones = [clone(remote, f"clone{i}") for i in range(writers // 2)]  # two writers share each clone
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, str(WRITER), str(clones[k // 2]), BRANCH, str(k), str(updates), str(go)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for k in range(writers)
    ]
    time.sleep(0.5)
    go.touch()
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * writers, outputs
    lost = sum(int(out.rsplit("lost races: ", 1)[1]) for out in outputs)
    assert lost > 0, "the writers never raced: the test did not exercise the retry path"

    final = blob(remote, BRANCH)
    assert final["performance_metrics"]["counter"] == writers * updates
    assert {f"w{k}.{i}" for k in range(writers) for i in range(updates)} <= set(final["tasks"])
    # Every commit on the branch holds a valid state, one update each: the counters along the
    # (linear) history are 40, 39, ..., 1, then the base's commit.
    history = git(remote, "rev-list", "--first-parent", BRANCH).split()
    assert git(remote, "rev-list", "--merges", BRANCH) == ""
    counters = [blob(remote, sha)["performance_metrics"].get("counter", 0) for sha in history]
    assert counters == list(range(writers * updates, -1, -1))
    assert history[-1] == git(remote, "rev-parse", "main")
    # No force push: each update of the branch in the remote's reflog is a fast-forward.
    log = (remote / "logs" / "refs" / "heads" / BRANCH).read_text().splitlines()
    assert len(log) == writers * updates
    for line in log[1:]:
        old, new = line.split()[:2]
        git(remote, "merge-base", "--is-ancestor", old, new)
    for path in clones:
        assert state_io.load(path / "state.json")["performance_metrics"]["counter"] >= 1
        assert git(path, "for-each-ref", "refs/gitops") == ""  # private fetch refs are cleaned up


def test_read_before_the_branch_exists_returns_the_base_state(remote):
    store = GitStateStore(clone(remote, "c"), "origin", BRANCH)
    assert store.read() == initial()


def test_read_when_neither_branch_nor_base_has_a_state(remote):
    store = GitStateStore(clone(remote, "c"), "origin", BRANCH, path="other/state.json")
    assert store.read() is None


def test_first_update_creates_the_branch_from_base(remote):
    work = clone(remote, "c")
    store = GitStateStore(work, "origin", BRANCH)
    new = store.update(add_task("9.9"))
    assert "9.9" in new["tasks"]
    assert git(remote, "rev-parse", f"{BRANCH}^") == git(remote, "rev-parse", "main")
    assert git(remote, "ls-tree", "--name-only", BRANCH).split() == ["README.md", "state.json"]
    assert blob(remote, BRANCH) == new
    assert blob(remote, "main") == initial()  # base untouched
    assert git(remote, "log", "-1", "--format=%s%n%an <%ae>", BRANCH) == (
        "gitops: Task 9.9 new -> done\ngitops <gitops@users.noreply.github.com>")
    # The local working copy sees the result; its git index and HEAD are not touched.
    assert state_io.load(work / "state.json") == new
    assert git(work, "status", "--porcelain") == "M state.json"
    assert store.read() == new


def test_update_with_create_when_base_has_no_state(remote):
    store = GitStateStore(clone(remote, "c"), "origin", BRANCH, path="nested/state.json")
    with pytest.raises(StateError) as error:
        store.update(add_task("1.1"))
    assert str(error.value) == "origin/main has no nested/state.json. Run `gitops run` first to create it."
    new = store.update(add_task("1.1"), create=initial)
    assert git(remote, "cat-file", "blob", f"{BRANCH}:nested/state.json") == dumps(new).strip()


def test_no_orphan_branch_when_the_base_branch_is_missing(remote):
    # The remote's default branch is main; a store told its base is "trunk" must not invent history.
    store = GitStateStore(clone(remote, "c"), "origin", BRANCH, base="trunk")
    before = refs(remote)
    with pytest.raises(GitSyncError) as error:
        store.update(add_task("1.1"), create=initial)
    assert str(error.value) == (
        f"origin has neither {BRANCH} nor its base branch trunk: refusing to start {BRANCH} as an unrelated "
        "(orphan) branch; nothing was pushed. Push trunk to origin first, or name the repository's default "
        "branch (the workflow sets GITOPS_DEFAULT_BRANCH from it).")
    assert refs(remote) == before


def test_a_change_that_raises_leaves_the_remote_untouched(remote):
    work = clone(remote, "c")
    store = GitStateStore(work, "origin", BRANCH)
    store.update(add_task("1.1"))
    before = refs(remote)

    def broken(current: dict) -> dict:
        raise RuntimeError("handler bug")

    with pytest.raises(RuntimeError, match="handler bug"):
        store.update(broken)
    assert refs(remote) == before
    assert git(work, "for-each-ref", "refs/gitops") == ""


def test_an_invalid_new_state_is_not_pushed(remote):
    store = GitStateStore(clone(remote, "c"), "origin", BRANCH)
    before = refs(remote)
    with pytest.raises(StateError) as error:
        store.update(lambda s: {**s, "consecutive_failures": -1})
    assert str(error.value) == (
        f'{BRANCH}:state.json: refusing to commit an invalid state: key "consecutive_failures": expected '
        "an integer >= 0, got -1. This is a bug in gitops or a handler; nothing was pushed.")
    assert refs(remote) == before


def test_an_unchanged_state_makes_no_commit(remote):
    store = GitStateStore(clone(remote, "c"), "origin", BRANCH)
    before = refs(remote)
    assert store.update(lambda s: s) == initial()
    assert refs(remote) == before  # not even the branch was created


def test_a_corrupt_state_on_the_branch_is_an_error_naming_branch_and_file(remote):
    work = clone(remote, "c")
    (work / "state.json").write_text('{"schema_version": 1,')
    git(work, "commit", "--quiet", "-am", "corrupt")
    git(work, "push", "--quiet", "origin", f"HEAD:refs/heads/{BRANCH}")
    before = refs(remote)
    store = GitStateStore(work, "origin", BRANCH)
    expected = (
        f"state.json on origin/{BRANCH}: not valid JSON (Expecting property name enclosed in double quotes: "
        f"line 1 column 22 (char 21)). Push a commit to {BRANCH} that restores a valid file "
        f"(`git log -p FETCH_HEAD` after `git fetch origin {BRANCH}` shows its history); gitops never overwrites it."
    )
    for call in (store.read, lambda: store.update(add_task("1.1"))):
        with pytest.raises(StateError) as error:
            call()
        assert str(error.value) == expected
    assert refs(remote) == before


def test_a_state_failing_the_schema_on_the_branch_names_the_key(remote):
    work = clone(remote, "c")
    (work / "state.json").write_text(json.dumps({**initial(), "tasks": []}))
    git(work, "commit", "--quiet", "-am", "bad")
    git(work, "push", "--quiet", "origin", f"HEAD:refs/heads/{BRANCH}")
    with pytest.raises(StateError, match=f'^state.json on origin/{BRANCH}: key "tasks": expected an object, got a list. '):
        GitStateStore(work, "origin", BRANCH).read()


def test_a_lost_race_refetches_reapplies_the_change_and_backs_off(remote):
    mine, theirs = clone(remote, "mine"), clone(remote, "theirs")
    other = GitStateStore(theirs, "origin", BRANCH)
    sleeps: list[float] = []
    store = GitStateStore(mine, "origin", BRANCH, backoff=0.25, sleep=sleeps.append)
    seen: list[set[str]] = []

    def change(current: dict) -> dict:
        seen.append(set(current["tasks"]))
        if len(seen) == 1:
            other.update(add_task("other"))  # another job pushes between our fetch and our push
        return add_task("mine")(current)

    new = store.update(change)
    assert seen == [set(), {"other"}]  # re-applied to the newest state
    assert set(new["tasks"]) == {"mine", "other"}
    assert blob(remote, BRANCH) == new
    assert len(sleeps) == 1 and 0.125 <= sleeps[0] <= 0.375


def test_history_commits_are_rebuilt_on_the_tip_after_a_lost_race_and_pushed_once(remote):
    mine, theirs = clone(remote, "mine"), clone(remote, "theirs")
    other = GitStateStore(theirs, "origin", BRANCH)
    store = GitStateStore(mine, "origin", BRANCH, sleep=lambda _: None)
    store.carry_history([HistoryCommit("deploy/production.yaml", "canary: 10\n", "step 1: canary at 10%"),
                         HistoryCommit("deploy/production.yaml", "canary: 100\n", "step 2: canary at 100%")])
    calls: list[int] = []

    def change(current: dict) -> dict:
        calls.append(1)
        if len(calls) == 1:
            other.update(add_task("other"))  # another job pushes between our fetch and our push
        return add_task("mine")(current)

    store.update(change)
    store.update(add_task("later"))  # a later state write replays no history
    assert git(remote, "log", "--format=%s", BRANCH).splitlines()[:5] == [
        "gitops: Task later new -> done", "gitops: Task mine new -> done", "step 2: canary at 100%",
        "step 1: canary at 10%", "gitops: Task other new -> done"]
    assert git(remote, "log", "--format=%s", BRANCH, "--", "deploy/production.yaml").splitlines() == [
        "step 2: canary at 100%", "step 1: canary at 10%"]
    assert set(blob(remote, f"{BRANCH}~3")["tasks"]) == {"other"}  # the chain sits on the other job's commit


def test_the_tasks_files_on_top_of_its_history_are_the_files_as_it_left_them(remote):
    store = GitStateStore(clone(remote, "recorder"), "origin", BRANCH)
    store.carry_history([HistoryCommit("README.md", "step 1\n", "step 1"),
                         HistoryCommit("README.md", "step 2\n", "step 2")])
    store.carry({"README.md": (("100644", b"demo\n"), None)})  # the task left it as it began, after its steps
    store.update(add_task("mine"))
    assert git(remote, "log", "--format=%s", BRANCH, "--", "README.md").splitlines()[:3] == [
        "gitops: Task mine new -> done", "step 2", "step 1"]
    assert git(remote, "show", f"{BRANCH}:README.md") == "demo"


def test_gives_up_after_max_attempts_with_exponential_backoff(remote):
    other = GitStateStore(clone(remote, "theirs"), "origin", BRANCH)
    sleeps: list[float] = []
    store = GitStateStore(clone(remote, "mine"), "origin", BRANCH, max_attempts=3, backoff=1.0, sleep=sleeps.append)
    calls = []

    def always_loses(current: dict) -> dict:
        calls.append(1)
        other.update(add_task(f"other-{len(calls)}"))
        return add_task("mine")(current)

    with pytest.raises(GitSyncError) as error:
        store.update(always_loses)
    assert str(error.value) == (
        f"origin/{BRANCH}: state.json could not be updated: 3 pushes in a row lost a race with other "
        "writers. Re-run the job; if it persists, raise max_attempts.")
    assert len(calls) == 3
    assert [0.5 <= sleeps[0] <= 1.5, 1.0 <= sleeps[1] <= 3.0, len(sleeps)] == [True, True, 2]


def test_github_auth_env_gives_git_the_token_as_an_extra_header(tmp_path):
    env = github_auth_env("ghs_secret123", "https://github.example", environ={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    out = subprocess.run(["git", "config", "--get-urlmatch", "http.extraheader", "https://github.example/o/r"],
                         env=env, capture_output=True, text=True, cwd=tmp_path, check=True)
    assert out.stdout.strip() == "AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW46Z2hzX3NlY3JldDEyMw=="
    again = github_auth_env("t2", environ=env)
    assert again["GIT_CONFIG_COUNT"] == "2" and again["GIT_CONFIG_KEY_1"] == "http.https://github.com/.extraheader"


def test_git_errors_never_show_the_token(tmp_path):
    work = tmp_path / "w"
    git(tmp_path, "init", "--quiet", str(work))
    env = github_auth_env("ghs_secret123", environ={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GITHUB_TOKEN": "ghs_secret123"})
    store = GitStateStore(work, str(tmp_path / "missing.git"), BRANCH, environ=env)
    with pytest.raises(GitSyncError) as error:
        store.read()
    assert "ghs_secret123" not in str(error.value) and "eC1hY2Nlc3" not in str(error.value)
    assert str(error.value).startswith(f"git fetch {tmp_path / 'missing.git'} {BRANCH} failed: fatal: ")


def test_phase_store_follows_the_phase_recorded_on_base(remote):
    work = clone(remote, "c")
    assert phase_branches.phase_store(work, "demo", [1, 2, 3]).branch == "gitops/demo/phase-3"  # base's state: all final
    main = GitStateStore(work, "origin", "main")
    main.update(lambda s: {**s, "current_phase": 2})
    store = phase_branches.phase_store(work, "demo", [1, 2, 3], max_attempts=3)
    assert (store.branch, store.base, store.max_attempts) == ("gitops/demo/phase-2", "main", 3)
    empty = GitStateStore(work, "origin", "main", path="none.json")
    assert empty.read() is None
    assert phase_branches.phase_store(work, "demo", [1, 2], path="none.json").branch == "gitops/demo/phase-1"


# The task's work: a task job's changed files go into the phase branch with its state.


def job(remote: Path, name: str) -> tuple[Path, GitStateStore]:
    """A task job: a fresh checkout of main whose store carries the task's work."""
    work = clone(remote, name)
    return work, GitStateStore(work, "origin", BRANCH, worktree=True)


def show(bare: Path, rev: str, path: str) -> str:
    return git(bare, "show", f"{rev}:{path}")


@pytest.mark.slow
def test_a_task_s_changed_files_ride_with_its_state_commit(remote):
    work, store = job(remote, "a")
    assert store.sync_worktree() == "origin/gitops/demo/phase-1 does not exist yet: the task runs on the checkout as it is"
    (work / "README.md").write_text("demo, pinned\n")  # changed
    (work / "out").mkdir()
    (work / "out" / "parts.txt").write_text("built\n")  # new, in a new folder
    (work / "run.sh").write_text("#!/bin/sh\n")
    (work / "run.sh").chmod(0o755)
    (work / ".gitops").mkdir()
    (work / ".gitops" / "log.txt").write_text("engine work: not the task's\n")
    store.update(add_task("1.1"))
    assert git(remote, "ls-tree", "-r", "--name-only", BRANCH).split() == ["README.md", "out/parts.txt", "run.sh", "state.json"]
    assert show(remote, BRANCH, "README.md") == "demo, pinned" and show(remote, BRANCH, "out/parts.txt") == "built"
    assert git(remote, "ls-tree", BRANCH, "run.sh").startswith("100755 ")
    # A later state commit of the same job does not repeat or undo the work.
    store.update(add_task("1.2"))
    assert git(remote, "diff", "--name-only", f"{BRANCH}^", BRANCH) == "state.json"
    # A deleted file is deleted on the branch.
    (work / "out" / "parts.txt").unlink()
    store.update(add_task("1.3"))
    assert "out/parts.txt" not in git(remote, "ls-tree", "-r", "--name-only", BRANCH)


@pytest.mark.slow
def test_the_next_job_merges_the_phase_s_work_and_main_s_newer_commits(remote, tmp_path):
    first, store = job(remote, "first")
    (first / "parts.txt").write_text("built\n")
    store.update(add_task("1.1"))
    # Meanwhile a HotFix lands on main.
    person = clone(remote, "person")
    (person / "fix.txt").write_text("gear 7\n")
    git(person, "add", "fix.txt")
    git(person, "commit", "--quiet", "-m", "HotFix")
    git(person, "push", "--quiet", "origin", "HEAD:main")
    second, store = job(remote, "second")
    said = store.sync_worktree()
    assert said.startswith("merged origin/gitops/demo/phase-1 (") and said.endswith("the task sees its phase's earlier work")
    assert (second / "parts.txt").read_text() == "built\n" and (second / "fix.txt").exists()
    assert git(second, "status", "--porcelain") == ""  # the merge is a commit of the checkout, not a change
    assert store.sync_worktree().startswith("the checkout already holds origin/gitops/demo/phase-1")
    (second / "widget.txt").write_text("assembled\n")
    store.update(add_task("1.2"))
    files = git(remote, "ls-tree", "-r", "--name-only", BRANCH).split()
    # The branch gets the task's work only; main's HotFix reaches it when the phase PR merges.
    assert files == ["README.md", "parts.txt", "state.json", "widget.txt"]
    assert git(remote, "rev-list", "--count", f"main..{BRANCH}") == "2"  # linear: no merge commit pushed


@pytest.mark.slow
def test_two_jobs_changing_one_file_differently_conflict_and_push_nothing(remote):
    a, store_a = job(remote, "a")
    b, store_b = job(remote, "b")
    (a / "README.md").write_text("from a\n")
    (b / "README.md").write_text("from b\n")
    (b / "other.txt").write_text("b's\n")
    store_a.update(add_task("1.1"))
    tip = git(remote, "rev-parse", BRANCH)
    with pytest.raises(WorkConflict, match=r"changed README.md since this job began, and so did this task"):
        store_b.update(add_task("1.3"))
    assert git(remote, "rev-parse", BRANCH) == tip and show(remote, BRANCH, "README.md") == "from a"
    # The store now records the state alone (the runner records the task as failed with it).
    store_b.update(add_task("1.3"))
    assert show(remote, BRANCH, "README.md") == "from a" and "other.txt" not in git(remote, "ls-tree", "--name-only", BRANCH)
    # The same change made by both is no conflict; different files merge as they are.
    (b / "README.md").write_text("from a\n")
    GitStateStore(b, "origin", BRANCH, worktree=True).update(add_task("1.4"))
    assert show(remote, BRANCH, "other.txt") == "b's" and "1.1" in blob(remote, BRANCH)["tasks"]


@pytest.mark.slow
def test_a_phase_branch_that_does_not_merge_into_the_checkout_is_an_error_naming_the_file(remote):
    first, store = job(remote, "first")
    (first / "README.md").write_text("phase work\n")
    store.update(add_task("1.1"))
    person = clone(remote, "person")
    (person / "README.md").write_text("main's fix\n")
    git(person, "commit", "--quiet", "-am", "fix")
    git(person, "push", "--quiet", "origin", "HEAD:main")
    second, store = job(remote, "second")
    with pytest.raises(WorkConflict, match=r"does not merge into this checkout: both changed README.md\. Merge main into"):
        store.sync_worktree()
    assert git(second, "status", "--porcelain") == "" and (second / "README.md").read_text() == "main's fix\n"


def test_a_store_without_worktree_commits_the_state_only(remote):
    work = clone(remote, "plain")
    (work / "README.md").write_text("not a task's work\n")
    GitStateStore(work, "origin", BRANCH).update(add_task("1.1"))
    assert show(remote, BRANCH, "README.md") == "demo"


@pytest.mark.slow
def test_a_shallow_checkout_fetches_the_history_it_needs_to_merge(remote):
    first, store = job(remote, "first")
    (first / "parts.txt").write_text("built\n")
    store.update(add_task("1.1"))
    shallow = remote.parent / "shallow"
    git(remote.parent, "clone", "--quiet", "--depth", "1", f"file://{remote}", str(shallow))
    said = GitStateStore(shallow, "origin", BRANCH, worktree=True).sync_worktree()
    assert said.startswith("merged origin/gitops/demo/phase-1") and (shallow / "parts.txt").read_text() == "built\n"



# ------------------------------------------------------------------ GitHub's transient failures (issue 11 item 10)
def test_githubs_transient_commit_refs_failure_is_retried(remote):
    # GitHub sometimes refuses a push with "fatal error in commit_refs" and accepts it a moment later.
    hook = remote / "hooks" / "pre-receive"
    hook.write_text('#!/bin/sh\n[ -f "$GIT_DIR/failed-once" ] && exit 0\ntouch "$GIT_DIR/failed-once"\n'
                    'echo "fatal error in commit_refs" >&2\nexit 1\n')
    hook.chmod(0o755)
    sleeps: list[float] = []
    store = GitStateStore(clone(remote, "mine"), "origin", BRANCH, backoff=0.25, sleep=sleeps.append)
    new = store.update(add_task("mine"))
    assert blob(remote, BRANCH) == new and len(sleeps) == 1


def test_a_branch_created_between_the_fetch_and_the_check_is_fetched_again(remote):
    # Parallel task jobs start before the phase branch exists: another one creates it just after our
    # fetch found nothing. The check that follows sees it: fetch again, never "couldn't find remote ref".
    mine = clone(remote, "mine")
    wrapper = remote.parent / "upload-pack"
    wrapper.write_text('#!/bin/sh\nfor repo; do :; done\ngit upload-pack "$@"; code=$?\n'
                       f'if [ ! -f "$repo/created" ]; then touch "$repo/created"; '
                       f'git --git-dir="$repo" update-ref refs/heads/{BRANCH} refs/heads/main; fi\nexit $code\n')
    wrapper.chmod(0o755)
    git(mine, "config", "remote.origin.uploadpack", str(wrapper))
    store = GitStateStore(mine, "origin", BRANCH)
    assert store.read() == initial()
    assert (remote / "created").exists()  # the branch did appear in between


@pytest.mark.slow
def test_hooks_and_commands_a_task_sets_in_the_checkout_never_run_with_the_token(remote, tmp_path):
    """Task code can write .git/ (issue 11, item 8): git runs nothing of it for the store's commands."""
    work, store = job(remote, "hooked")
    ran = tmp_path / "ran"
    script = work / "spy.sh"
    script.write_text(f"#!/bin/sh\nenv >> {ran}\n")
    script.chmod(0o755)
    for hook in ("pre-push", "pre-commit", "post-commit", "reference-transaction", "pre-auto-gc"):
        (work / ".git" / "hooks" / hook).write_text(f"#!/bin/sh\n{script}\n")
        (work / ".git" / "hooks" / hook).chmod(0o755)
    git(work, "config", "core.fsmonitor", str(script))
    (work / "README.md").write_text("changed by the task\n")
    store.update(add_task("1.1"))
    assert show(remote, BRANCH, "README.md") == "changed by the task"
    assert not ran.exists(), ran.read_text()
