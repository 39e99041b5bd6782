"""The proxy (nginx) and the metrics server (Prometheus) of local production, and the state file.

Both run as the project's own processes (not the system services), with their configuration,
pid, logs and data under `.gitops/production/`, on free ports of 127.0.0.1. `stack.json` records
what runs (pids, ports, the releases, the proxy's generation) so `status` and `down` find it again.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from gitops.tracking import processes
from migration.production import render
from migration.production.releases import Instance, free_port

STATE_DIR = Path(".gitops") / "production"
STATE_FILE = "stack.json"
READY_TIMEOUT = 60.0


class StackError(RuntimeError):
    """The proxy or Prometheus could not be started, validated or reloaded; the message says why."""


@dataclass(frozen=True)
class Service:
    pid: int
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass(frozen=True)
class Ports:
    """Fixed ports for the proxy and Prometheus (a followed production's URLs are settings); None: a free one."""

    proxy: int | None = None
    prometheus: int | None = None


@dataclass
class State:
    """What runs now (observed facts, apart from deploy/production.yaml's declaration)."""

    proxy: Service | None = None
    prometheus: Service | None = None
    releases: dict[str, Instance] = field(default_factory=dict)
    weights: dict[str, int] = field(default_factory=dict)
    generation: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"proxy": vars(self.proxy) if self.proxy else None,
                "prometheus": vars(self.prometheus) if self.prometheus else None,
                "releases": {n: i.as_dict() for n, i in sorted(self.releases.items())},
                "weights": dict(sorted(self.weights.items())), "generation": self.generation}


def load_state(folder: Path) -> State:
    try:
        data = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return State()
    return State(Service(**data["proxy"]) if data.get("proxy") else None,
                 Service(**data["prometheus"]) if data.get("prometheus") else None,
                 {n: Instance.from_dict(i) for n, i in data.get("releases", {}).items()},
                 dict(data.get("weights", {})), data.get("generation"))


def save_state(folder: Path, state: State) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{STATE_FILE}.tmp"
    temporary.write_text(json.dumps(state.as_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, folder / STATE_FILE)


def running(service: Service | None) -> bool:
    return service is not None and processes.alive(service.pid)


def _get(url: str, timeout: float = 2.0) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback only)
            return response.read().decode()
    except (OSError, urllib.error.URLError):
        return None


def _wait(check: Any, pid: int, what: str, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if check():
            return
        if not processes.alive(pid):
            break
        time.sleep(0.1)
    tail = log.read_text(encoding="utf-8", errors="replace")[-1500:] if log.exists() else ""
    raise StackError(f"{what} did not become ready (see {log}):\n{tail}")


# ---------------------------------------------------------------- Prometheus
def start_prometheus(folder: Path, root: Path, tools: Mapping[str, str], environ: Mapping[str, str],
                     port: int | None = None) -> Service:
    """Prometheus scraping the releases of targets.json every second, with deploy/alerts.yml's rules.

    `port`: a fixed one, for a production whose Prometheus URL is a setting (follow.py); else a free one.
    """
    shutil.copyfile(root / "deploy" / "alerts.yml", folder / "alerts.yml")
    if not (folder / "targets.json").exists():
        write_targets(folder, {})
    if not (folder / render.FOLLOWER_TARGETS).exists():
        (folder / render.FOLLOWER_TARGETS).write_text("[]\n", encoding="utf-8")
    (folder / "prometheus.yml").write_text(render.prometheus_yml(folder), encoding="utf-8")
    check = subprocess.run([tools["promtool"], "check", "config", str(folder / "prometheus.yml")],
                           capture_output=True, text=True)
    if check.returncode != 0:
        raise StackError(f"promtool check config failed:\n{check.stdout}{check.stderr}")
    port = port or free_port()
    log = folder / "logs" / "prometheus.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [tools["prometheus"], f"--config.file={folder / 'prometheus.yml'}",
               f"--storage.tsdb.path={folder / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}",
               "--storage.tsdb.retention.time=1d", "--web.enable-lifecycle"]
    proc = processes.spawn(command, dict(environ), folder, log)
    service = Service(proc.pid, port)
    _wait(lambda: _get(f"{service.url}/-/ready") is not None, proc.pid, "Prometheus", log)
    return service


def write_targets(folder: Path, releases: Mapping[str, int]) -> None:
    """Atomically: Prometheus watches the file and must never read half of it."""
    temporary = folder / ".targets.json.tmp"
    temporary.write_text(render.targets(releases), encoding="utf-8")
    os.replace(temporary, folder / "targets.json")


# ---------------------------------------------------------------- nginx
def _validate(nginx: str, folder: Path, conf: Path) -> None:
    """`nginx -t`: a configuration that fails is never loaded, and the running one keeps serving."""
    (folder / "tmp").mkdir(exist_ok=True)
    proc = subprocess.run([nginx, "-t", "-q", "-p", str(folder), "-c", str(conf), "-e", str(folder / "nginx-error.log")],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise StackError(f"nginx -t rejected {conf}; the running proxy is unchanged:\n{proc.stderr.strip()}")


def accepting_workers(master: int) -> int | None:
    """nginx workers of `master` that still accept connections; None without /proc.

    After a reload an old worker keeps accepting on the shared listening socket until it has
    read the master's shutdown message; then it closes its listeners and retitles itself
    "worker process is shutting down". Until then, a new request may still get the old weights.
    """
    if not Path("/proc").is_dir():
        return None
    count = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == master and fields[0] != "Z":
            title = processes.command_line(int(stat.parent.name)) or ""
            count += "worker process" in title and "shutting down" not in title
    return count


def serving_generation(proxy: Service) -> str | None:
    text = _get(f"{proxy.url}/_generation")
    return text.strip() if text else None


def apply_proxy(folder: Path, nginx: str, proxy: Service | None, text: str, environ: Mapping[str, str]) -> Service:
    """Validate `text`, then start nginx with it or reload the running one; returns when it serves it."""
    folder.mkdir(parents=True, exist_ok=True)
    candidate = folder / "nginx.conf.next"
    candidate.write_text(text, encoding="utf-8")
    _validate(nginx, folder, candidate)
    os.replace(candidate, folder / "nginx.conf")
    wanted = render.generation_of(text)
    log = folder / "logs" / "nginx.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    if running(proxy):
        assert proxy is not None
        os.kill(proxy.pid, signal.SIGHUP)  # graceful: new workers, old ones finish their requests
    else:
        port = int(text.split("listen 127.0.0.1:", 1)[1].split(";", 1)[0])
        proc = processes.spawn([nginx, "-p", str(folder), "-c", str(folder / "nginx.conf"),
                                "-e", str(folder / "nginx-error.log")], dict(environ), folder, log)
        proxy = Service(proc.pid, port)
    # Converged: the new file answers, and only the new worker accepts (render.py: worker_processes 1).
    _wait(lambda: serving_generation(proxy) == wanted and accepting_workers(proxy.pid) in (1, None), proxy.pid,
          f"nginx (generation {wanted})", folder / "nginx-error.log")
    return proxy


def stop_service(service: Service | None) -> None:
    if running(service):
        assert service is not None
        processes.stop(service.pid)
