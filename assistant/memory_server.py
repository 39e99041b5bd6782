"""The project's own PostgreSQL server for long-term memory: `scripts/postgres start|stop|status|url`.

A throwaway cluster under `.gitops/postgres/` (data in `data/`, its port in `port`), listening
on 127.0.0.1 only, on a port that was free when it was first started (engineers and CI jobs on
one machine each get their own), with no Unix socket and `trust` auth for the one local user.
It uses Debian's `postgresql` package and installs it (as root, with apt-get) when missing.
The server refuses to run as root, so as root the cluster belongs to the `postgres` user the
package creates. Standard library only: the script runs before any venv exists.

`DATABASE_URL` points the assistant at any other server instead (see `memory_postgres.py`).
"""
from __future__ import annotations

import argparse
import fcntl
import glob
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

USER = "gitops"  # the cluster's superuser (initdb --username)
DATABASE = "assistant"
APT = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q", "postgresql"]
START_TIMEOUT = 60  # seconds pg_ctl waits for the server to accept connections


class ServerError(RuntimeError):
    """The server could not be installed, started or stopped; the message says what to do."""


def home(root: Path) -> Path:
    return root / ".gitops" / "postgres"


def cluster(root: Path) -> Path:
    """The folder of the cluster's data/ and server.log: home(root), or where `cluster` there points.

    As root, the cluster belongs to the `postgres` user, who cannot reach a clone under a
    private folder (/root is 0700); the cluster then lives under the postgres user's home.
    """
    pointer = home(root) / "cluster"
    return Path(pointer.read_text().strip()) if pointer.exists() else home(root)


def _choose_cluster(root: Path) -> Path:
    folder = home(root)
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or (folder / "cluster").exists():
        return cluster(root)
    owner = pwd.getpwnam("postgres")
    os.chown(folder, owner.pw_uid, owner.pw_gid)
    if subprocess.run(_as_owner(["test", "-w", str(folder)])).returncode == 0:
        return folder
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    elsewhere = Path(owner.pw_dir) / f"gitops-{digest}"
    subprocess.run(_as_owner(["mkdir", "-p", str(elsewhere)]), check=True)
    (folder / "cluster").write_text(f"{elsewhere}\n")
    return elsewhere


def binaries() -> Path | None:
    """The newest installed PostgreSQL's bin/ (Debian keeps them under /usr/lib/postgresql/N/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parent.parent.name))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("postgres")
    return Path(on_path).parent if on_path else None


def install() -> Path:
    """The server's bin/, installing Debian's `postgresql` package first when it is missing."""
    found = binaries()
    if found:
        return found
    if os.geteuid() != 0:
        raise ServerError("PostgreSQL is not installed and this is not root: run `sudo apt-get install -y postgresql`, "
                          "or set DATABASE_URL to a running server")
    print("postgres: installing Debian's postgresql package", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(APT, env=env, capture_output=True, text=True)
    if done.returncode != 0:  # a stale package list: refresh it once
        subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "update", "-q"], env=env, capture_output=True)
        done = subprocess.run(APT, env=env, capture_output=True, text=True)
    found = binaries()
    if done.returncode != 0 or not found:
        raise ServerError(f"installing postgresql failed (apt-get exit {done.returncode}):\n{done.stderr[-1500:]}")
    return found


def _as_owner(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root (they would own the data as root).
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_of(root: Path) -> int | None:
    try:
        return int((home(root) / "port").read_text().strip())
    except (OSError, ValueError):
        return None


def url(root: Path) -> str | None:
    """The embedded server's DATABASE_URL when it is running, else None."""
    port = port_of(root)
    return f"postgresql://{USER}@127.0.0.1:{port}/{DATABASE}" if port and running(root) else None


def running(root: Path) -> bool:
    """Whether the cluster's postmaster is alive (its pid file names a live process)."""
    pid_file = cluster(root) / "data" / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by the postgres user
        return True
    return True


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise ServerError(f"{what} failed (exit {done.returncode}): {(done.stdout + done.stderr).strip()[-1500:]}")


def start(root: Path) -> str:
    """Start the embedded server (init it first if new); returns its DATABASE_URL. Idempotent, and
    safe when several processes start it at once (two test sessions of Task 2.1 do): one inits
    and starts it under a lock, the others find it running."""
    found = url(root)
    if found:
        return found
    home(root).mkdir(parents=True, exist_ok=True)
    with _locked(home(root) / "start.lock", fcntl.LOCK_EX):
        return url(root) or _start(root)


@contextmanager
def _locked(path: Path, how: int) -> Iterator[bool]:
    """An flock on `path` for the block; yields False when LOCK_NB was asked and it is held."""
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, how)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _start(root: Path) -> str:
    bin_dir = install()
    folder = _choose_cluster(root)
    data = folder / "data"
    if not (data / "PG_VERSION").exists():
        _run(_as_owner([str(bin_dir / "initdb"), "-D", str(data), f"--username={USER}", "--auth=trust",
                        "--encoding=UTF8", "--locale=C.UTF-8"]), "initdb")
    port = port_of(root)
    if port is None or not _port_free(port):
        port = free_port()
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='' -c fsync=off"
    log = folder / "server.log"
    _run(_as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w",
                    "-t", str(START_TIMEOUT), "start"]), f"pg_ctl start (log: {log})")
    (home(root) / "port").write_text(f"{port}\n")
    _create_database(bin_dir, port)
    return f"postgresql://{USER}@127.0.0.1:{port}/{DATABASE}"


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        # As the server binds (SO_REUSEADDR): connections of its last run in TIME_WAIT do not
        # keep it from its own port after a restart.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _create_database(bin_dir: Path, port: int) -> None:
    psql = [str(bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, "-d", "postgres", "-tAc"]
    exists = subprocess.run([*psql, f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"],
                            capture_output=True, text=True)
    if exists.stdout.strip() != "1":
        _run([*psql, f"CREATE DATABASE {DATABASE}"], f"creating database {DATABASE}")


def stop(root: Path) -> bool:
    """Stop the embedded server (fast shutdown); whether it was running."""
    if not running(root):
        return False
    bin_dir = binaries()
    if bin_dir is None:
        raise ServerError(f"the server runs but its pg_ctl is gone: stop it by its pid in {cluster(root) / 'data' / 'postmaster.pid'}")
    _run(_as_owner([str(bin_dir / "pg_ctl"), "-D", str(cluster(root) / "data"), "-m", "fast", "-w", "stop"]), "pg_ctl stop")
    return True


@contextmanager
def serving(root: Path, environ: Mapping[str, str] = os.environ) -> Iterator[str]:
    """DATABASE_URL if set; else the project's server, started for the block and stopped after
    it unless it was running before (so a developer's server outlives the tests that use it)."""
    if environ.get("DATABASE_URL"):
        yield environ["DATABASE_URL"]
        return
    folder = home(root)
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / "started-for-a-block"  # a block started it: the last block to end stops it
    # Every block holds a shared lock while it uses the server, so that one ending does not stop
    # it under another (Task 2.1 runs two test sessions at once).
    with _locked(folder / "users.lock", fcntl.LOCK_SH):
        with _locked(folder / "start.lock", fcntl.LOCK_EX):
            if not running(root):
                marker.write_text(f"{os.getpid()}\n")
            found = url(root) or _start(root)
        yield found
    with _locked(folder / "users.lock", fcntl.LOCK_EX | fcntl.LOCK_NB) as alone:
        if alone and marker.exists():  # the last user, of a server a block started: a developer's stays
            stop(root)
            marker.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/postgres", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("start", "stop", "status", "url"))
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root (default: .)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        if args.command == "start":
            print(start(root))
        elif args.command == "stop":
            print("stopped" if stop(root) else "not running")
        else:
            found = url(root)
            if args.command == "url" and found:
                print(found)
            elif args.command == "status":
                print(f"running: {found} (data: {cluster(root) / 'data'})" if found else "not running")
            return 0 if found else 3  # 3: "not running", as pg_ctl status says
    except ServerError as error:
        print(f"postgres: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
