"""A local MLflow tracking server with basic authentication: start, stop, status.

`scripts/mlflow-server` is its command line. One folder (default `.gitops/mlflow-server/`)
holds everything: the SQLite store, the artifacts, the auth config and user database, the
pid file, the log and `client.env` (the URI and credentials a client needs, mode 0600).
mlflow runs as a subprocess (`<venv>/bin/mlflow server`); this module never imports it.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from gitops.errors import GitopsError
from gitops.extras import install_command
from gitops.tracking import processes

HOST = "127.0.0.1"
DEFAULT_PORT = 5000
DEFAULT_DIR = Path(".gitops") / "mlflow-server"
MIN_PASSWORD = 12  # MLflow's auth store rejects shorter passwords at start-up
CREDENTIALS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
# Run by `python -c` when the auth database exists: MLflow creates the admin only once,
# so a changed MLFLOW_TRACKING_PASSWORD would otherwise be ignored on restart.
SYNC_ADMIN = """
import os, sys
from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore
store = SqlAlchemyStore(); store.init_db(sys.argv[1])
user, password = sys.argv[2], os.environ["GITOPS_ADMIN_PASSWORD"]
if store.has_user(user) and not store.authenticate_user(user, password):
    store.update_user(user, password=password)
if store.has_user(user) and not store.get_user(user).is_admin:
    store.update_user(user, is_admin=True)
"""


class ServerError(GitopsError):
    """The server could not be started or stopped; the message says why and what to do."""


@dataclass(frozen=True)
class Server:
    """A running server, as recorded in its pid file."""

    folder: Path
    pid: int
    port: int

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def healthy(url: str, timeout: float = 1.0) -> bool:
    """True when `<url>/health` answers 200 (it needs no credentials)."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def credentials(folder: Path, environ: Mapping[str, str]) -> tuple[str, str]:
    """The admin user: MLFLOW_TRACKING_USERNAME/PASSWORD, else the pair saved in client.env, else new."""
    saved = read_env_file(folder / "client.env")
    user = environ.get(CREDENTIALS[0]) or saved.get(CREDENTIALS[0]) or "admin"
    password = environ.get(CREDENTIALS[1]) or saved.get(CREDENTIALS[1]) or secrets.token_urlsafe(18)
    if len(password) < MIN_PASSWORD or password != password.strip() or "\n" in password:
        raise ServerError(
            f"{CREDENTIALS[1]} must have at least {MIN_PASSWORD} characters and no surrounding spaces "
            "(MLflow's basic auth refuses it otherwise). Set a longer one, or unset it to have one generated."
        )
    return user, password


def read_env_file(path: Path) -> dict[str, str]:
    """`KEY=value` lines of a file this module wrote (missing file: empty)."""
    if not path.is_file():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines() if "=" in line)
    return {key.removeprefix("export ").strip(): "".join(shlex.split(value)) for key, value in pairs}


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(path, 0o600)


def prepare(folder: Path, port: int, environ: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """Write the auth config and client.env; return the server command and its environment."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)  # the auth database holds password hashes
    user, password = credentials(folder, environ)
    auth_db = folder / "basic_auth.db"
    if auth_db.exists():
        _sync_admin(auth_db, user, password, environ)
    _write_private(
        folder / "basic_auth.ini",
        "\n".join(
            [
                "[mlflow]",
                "default_permission = READ",
                f"database_uri = sqlite:///{auth_db}",
                f"admin_username = {user.replace('%', '%%')}",
                f"admin_password = {password.replace('%', '%%')}",  # configparser interpolates %
                "authorization_function = mlflow.server.auth:authenticate_request_basic_auth",
                # Checking a password (PBKDF2) costs ~0.3 s of CPU per request; cache good logins. Safe
                # with one worker: a password changed over the API is evicted at once (basic_auth.ini).
                "auth_cache_ttl_seconds = 60",
                "",
            ]
        ),
    )
    key_file = folder / "secret_key"
    if not key_file.exists():  # stable across restarts: MLflow's CSRF tokens depend on it
        _write_private(key_file, secrets.token_hex(32))
    url = f"http://{HOST}:{port}"
    _write_private(
        folder / "client.env",
        "".join(
            f"export {k}={shlex.quote(v)}\n"
            for k, v in (("MLFLOW_TRACKING_URI", url), (CREDENTIALS[0], user), (CREDENTIALS[1], password))
        ),
    )
    env = {k: v for k, v in environ.items() if k not in CREDENTIALS}
    env.update(
        MLFLOW_DISABLE_TELEMETRY="true",
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",  # job workers slow start-up ~3x (FACTS.md)
        MLFLOW_AUTH_CONFIG_PATH=str(folder / "basic_auth.ini"),
        MLFLOW_FLASK_SERVER_SECRET_KEY=key_file.read_text(encoding="utf-8").strip(),
    )
    command = [
        mlflow_executable(),
        "server",
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination",
        str(folder / "artifacts"),
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        "1",
        "--app-name",
        "basic-auth",
    ]
    return command, env


def _sync_admin(auth_db: Path, user: str, password: str, environ: Mapping[str, str]) -> None:
    env = {**environ, "GITOPS_ADMIN_PASSWORD": password, "MLFLOW_DISABLE_TELEMETRY": "true"}
    done = subprocess.run(
        [sys.executable, "-c", SYNC_ADMIN, f"sqlite:///{auth_db}", user], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise ServerError(f"could not set the admin password in {auth_db}:\n{done.stderr[-2000:]}")


def mlflow_executable() -> str:
    """`mlflow` beside this interpreter (the project's venv), else on PATH."""
    beside = Path(sys.executable).with_name("mlflow")
    found = str(beside) if beside.exists() else shutil.which("mlflow")
    if not found:
        raise ServerError(f"the MLflow server needs mlflow, which is not installed here: {install_command('mlflow')} "
                          "(in this repository: scripts/bootstrap).")
    return found


def running(folder: Path) -> Server | None:
    """The server recorded in the folder's pid file, if its process is alive (stale files are removed)."""
    pid_file = folder / "server.pid"
    try:
        record = json.loads(pid_file.read_text(encoding="utf-8"))
        server = Server(folder, int(record["pid"]), int(record["port"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    command = processes.command_line(server.pid)  # None where there is no /proc
    if processes.alive(server.pid) and (command is None or "mlflow" in command or "tracking_server" in command):
        return server  # (a recycled pid running something else is not our server)
    pid_file.unlink(missing_ok=True)
    return None


def start(
    folder: Path, port: int = DEFAULT_PORT, environ: Mapping[str, str] | None = None, wait: float = 90.0
) -> Server:
    """Start the server in the background and wait until it is healthy (idempotent)."""
    folder = folder.resolve()
    current = running(folder)
    if current is not None:
        return current
    port = port or free_port()
    _check_port(port)
    command, env = prepare(folder, port, dict(os.environ if environ is None else environ))
    proc = processes.spawn(command, env, folder, folder / "server.log")
    server = Server(folder, proc.pid, port)
    (folder / "server.pid").write_text(json.dumps({"pid": proc.pid, "port": port, "url": server.url}) + "\n")
    deadline = time.monotonic() + wait
    while not healthy(server.url):
        if proc.poll() is not None or time.monotonic() > deadline:
            why = (
                f"exited with status {proc.returncode}"
                if proc.returncode is not None
                else f"not healthy after {wait:.0f} s"
            )
            processes.stop(proc.pid)
            (folder / "server.pid").unlink(missing_ok=True)
            raise ServerError(
                f"the MLflow server {why}; its log ({folder / 'server.log'}) ends with:\n{log_tail(folder)}"
            )
        time.sleep(0.2)
    return server


def foreground(folder: Path, port: int, environ: Mapping[str, str]) -> None:
    """Replace this process with the server (stops on SIGTERM or ^C)."""
    folder = folder.resolve()
    if running(folder) is not None:
        raise ServerError(
            f"a server already runs from {folder}: stop it first (scripts/mlflow-server stop --dir {folder})."
        )
    port = port or free_port()
    _check_port(port)
    command, env = prepare(folder, port, environ)
    (folder / "server.pid").write_text(
        json.dumps({"pid": os.getpid(), "port": port, "url": f"http://{HOST}:{port}"}) + "\n"
    )
    print(f"http://{HOST}:{port}", flush=True)
    os.execve(command[0], command, env)


def stop(folder: Path, timeout: float = 20.0) -> bool:
    """Stop the server and its workers (SIGTERM, then SIGKILL); False if none was running."""
    folder = folder.resolve()
    server = running(folder)
    (folder / "server.pid").unlink(missing_ok=True)
    if server is None:
        return False
    processes.stop(server.pid, timeout)
    return True


def log_tail(folder: Path, lines: int = 20) -> str:
    try:
        return "\n".join(Path(folder, "server.log").read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _check_port(port: int) -> None:
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            raise ServerError(
                f"port {port} on {HOST} is in use: pass --port with another port (0: any free port)."
            ) from None


def main(argv: list[str] | None = None) -> int:
    """`scripts/mlflow-server start|stop|status [--port N] [--dir DIR] [--foreground]`."""
    parser = argparse.ArgumentParser(prog="scripts/mlflow-server", description="A local MLflow server with basic auth.")
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port on {HOST} (default {DEFAULT_PORT}; 0: any free port)"
    )
    parser.add_argument(
        "--dir", type=Path, default=DEFAULT_DIR, help=f"data, config and pid file (default {DEFAULT_DIR})"
    )
    parser.add_argument("--foreground", action="store_true", help="start: run in this terminal until ^C or SIGTERM")
    args = parser.parse_args(argv)
    try:
        if args.command == "start" and args.foreground:
            foreground(args.dir, args.port, os.environ)
        if args.command == "start":
            server = start(args.dir, args.port)
            print(server.url)
            env_file = server.folder / "client.env"
            print(
                f"MLflow server running (pid {server.pid}, data in {server.folder}).\n"
                f"  use it:  source {env_file}   # MLFLOW_TRACKING_URI and the admin credentials\n"
                f"  stop it: scripts/mlflow-server stop --dir {args.dir}",
                file=sys.stderr,
            )
        elif args.command == "stop":
            print("stopped" if stop(args.dir) else f"not running (no live server recorded in {args.dir})")
        else:
            server = running(args.dir.resolve())
            if server is None:
                print(f"not running (no live server recorded in {args.dir})")
                return 3  # LSB: program is not running
            print(f"{server.url} (pid {server.pid}, {'healthy' if healthy(server.url) else 'not answering'})")
    except GitopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
