"""LocalForge: issues, comments and phase PRs as Markdown files a person can read.

Layout under the forge folder (`.gitops/forge/`, git-ignored):
`issues/<marker>.md`, `comments/<marker>.md`, `prs/phase-<n>.md`, `deployments/<key>.md` (a
deployment and its statuses, as GitHub's Environments page shows them). Each file carries its
hidden marker, so every write is idempotent: the same marker rewrites the same file.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from pathlib import Path
from typing import Sequence

from gitops.forge.base import Rejection
from gitops.forge.deployments import Deployment, DeploymentStatus

STATE_LINE = re.compile(r"^\*\*State\*\*: (open|closed)$", re.MULTILINE)
COMMENTS = "\n## Comments\n"


class LocalForge:
    def __init__(self, root: Path):
        self.root = Path(root)

    def _file(self, kind: str, marker: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", marker).strip("-")
        return self.root / kind / f"{slug}.md"

    def open_issue(self, marker: str, title: str, body: str, labels: Sequence[str]) -> str:
        path = self._file("issues", marker)
        comments = ""
        if path.exists():
            old = path.read_text(encoding="utf-8")
            comments = old[old.index(COMMENTS) + len(COMMENTS):] if COMMENTS in old else ""
        text = (
            f"# {title}\n\n**State**: open\n**Labels**: {', '.join(labels)}\n\n"
            f"<!-- gitops:{marker} -->\n{body.rstrip()}\n{COMMENTS}{comments}"
        )
        _write(path, text)
        return str(path)

    def close_issue(self, marker: str, comment: str) -> None:
        path = self._file("issues", marker)
        if not path.exists():
            return
        text = path.read_text(encoding="utf-8")
        if STATE_LINE.search(text) and STATE_LINE.search(text).group(1) == "closed":
            return
        text = STATE_LINE.sub("**State**: closed", text, count=1)
        _write(path, text.rstrip("\n") + f"\n\n- {comment}\n")

    def upsert_comment(self, marker: str, body: str) -> str:
        path = self._file("comments", marker)
        _write(path, f"<!-- gitops:{marker} -->\n{body.rstrip()}\n")
        return str(path)

    def open_phase_pr(self, phase: int, title: str, body: str) -> str:
        path = self._file("prs", f"phase-{phase}")
        _write(path, f"# {title}\n\n<!-- gitops:phase-pr:{phase} -->\n{body.rstrip()}\n")
        return str(path)

    def phase_rejected(self, phase: int) -> bool:
        return False  # locally a person stops at the gate's prompt: there is no PR to close

    def record_approval(self, gate: str) -> str | None:
        return None  # locally the approver is whoever ran `gitops approve --by`

    def rejection(self, gate: str) -> Rejection | None:
        return None  # locally a person stops at the gate's prompt: nobody rejects a review

    def setup(self, environments: Sequence[str], labels: Sequence[str]) -> list[str]:
        self.root.mkdir(parents=True, exist_ok=True)
        return [f"local forge ready at {self.root} (environments are gates in state.json)"]

    def record_deployment(self, deployment: Deployment, status: DeploymentStatus) -> str:
        """Append the status to the deployment's file (made when new) unless it is already the last."""
        path = self._file("deployments", deployment.key)
        text = path.read_text(encoding="utf-8") if path.exists() else (
            f"# Deployment to {deployment.environment}: {deployment.description}\n\n"
            f"<!-- gitops:{deployment.key} -->\n**Environment**: {deployment.environment}\n"
            f"**Ref**: {deployment.ref}\n\n| When | State | Description | Environment URL | Log |\n"
            "|---|---|---|---|---|\n")
        cells = " | ".join(c.replace("|", "\\|") for c in (status.state.value, status.short(),
                                                          status.environment_url, status.log_url))
        rows = [line for line in text.splitlines() if line.startswith("| 20")]
        if not rows or not rows[-1].endswith(f" | {cells} |"):
            stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
            _write(path, text + f"| {stamp} | {cells} |\n")
        return str(path)

    def issue_state(self, marker: str) -> str | None:
        """'open', 'closed' or None when there is no such issue (for status and tests)."""
        path = self._file("issues", marker)
        if not path.exists():
            return None
        found = STATE_LINE.search(path.read_text(encoding="utf-8"))
        return found.group(1) if found else None


def _write(path: Path, text: str) -> None:
    """Atomic and only when changed, so re-runs leave files (and their mtimes) alone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
