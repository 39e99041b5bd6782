"""Release processes: one service per release, in its DSPy environment, health-checked before use."""
from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from gitops.tracking import processes
from migration.environments.environment import Environment
from migration.production.faults import FAULT_VARIABLE
from migration.production.spec import Release

HEALTH_TIMEOUT = 120.0  # importing dspy takes 5-15 s on a loaded 2-core machine; two releases start at once


class ReleaseError(RuntimeError):
    """A release did not become healthy; it was stopped and never got traffic."""


@dataclass(frozen=True)
class Instance:
    """A running release: what it was started from, where it listens, its process."""

    name: str
    environment: str
    env: tuple[tuple[str, str], ...]
    port: int
    pid: int

    def serves(self, release: Release) -> bool:
        """Whether this process runs `release` as declared (else it must be replaced)."""
        return (self.name, self.environment, self.env) == (release.name, release.environment, release.env)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "environment": self.environment, "env": dict(self.env), "port": self.port,
                "pid": self.pid}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Instance:
        return cls(data["name"], data["environment"], tuple(sorted(data["env"].items())), data["port"], data["pid"])


def free_port() -> int:
    """A port nobody listens on now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str, timeout: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback only)
        return json.loads(response.read())


def health(port: int) -> dict[str, Any] | None:
    """The release's /healthz, or None when it does not answer 200."""
    try:
        return get_json(f"http://127.0.0.1:{port}/healthz")
    except (OSError, ValueError, urllib.error.URLError):
        return None


def start(release: Release, root: Path, state: Path, environ: Mapping[str, str],
          timeout: float = HEALTH_TIMEOUT) -> Instance:
    """Start `release` in its environment and wait for /healthz to name it; ReleaseError otherwise."""
    environment = Environment(release.environment, root, environ)
    if not environment.exists():
        raise ReleaseError(f"release {release.name}: {environment.path} does not exist; build it with Task 1.1 "
                           f"(`scripts/run`, or `.venv/bin/gitops run-task 1.1`)")
    port = free_port()
    log = state / "logs" / f"release-{release.name}-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    # The fault comes from the declared release only: one in the caller's environment must not leak in.
    env = environment.env({FAULT_VARIABLE: "", **dict(release.env)})
    command = [str(environment.python), "-m", "migration.production.service", "--release", release.name,
               "--port", str(port), "--root", str(root.resolve())]
    proc = processes.spawn(command, env, state, log)
    instance = Instance(release.name, release.environment, release.env, port, proc.pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = health(port)
        if answer is not None and answer.get("release") == release.name:
            return instance
        if not processes.alive(proc.pid):
            break
        time.sleep(0.2)
    processes.stop(proc.pid)
    tail = log.read_text(encoding="utf-8", errors="replace")[-1500:]
    raise ReleaseError(f"release {release.name} failed its health check on 127.0.0.1:{port} (see {log}); it gets "
                       f"no traffic:\n{tail}")


def stop(instance: Instance) -> None:
    """SIGTERM: uvicorn finishes the requests in flight, then exits."""
    if processes.alive(instance.pid):
        processes.stop(instance.pid)
