"""The workflow steps that carry a task job's result to its recording job (gitops.run.handover).

The task job uploads its hand-over as an artifact and the recording job downloads it
(https://docs.github.com/en/actions/writing-workflows/choosing-what-your-workflow-does/storing-and-sharing-data-from-a-workflow).
A result that does not arrive costs a retry of the task (gitops.run.recording records it as
interrupted), so the upload is made as sure as the action allows:

- `if-no-files-found: error`: `run-task --hand-over` always writes the file once it ran (also when
  its run did not claim the task), so a missing file means the job broke, and the step says so
  instead of uploading nothing quietly;
- neither action has a retry of its own beyond its HTTP client's (which never retries a 403:
  https://github.com/actions/upload-artifact/issues/560, https://github.com/actions/download-artifact/issues/464).
  So a failed upload is tried once more, with `overwrite: true`: the failed attempt may already
  have registered the name, and a second upload of a registered name is refused (HTTP 409); and
  a failed download is tried once more.
  `overwrite` is in the action since v4.2.0 (https://github.com/actions/upload-artifact/pull/501);
  it deletes the artifact of that name, if any, before uploading;
- the first try's failure is read from `steps.<id>.outcome`, which is the result before
  `continue-on-error` applies (https://docs.github.com/en/actions/reference/contexts-reference#steps-context);
- `retention-days: 1` (the minimum): the recording job runs right after the task job; a day later
  the artifact is gone, and a recording job re-run later finds none (recorded as interrupted).
"""
from __future__ import annotations

from typing import Any

UPLOAD_ID, DOWNLOAD_ID = "hand_over", "take_over"


def upload(uses: str, artifact: str, path: str) -> list[dict[str, Any]]:
    """The task job's last steps: upload the hand-over at `path` as `artifact`, and once more if that failed."""
    settings = {"name": artifact, "path": path, "if-no-files-found": "error", "include-hidden-files": True,
                "retention-days": 1}
    return [
        # always(): a failed task's result is handed over too. The first try may fail without
        # failing the job: the second decides.
        {"name": "Hand the result over", "id": UPLOAD_ID, "if": "${{ always() }}", "continue-on-error": True,
         "uses": uses, "with": settings},
        {"name": "Hand the result over again (the first upload failed)",
         "if": f"${{{{ always() && steps.{UPLOAD_ID}.outcome == 'failure' }}}}",
         "uses": uses, "with": {**settings, "overwrite": True}},
    ]


def download(uses: str, artifact: str, folder: str) -> list[dict[str, Any]]:
    """The recording job's steps that take the hand-over over, tried twice; when none arrives,
    `record-task` records the task as interrupted, saying so. The artifact is read as data, never run."""
    settings = {"name": artifact, "path": folder}
    return [
        {"name": "Take the result over", "id": DOWNLOAD_ID, "continue-on-error": True, "uses": uses, "with": settings},
        {"name": "Take the result over again (the first download failed)", "continue-on-error": True,
         "if": f"${{{{ steps.{DOWNLOAD_ID}.outcome == 'failure' }}}}", "uses": uses, "with": dict(settings)},
    ]
