"""What a following production reports: the commit it last saw, what became of it, what serves now.

The follower (follow.py) serves this on its own port, as JSON (`/status`, for people) and in
Prometheus' text format (`/metrics`), which the production's Prometheus scrapes (its
`gitops-follower` job, render.py). A pipeline thus observes a rollout through the Prometheus URL
alone, as it observes the analysis: `gitops_production_commit{commit="<sha>"}` says whether that
commit was applied or refused, like Flux's `gotk_reconcile_condition` metrics.
"""
from __future__ import annotations

import http.server
import json
import threading
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from migration.production.stack import State


class Outcome(str, Enum):
    APPLYING = "applying"
    APPLIED = "applied"
    REFUSED = "refused"  # a file that does not parse, or a stack that would not converge: the old one serves


@dataclass(frozen=True)
class ServingRelease:
    name: str
    environment: str
    address: str  # host:port as Prometheus scrapes it (the `instance` label of its metrics)
    weight: int


@dataclass(frozen=True)
class FollowStatus:
    remote: str
    branch: str
    commit: str | None = None  # the followed branch's tip last seen
    outcome: Outcome | None = None
    reason: str = ""  # why it was refused
    applied: str | None = None  # the commit whose declaration serves now
    releases: tuple[ServingRelease, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"outcome": self.outcome.value if self.outcome else None}


def serving(state: State) -> tuple[ServingRelease, ...]:
    """The releases running in `state`, each with its declared weight."""
    return tuple(ServingRelease(n, i.environment, f"127.0.0.1:{i.port}", state.weights.get(n, 0))
                 for n, i in sorted(state.releases.items()))


def _label(value: str) -> str:
    # https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format: \, " and newline escaped.
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def metrics(status: FollowStatus) -> str:
    """The status in Prometheus' text exposition format."""
    lines = ["# HELP gitops_production_commit The followed branch's last commit and what became of it.",
             "# TYPE gitops_production_commit gauge"]
    if status.commit and status.outcome:
        lines.append(f'gitops_production_commit{{commit="{status.commit}",outcome="{status.outcome.value}",'
                     f'reason="{_label(status.reason[:300])}"}} 1')
    lines += ["# HELP gitops_production_applied The commit whose declaration serves now.",
              "# TYPE gitops_production_applied gauge"]
    if status.applied:
        lines.append(f'gitops_production_applied{{commit="{status.applied}"}} 1')
    lines += ["# HELP gitops_production_release_weight Each running release's declared weight.",
              "# TYPE gitops_production_release_weight gauge"]
    lines += [f'gitops_production_release_weight{{release="{r.name}",environment="{r.environment}",'
              f'address="{r.address}"}} {r.weight}' for r in status.releases]
    return "\n".join(lines) + "\n"


class Board:
    """The current status, replaced whole (readers on the server's threads see one or the other)."""

    def __init__(self, status: FollowStatus) -> None:
        self.status = status


def serve(board: Board, port: int) -> http.server.ThreadingHTTPServer:
    """Serve `/status` and `/metrics` from `board` on 127.0.0.1:`port` in a daemon thread."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            status = board.status
            if self.path == "/metrics":
                body, kind = metrics(status), "text/plain; version=0.0.4"
            elif self.path == "/status":
                body, kind = json.dumps(status.as_dict(), indent=2, sort_keys=True) + "\n", "application/json"
            else:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:  # scraped every second: not worth a log line
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, name="follower-status", daemon=True).start()
    return server
