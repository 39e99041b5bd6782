"""`/gitops ...` commands in comments on the phase PR or the progress issue, where people read.

What Atlantis and branch-deploy users expect: `/gitops retry 2.1` and `/gitops resume <why>` do
what the dispatch inputs `retry=` and `resume=` do, in the run the comment starts (the plan job
applies them); `/gitops status` just plans again, and the run's report job refreshes the sticky
progress comment. Only people who may write to the repository are obeyed
(https://docs.github.com/en/rest/collaborators/collaborators#get-repository-permissions-for-a-user);
every command gets a reaction, and a refusal or a question gets a reply
(https://docs.github.com/en/rest/reactions/reactions#create-reaction-for-an-issue-comment).

Approving a checkpoint stays in the run page or `gitops approve --forge github`: a workflow's
token cannot approve a deployment, and the environment's review is what records the approver.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from gitops.github.api import GitHubSettings, connect, translated
from gitops.model import TaskList

PREFIX = "/gitops"
ALLOWED = ("admin", "maintain", "write")
USAGE = ("`/gitops retry <task>` (after the fix is on the default branch), `/gitops resume <why it is safe>` "
         "(clears a halt; add a retry after it) or `/gitops status` (plans again and refreshes the progress comment)")


@dataclass(frozen=True)
class Command:
    """What the plan job applies: the same values as the dispatch inputs."""

    retry: str = ""
    resume: str = ""
    reply: str = ""  # said back to the commenter instead (a refusal, a question)


def parse(body: str, tasklist: TaskList) -> Command | None:
    """The command in a comment's first line; None when the comment is no command at all."""
    first = (body or "").strip().splitlines()[0].strip() if (body or "").strip() else ""
    if not first.startswith(PREFIX):
        return None
    if first[len(PREFIX):][:1] not in ("", " "):  # "/gitopsx": the workflow let it in (startsWith)
        return Command(reply=f"Unknown command. Use {USAGE}.")
    verb, _, rest = first[len(PREFIX):].strip().partition(" ")
    rest = rest.strip()
    if verb == "retry" and rest in tasklist.tasks:
        return Command(retry=rest)
    if verb == "retry":
        return Command(reply=f"`/gitops retry` needs a task id of the task list: {', '.join(tasklist.tasks)}.")
    if verb == "resume" and rest:
        return Command(resume=rest)
    if verb == "status" and not rest:
        return Command()  # nothing to apply: the run plans, and its report job refreshes the sticky comment
    if verb == "approve":
        return Command(reply="Checkpoints are approved in the waiting run (*Review deployments*) or with "
                             "`gitops --forge github approve <gate>`: GitHub records the reviewer there. "
                             "A phase is approved by merging its PR.")
    return Command(reply=f"Unknown command. Use {USAGE}.")


def handle(tasklist: TaskList, environ: Mapping[str, str], **transport: object) -> Command | None:
    """Read the comment of this run's event, check its author, react, and return what to apply."""
    event = json.loads(Path(environ["GITHUB_EVENT_PATH"]).read_text(encoding="utf-8"))
    comment, issue = event["comment"], event["issue"]
    command = parse(comment.get("body") or "", tasklist)
    if command is None:
        return None
    settings = GitHubSettings.from_environ(environ, **transport)
    gh = connect(settings)
    author = comment["user"]["login"]
    base = f"/repos/{settings.repository}"
    with translated(f"reading {author}'s permission", settings):
        _, found = gh.requester.requestJsonAndCheck("GET", f"{base}/collaborators/{author}/permission")
    role = found.get("role_name") or found.get("permission")
    if role not in ALLOWED:
        command = Command(reply=f"@{author} may not run gitops commands here: that needs write access to "
                                f"{settings.repository} (yours: {role or 'none'}).")
    with translated("answering the comment", settings):
        reaction = "-1" if command.reply else "+1"
        gh.requester.requestJsonAndCheck("POST", f"{base}/issues/comments/{comment['id']}/reactions",
                                         input={"content": reaction})
        if command.reply:
            gh.requester.requestJsonAndCheck("POST", f"{base}/issues/{issue['number']}/comments",
                                             input={"body": command.reply})
    return command


def outputs(command: Command) -> str:
    """Step outputs for the plan job (key=value lines); a value never spans lines."""
    resume = re.sub(r"[\r\n]+", " ", command.resume)
    return f"retry={command.retry}\nresume={resume}\n"
