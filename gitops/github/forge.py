"""GitHubForge: HotFix issues, the sticky phase comment and phase PRs on GitHub (PyGithub).

Every write is idempotent: each issue, comment and PR body starts with a hidden marker
(`<!-- gitops:hotfix:2.1 -->`) and a re-run finds and updates it instead of adding another.
Everything posted is redacted and capped below GitHub's 65,536 characters, with a link to the
run's log. A failed call raises GitHubError (the runner reports it and retries on the next
command) and is noted in the job summary.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence, TypeVar

from gitops.forge.base import Rejection
from gitops.forge.deployments import Deployment, DeploymentStatus
from gitops.github import admin as github_admin
from gitops.github import deployments
from gitops.github import job_summary as actions
from gitops.github import phase_status
from gitops.github.api import MAX_BODY, GitHubError, GitHubSettings, connect, translated
from gitops.github.environment_setup import ensure_environment
from gitops.github.environments import environment_for
from gitops.github.reviews import REJECTED, newest_review
from gitops.github.ruleset import ensure_ruleset
from gitops.markdown_text import close_open_fence
from gitops.model import Gate
from gitops.redact import Redactor
from gitops.state.phase_branches import phase_branch

if TYPE_CHECKING:
    from github import Github
    from github.Issue import Issue
    from github.Repository import Repository

T = TypeVar("T")
# Who writes with a workflow's GITHUB_TOKEN (https://docs.github.com/en/actions/security-for-github-actions/security-guides/automatic-token-authentication).
BOT = "github-actions[bot]"
TITLE_LIMIT = 256
PROGRESS_MARKER = "progress"


def hidden(marker: str) -> str:
    """The hidden HTML marker that names an issue, comment or PR body."""
    return f"<!-- gitops:{marker} -->"


def cap(text: str, limit: int, link: str | None) -> str:
    """The text cut to `limit` characters with a notice that links to the full log."""
    if len(text) <= limit:
        return text
    where = f"the full log: {link}" if link else "the full log is in the job's output"
    notice = f"\n\n… (truncated: {{}} characters left out; {where})"
    kept = text[: limit - len(notice) - 40]
    # Close a code block the cut leaves open (its fence may be longer than ```), or it swallows the notice.
    return close_open_fence(kept) + notice.format(len(text) - len(kept))


class GitHubForge:
    """The Forge protocol on a GitHub repository; the client is made on first use."""

    def __init__(
        self,
        settings: GitHubSettings,
        project: str,
        environ: Mapping[str, str],
        reviewers: Sequence[str] = (),
    ):
        self.settings = settings
        self.project = project
        self.environ = environ
        self.reviewers = tuple(reviewers)
        self.redactor = Redactor.from_environ(environ)
        self._gh: Github | None = None
        self._repo: Repository | None = None
        self._authors: frozenset[str] | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], project: str, **transport: Any) -> GitHubForge:
        """A forge for the repository named by the standard GitHub Actions variables."""
        return cls(GitHubSettings.from_environ(environ, **transport), project, environ)

    @property
    def gh(self) -> Github:
        """The PyGithub client, made (and PyGithub imported) on first use."""
        if self._gh is None:
            self._gh = connect(self.settings)
        return self._gh

    @property
    def repo(self) -> Repository:
        """The repository named by GITHUB_REPOSITORY, read once."""
        if self._repo is None:
            with translated(f"reading repository {self.settings.repository}", self.settings):
                self._repo = self.gh.get_repo(self.settings.repository)
        return self._repo

    def ours(self, item: Any) -> bool:
        """Whether an issue or comment was written by us: anybody can paste a hidden marker into
        their own, and only the bot's (or this token's user's) may be taken for the sticky one."""
        if self._authors is None:
            authors = {BOT}
            try:  # a person's token (a terminal) writes as that person
                with translated("reading the token's user", self.settings):
                    authors.add(self.gh.requester.requestJsonAndCheck("GET", "/user")[1]["login"])
            except GitHubError:
                pass  # an Actions token may not read /user (HTTP 403): it writes as the bot
            self._authors = frozenset(authors)
        return bool(item.user) and item.user.login in self._authors

    def phase_branch(self, phase: int) -> str:
        """The branch whose PR ends a phase: `gitops/<project>/phase-<n>`."""
        return phase_branch(self.project, phase)

    # ------------------------------------------------------------ Forge protocol
    def open_issue(self, marker: str, title: str, body: str, labels: Sequence[str]) -> str:
        """Open the issue with this marker, or update (and reopen) the one that has it."""
        return self._reported(f"opening issue {marker}", lambda: self._open_issue(marker, title, body, labels).html_url)

    def close_issue(self, marker: str, comment: str) -> None:
        """Close the issue with this marker (if open), leaving the comment."""
        self._reported(f"closing issue {marker}", lambda: self._close_issue(marker, comment))

    def upsert_comment(self, marker: str, body: str) -> str:
        """Create or edit the comment with this marker on the phase PR (else the progress issue)."""
        return self._reported(f"updating comment {marker}", lambda: self._upsert_comment(marker, body))

    def open_phase_pr(self, phase: int, title: str, body: str) -> str:
        """Open (or find) the PR from gitops/<project>/phase-<n> into the default branch."""
        return self._reported(f"opening the PR of phase {phase}", lambda: self._open_phase_pr(phase, title, body))

    def record_approval(self, gate: str) -> str | None:
        """Who approved the gate: the run's environment approval, or who merged the phase PR."""
        return self._reported(f"reading who approved {gate}", lambda: self._record_approval(gate))

    def rejection(self, gate: str) -> Rejection | None:
        """Who rejected the gate's review in this run, and their comment: its environment's newest
        review, when that is a rejection (gitops.github.reviews)."""
        return self._reported(f"reading who rejected {gate}", lambda: self._rejection(gate))

    def setup(self, environments: Sequence[str], labels: Sequence[str]) -> list[str]:
        """Create environments (with this forge's reviewers), the state branches' ruleset and labels
        idempotently; settings an admin made are kept (gitops.github.environment_setup)."""

        def work() -> list[str]:
            done = []
            if environments:
                reviewers = github_admin.reviewer_ids(self.gh, self.reviewers, self.settings)
                for env in environments:
                    done.append(ensure_environment(self.gh, self.repo, env, reviewers, self.settings))
                done.append(ensure_ruleset(self.gh, self.repo, self.settings))
            if labels:
                done.append(github_admin.ensure_labels(self.repo, labels, self.settings))
            return done

        return self._reported("setting up the repository", work)

    def record_deployment(self, deployment: Deployment, status: DeploymentStatus) -> str:
        """The deployment on the repository's Environments page, with the new status (gitops.github.deployments)."""
        redacted = DeploymentStatus(status.state, self.redactor.redact(status.description), status.environment_url,
                                    status.log_url)
        return self._reported(f"recording deployment {deployment.key} ({status.state.value})",
                              lambda: deployments.record(self.repo, deployment, redacted))

    # ------------------------------------------------------------ issues
    def _open_issue(self, marker: str, title: str, body: str, labels: Sequence[str]) -> Issue:
        title = self.redactor.redact(title)[:TITLE_LIMIT]
        text = self._body(marker, body)
        issue = self._find_issue(marker, labels)
        if issue is None:
            with translated(f"opening issue {marker}", self.settings):
                return self.repo.create_issue(title=title, body=text, labels=list(labels))
        changes: dict[str, Any] = {}
        if issue.title != title:
            changes["title"] = title
        if issue.body != text:
            changes["body"] = text
        if issue.state != "open":
            changes["state"] = "open"
        present = [label.name for label in issue.labels]
        if set(labels) - set(present):
            changes["labels"] = list(dict.fromkeys([*present, *labels]))
        if changes:
            with translated(f"updating issue #{issue.number}", self.settings):
                issue.edit(**changes)
        return issue

    def _close_issue(self, marker: str, comment: str) -> None:
        issue = self._find_issue(marker, (), state="open")
        if issue is None:
            return
        text = cap(self.redactor.redact(comment), MAX_BODY, self.settings.run_url())
        with translated(f"closing issue #{issue.number}", self.settings):
            comments = list(issue.get_comments())
            if not comments or comments[-1].body != text:  # a re-run after a failed close adds no twin
                issue.create_comment(text)
            issue.edit(state="closed", state_reason="completed")

    def _find_issue(self, marker: str, labels: Sequence[str], state: str = "all") -> Issue | None:
        """The issue whose body carries the marker; listed by its task label when it has one."""
        tag = hidden(marker)
        label = next((name for name in labels if name.startswith("task:")), None)
        if label is None and marker.startswith("hotfix:"):
            label = f"task:{marker.removeprefix('hotfix:')}"
        elif label is None and marker == PROGRESS_MARKER:
            label = "gitops"
        with translated(f"looking for issue {marker}", self.settings):
            found = self.repo.get_issues(state=state, labels=[label]) if label else self.repo.get_issues(state=state)
            # Plain issues have no `pull_request` key, and reading it would fetch each issue again.
            matches = [issue for issue in found
                       if "/pull/" not in issue.html_url and tag in (issue.body or "") and self.ours(issue)]
        if not matches:
            return None
        keep, *twins = sorted(matches, key=lambda issue: issue.number)
        for twin in twins:
            self._close_twin(twin, keep.number)
        return keep

    def _close_twin(self, twin: Issue, original: int) -> None:
        """A POST that timed out is never resent, but it may still land after the next command opened
        the issue again: the later twin is closed as a duplicate the next time the marker is looked up."""
        if twin.state != "open":
            return
        with translated(f"closing issue #{twin.number}, a duplicate of #{original}", self.settings):
            twin.create_comment(f"Duplicate of #{original}: a request that had timed out opened this issue late.")
            twin.edit(state="closed", state_reason="not_planned")

    # ------------------------------------------------------------ comments and PRs
    def _upsert_comment(self, marker: str, body: str) -> str:
        text = self._body(marker, self._progress_body(marker, body))
        target = self._comment_target(marker)
        tag = hidden(marker)
        with translated(f"updating comment {marker}", self.settings):
            for comment in target.get_comments():
                if tag in (comment.body or "") and self.ours(comment):
                    if comment.body != text:
                        comment.edit(text)
                    return comment.html_url
            return target.create_comment(text).html_url

    def _progress_body(self, marker: str, body: str) -> str:
        """The sticky comment of a rejected phase says so first: its next step would read "merge"."""
        if marker.startswith("phase:") and marker.removeprefix("phase:").isdigit():
            phase = int(marker.removeprefix("phase:"))
            if _rejected(self._find_pull(phase)):
                return (f"**This PR was closed without merging: Phase {phase + 1} is rejected and does not start.** "
                        "Reopen the PR (after pushing any fix to its branch) to let the pipeline go on.\n\n" + body)
        return body

    def _comment_target(self, marker: str) -> Issue:
        """The phase PR (as an issue) for `phase:<n>`; before it exists, the project's progress issue."""
        if marker.startswith("phase:") and marker.removeprefix("phase:").isdigit():
            pull = self._find_pull(int(marker.removeprefix("phase:")))
            if pull is not None:
                with translated(f"reading PR #{pull.number}", self.settings):
                    return self.repo.get_issue(pull.number)
        title = f"{self.project}: pipeline progress"
        body = f"Progress of the {self.project} pipeline; the phase PRs carry it once they are open."
        return self._open_issue(PROGRESS_MARKER, title, body, ["gitops"])

    def _find_pull(self, phase: int) -> Any:
        """The open PR of the phase, else its merged one, else the newest closed one, else None."""
        head = f"{self.settings.owner}:{self.phase_branch(phase)}"
        with translated(f"looking for the PR of phase {phase}", self.settings):
            pulls = list(self.repo.get_pulls(state="all", head=head))
        for pull in pulls:
            if pull.state == "open":
                return pull
        merged = [pull for pull in pulls if pull.merged_at is not None]
        return (merged or pulls or [None])[0]

    def phase_rejected(self, phase: int) -> bool:
        """The phase PR was closed without merging: a reviewer said no to the next phase."""
        return self._reported(f"reading the PR of phase {phase}", lambda: _rejected(self._find_pull(phase)))

    def _open_phase_pr(self, phase: int, title: str, body: str) -> str:
        title = self.redactor.redact(title)[:TITLE_LIMIT]
        text = self._body(f"phase-pr:{phase}", body)
        pull = self._find_pull(phase)
        if pull is not None and pull.state != "open":
            # Merged: the phase is over. Closed unmerged: a rejection, which a new PR would silently
            # undo; reopening it is the reviewer's call.
            return pull.html_url
        if pull is not None:
            if pull.title != title or pull.body != text:
                with translated(f"updating PR #{pull.number}", self.settings):
                    pull.edit(title=title, body=text)
        else:
            branch = self.phase_branch(phase)
            hint = f"The branch {branch} must exist and differ from the default branch (the workflow pushes it)."
            with translated(f"opening the PR of phase {phase} from {branch}", self.settings, hint):
                pull = self.repo.create_pull(base=self.repo.default_branch, head=branch, title=title, body=text)
        phase_status.mark_complete(self.gh, self.repo, pull, phase, self.settings)
        return pull.html_url

    # ------------------------------------------------------------ approvals
    def _record_approval(self, gate: str) -> str | None:
        environment = environment_for(gate, self.project)
        if environment is None:
            phase = Gate.parse(gate).phase_number - 1
            pull = self._find_pull(phase)
            if pull is None or pull.merged_at is None:
                return None
            with translated(f"reading who merged PR #{pull.number}", self.settings):
                return pull.merged_by.login if pull.merged_by else None
        if self.settings.run_id is None:
            return None
        return github_admin.approver(self.gh, self.repo, self.settings.run_id, environment, self.settings)

    def _rejection(self, gate: str) -> Rejection | None:
        environment = environment_for(gate, self.project)
        if environment is None or self.settings.run_id is None:
            return None
        review = newest_review(self.gh, self.repo, self.settings.run_id, environment, self.settings)
        if review is None or review.state != REJECTED:
            return None
        return Rejection(review.by or "a reviewer", review.comment)

    # ------------------------------------------------------------ helpers
    def _body(self, marker: str, body: str) -> str:
        """Marker first (a cut never removes it), then the redacted body capped below the limit."""
        tag = hidden(marker)
        text = cap(self.redactor.redact(body.rstrip()), MAX_BODY - len(tag) - 1, self.settings.run_url())
        return f"{tag}\n{text}"

    def _reported(self, doing: str, work: Callable[[], T]) -> T:
        """Run one forge operation; a failure is redacted, noted in the job summary and re-raised."""
        try:
            with translated(doing, self.settings):
                return work()
        except GitHubError as exc:
            message = self.redactor.redact(str(exc))
            actions.report_failure(self.environ, f"gitops could not update GitHub ({doing})", message)
            raise GitHubError(message, exc.status) from exc


def _rejected(pull: Any) -> bool:
    return pull is not None and pull.state == "closed" and pull.merged_at is None
