"""MLflow tracking: a parent run per pipeline run, a nested run per task execution.

mlflow is imported lazily (on the first `log_task`), never when gitops is imported:
`gitops lint` and `gitops status` stay fast. A tracking failure raises `TrackingError`
within bounded HTTP timeouts; the runner reports it and the task's result stays in state.json.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, TypeVar

from gitops.errors import GitopsError
from gitops.github.run_url import current_run_url
from gitops.handlers import TaskResult
from gitops.model import TaskList
from gitops.tracking.artifacts import FOLDER as ARTIFACTS_FOLDER
from gitops.tracking.artifacts import vet
from gitops.tracking.run_record import run_metrics, run_params, summary, task_report

# The engine's own files live under .gitops/ (issue 11, item 9): a task job commits the files it
# changed, and a store beside the task list would ride along wherever .gitignore does not list it.
DEFAULT_DB = ".gitops/mlflow.db"
LEGACY_DB = "mlflow.db"  # where gitops kept it before: still used while it exists, runs stay visible
PIPELINE_TAG = "gitops.pipeline_run"
# MLflow's client defaults retry 7 times with backoff factor 2 and a 120 s timeout: minutes
# of waiting on a dead server. These bound a failure to ~2 x timeout; the environment wins.
CLIENT_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",  # stdout belongs to gitops (--json)
}
# MLflow reads these from os.environ at request time; copied from the environ passed in.
CLIENT_CREDENTIALS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


# Parallel jobs on one SQLite store: the first to open a new store creates its schema (~5 s), and
# MLflow's SqlAlchemyStore does it unguarded (mlflow/store/tracking/sqlalchemy_store.py,
# `_all_tables_exist` then `_initialize_tables`), so jobs that start together each run the
# migrations and all but one fail ("table ... already exists", "Online migration expected to
# match one row"). The first client of a process is made under a lock beside the SQLite file.
STORE_LOCK_TIMEOUT = 300.0
# Errors that go away when tried again: SQLite's write lock held by another job beyond its
# 5 s busy timeout, and a schema another process is still creating (a store made by an older
# gitops or by mlflow itself, without the lock above).
TRANSIENT = re.compile(r"database is locked|already exists|Online migration|alembic|no such table", re.IGNORECASE)
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)  # ~7.5 s in all, then the task is reported untracked
T = TypeVar("T")

# A failure's cause, said so that a person knows what to do (MLflow's messages run to 500 characters).
REASONS = (
    (
        r"Connection refused|Failed to establish a new connection|Name or service not known",
        "cannot connect: start the server (scripts/mlflow-server start) or unset MLFLOW_TRACKING_URI to use the local store",
    ),
    (
        r"timed out|Timeout",
        "no answer within MLFLOW_HTTP_REQUEST_TIMEOUT seconds: check the server (scripts/mlflow-server status)",
    ),
    (
        r"\b401\b|not authenticated|Unauthorized",
        "not authenticated: set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD",
    ),
    (r"\b403\b|PERMISSION_DENIED", "permission denied: this user may not write to the experiment"),
)


class TrackingError(GitopsError):
    """MLflow could not record a run; the task result is unaffected."""


def tracking_uri(root: Path, environ: Mapping[str, str]) -> str:
    """`MLFLOW_TRACKING_URI` when set, else `sqlite:///<root>/.gitops/mlflow.db` (or the
    `<root>/mlflow.db` of an older gitops, while it exists)."""
    if environ.get("MLFLOW_TRACKING_URI"):
        return environ["MLFLOW_TRACKING_URI"]
    root = Path(root).resolve()
    legacy, store = root / LEGACY_DB, root / DEFAULT_DB
    return f"sqlite:///{legacy if legacy.is_file() and not store.exists() else store}"


def safe_uri(uri: str) -> str:
    """The URI without credentials (`http://user:pw@host` -> `http://host`)."""
    return re.sub(r"://[^/@\s]*@", "://", uri)


def run_link(tracking_uri: str, experiment_id: str | None, run_id: str) -> str:
    """Where a person sees a run: a UI URL for a server, an `mlflow ui` hint for a local store."""
    route = f"#/experiments/{experiment_id}/runs/{run_id}" if experiment_id else f"#/runs/{run_id}"
    if tracking_uri.startswith(("http://", "https://")):
        return f"{safe_uri(tracking_uri).rstrip('/')}/{route}"
    return f"mlflow ui --backend-store-uri {tracking_uri}  (then open http://127.0.0.1:5000/{route})"


def artifact_root(uri: str) -> str | None:
    """`mlruns/` beside a SQLite file (MLflow's default is relative to the cwd); None for servers."""
    if uri.startswith("sqlite:///"):
        return str(Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlruns")
    return None


class MlflowTracker:
    """The runner's Tracker: one experiment per project, nested runs under a pipeline run."""

    def __init__(self, root: Path, environ: Mapping[str, str], uri: str | None = None) -> None:
        self.root = Path(root)
        self.environ = dict(environ)
        self.uri = uri or tracking_uri(self.root, environ)
        self.session = f"local-{uuid.uuid4().hex[:12]}"
        self.experiment_id: str | None = None
        self.parent_run_id: str | None = None
        self._client: Any = None
        self._git: dict[str, str] | None = None

    @property
    def pipeline_run(self) -> str:
        """The GitHub run id (shared by all jobs of a workflow run), else this session's id."""
        return self.environ.get("GITHUB_RUN_ID") or self.session

    def client(self) -> Any:
        """The MlflowClient, made on first use with bounded HTTP timeouts."""
        if self._client is None:
            for key, value in CLIENT_DEFAULTS.items():
                os.environ.setdefault(key, self.environ.get(key, value))
            for key in CLIENT_CREDENTIALS:
                if key in self.environ:
                    os.environ.setdefault(key, self.environ[key])
            from mlflow.tracking import MlflowClient

            with store_lock(self.uri):  # making the client opens the store: schema, default experiment
                self._client = MlflowClient(tracking_uri=self.uri)
        return self._client

    def log_task(
        self, tasklist: TaskList, task_id: str, state: Mapping[str, Any], result: TaskResult, seconds: float
    ) -> str:
        """Log one execution as a nested run; return its run id (TrackingError on failure).

        A transient failure (see TRANSIENT) is tried again after a pause, up to len(RETRY_DELAYS)
        times; a run left half-written by a failed attempt is deleted so that one run remains.
        """
        try:
            return retrying(lambda: self._log_task(tasklist, task_id, state, result, seconds))
        except TrackingError:
            raise
        except Exception as exc:  # noqa: BLE001 - any MLflow failure becomes one clear message
            raise TrackingError(f"MLflow at {safe_uri(self.uri)}: {reason(exc)}") from exc

    def close(self, state: Mapping[str, Any]) -> None:
        """End this session's pipeline run with the pipeline's progress (no-op if nothing was logged)."""
        if self.parent_run_id is None:
            return
        try:
            stopped = bool(state.get("halted") or state.get("paused_by"))
            client = self.client()
            client.log_batch(
                self.parent_run_id,
                metrics=_metrics(
                    {
                        "tasks_done": state.get("completed_count", 0),
                        "tasks_total": state.get("total_tasks", 0),
                        "consecutive_failures": state.get("consecutive_failures", 0),
                    }
                ),
            )
            client.set_tag(self.parent_run_id, "gitops.pipeline_status", "stopped" if stopped else "ok")
            client.set_terminated(self.parent_run_id, "FAILED" if stopped else "FINISHED")
        except Exception as exc:  # noqa: BLE001
            raise TrackingError(
                f"MLflow at {safe_uri(self.uri)}: the pipeline run was not closed: {reason(exc)}"
            ) from exc

    # ------------------------------------------------------------ internals
    def _log_task(
        self, tasklist: TaskList, task_id: str, state: Mapping[str, Any], result: TaskResult, seconds: float
    ) -> str:
        from mlflow.entities import Param, RunTag

        client = self.client()
        task = tasklist.tasks[task_id]
        record = state["tasks"][task_id]
        parent = self._parent(str(state.get("project") or tasklist.title))
        git = self.git_info(record)
        tags = {
            "mlflow.parentRunId": parent,
            "mlflow.source.git.commit": git.get("commit", ""),
            "mlflow.source.git.branch": git.get("branch", ""),
            "mlflow.note.content": summary(task_id, task.title, record, result),
            "gitops.task": task_id,
            "gitops.title": task.title,
            "gitops.status": record["status"],
            "gitops.run_url": record.get("run_url") or "",
            PIPELINE_TAG: self.pipeline_run,
        }
        run_name = f"Task {task_id} (attempt {record['attempts']})"
        run_id = client.create_run(
            self.experiment_id, tags={k: v for k, v in tags.items() if v}, run_name=run_name
        ).info.run_id
        try:
            client.log_batch(
                run_id,
                metrics=_metrics(run_metrics(result, seconds)),
                params=[Param(k, str(v)) for k, v in run_params(tasklist, task_id, record).items()],
                tags=[RunTag("gitops.error", _short(result.error, 5000))] if result.error else [],
            )
            client.log_text(run_id, task_report(tasklist, task_id, record, result, seconds), "report.md")
            client.log_dict(run_id, {"task": task_id, "error": result.error, "checks": result.checks}, "checks.json")
            self._log_artifacts(client, run_id, result)
            client.set_terminated(run_id, "FAILED" if result.failed else "FINISHED")
        except Exception:
            with suppress(Exception):  # no state record will point at a half-written run
                client.delete_run(run_id)
            raise
        return run_id

    def _log_artifacts(self, client: Any, run_id: str, result: TaskResult) -> None:
        """The files the handler attached, vetted (artifacts.vet); refused ones are named in a tag."""
        vetted = vet(result.artifacts, self.root)
        for path in vetted.accepted:
            client.log_artifact(run_id, str(path), ARTIFACTS_FOLDER)
        if vetted.refused:
            said = "; ".join(f"{named}: {why}" for named, why in vetted.refused.items())
            client.set_tag(run_id, "gitops.artifacts_refused", _short(said, 5000))

    def _experiment(self, name: str) -> str:
        client = self.client()
        found = client.get_experiment_by_name(name)
        if found is None:
            try:
                return client.create_experiment(name, artifact_location=artifact_root(self.uri))
            except Exception:  # noqa: BLE001 - another job created it meanwhile
                found = client.get_experiment_by_name(name)
                if found is None:
                    raise
        if found.lifecycle_stage == "deleted":
            raise TrackingError(
                f"the MLflow experiment {name!r} is deleted: restore it with "
                f"`mlflow experiments restore --experiment-id {found.experiment_id}`"
            )
        return found.experiment_id

    def _parent(self, project: str) -> str:
        """The pipeline run: found by tag (other jobs of the same GitHub run) or created."""
        if self.parent_run_id is not None:
            return self.parent_run_id
        self.experiment_id = self._experiment(project)
        client = self.client()
        mine = self._find_parents()
        if not mine:
            tags = {PIPELINE_TAG: self.pipeline_run, "gitops.kind": "pipeline"}
            if url := current_run_url(self.environ):
                tags["gitops.run_url"] = url
            name = f"pipeline {self.pipeline_run}"
            created = client.create_run(self.experiment_id, tags=tags, run_name=name).info.run_id
            # Parallel jobs may each have created one: all settle on the oldest.
            mine = self._find_parents()
            if mine and mine[0] != created:
                client.delete_run(created)
        self.parent_run_id = mine[0] if mine else created
        return self.parent_run_id

    def _find_parents(self) -> list[str]:
        runs = self.client().search_runs(
            [self.experiment_id], f"tags.`{PIPELINE_TAG}` = '{self.pipeline_run}' and tags.`gitops.kind` = 'pipeline'"
        )
        return [r.info.run_id for r in sorted(runs, key=lambda r: (r.info.start_time, r.info.run_id))]

    def git_info(self, record: Mapping[str, Any]) -> dict[str, str]:
        """Commit and branch: from GitHub Actions variables, else from git in the root."""
        if self._git is None:
            self._git = {
                "commit": self.environ.get("GITHUB_SHA") or _git(self.root, "rev-parse", "HEAD"),
                "branch": self.environ.get("GITHUB_HEAD_REF")
                or self.environ.get("GITHUB_REF_NAME")
                or _git(self.root, "rev-parse", "--abbrev-ref", "HEAD"),
            }
        return {**self._git, **({"commit": record["commit"]} if record.get("commit") else {})}


@contextmanager
def store_lock(uri: str, timeout: float = STORE_LOCK_TIMEOUT) -> Iterator[None]:
    """For a SQLite store, an exclusive lock `<file>.lock` beside it; nothing for a server.

    A server creates its schema once at start; only a file store is opened by many processes.
    """
    if not uri.startswith("sqlite:///"):
        yield
        return
    import filelock

    database = Path(uri.removeprefix("sqlite:///"))
    lock = filelock.FileLock(f"{database}.lock", timeout=timeout)
    try:
        database.parent.mkdir(parents=True, exist_ok=True)  # .gitops/ of a fresh checkout; SQLite makes no folders
        lock.acquire()
    except filelock.Timeout:
        raise TrackingError(
            f"{lock.lock_file}: another process has been creating the MLflow store {database} for "
            f"{timeout:g} s. Check for a stuck gitops or mlflow process, then try again."
        ) from None
    except OSError as exc:
        raise TrackingError(
            f"{lock.lock_file}: cannot lock the MLflow store ({exc.strerror}). Make its folder "
            "writable, or set MLFLOW_TRACKING_URI to another store."
        ) from None
    try:
        yield
    finally:
        lock.release()


def retrying(
    call: Callable[[], T], delays: tuple[float, ...] = RETRY_DELAYS, sleep: Callable[[float], None] = time.sleep
) -> T:
    """`call()`, tried again after each delay while it fails with a transient error (TRANSIENT)."""
    for delay in delays:
        try:
            return call()
        except TrackingError:
            raise
        except Exception as exc:  # noqa: BLE001 - MLflow raises MlflowException and SQLAlchemy errors alike
            if not TRANSIENT.search(str(exc)):
                raise
        sleep(delay)
    return call()


def _metrics(values: Mapping[str, float]) -> list[Any]:
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    return [Metric(key, float(value), now, 0) for key, value in values.items()]


def reason(exc: BaseException) -> str:
    """A short, actionable cause of a tracking failure."""
    text = " ".join(str(exc).split())
    for pattern, said in REASONS:
        if re.search(pattern, text):
            return said
    return f"{type(exc).__name__}: {_short(text)}"


def _short(error: Any, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _git(root: Path, *args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""



