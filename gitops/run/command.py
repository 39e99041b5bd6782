"""A **Run** command as a process: output streamed to files, a bounded tail kept, its group ended.

Why files and not pipes: with pipes, gitops waited until every process that inherited them
closed them, so `sleep 20 & echo started` held the task for 20 s, and the whole output was kept
in memory (1.5 GB of output took gitops to ~3 GB). The command's stdout and stderr go to two
files beside the log; gitops waits for the command itself, reads the last TAIL_BYTES of each for
the evidence and the HotFix, then joins them into the log in the layout it always had.

The command runs in a new session (its own process group), so a terminal's Ctrl-C reaches gitops
only, and gitops ends the group when the command exits or gitops is interrupted: nothing the
task started outlives it.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Mapping

from gitops.tracking.processes import group_alive

TAIL_BYTES = 64 * 1024  # of each stream: enough for a 30-line tail of ordinary lines
GRACE_SECONDS = 2.0  # between SIGTERM and SIGKILL for what the command left behind


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout_tail: str  # at most the last TAIL_BYTES of stdout
    stderr_tail: str


def run_shell(command: str, cwd: Path, env: Mapping[str, str], log_path: Path) -> Ran:
    """Run `command` with the shell in `cwd`; the log gets everything. Raises OSError when it cannot
    start; an interruption (KeyboardInterrupt, or any BaseException) ends the group and propagates."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    out_path, err_path = _part(log_path, "stdout"), _part(log_path, "stderr")
    with _create(out_path) as out, _create(err_path) as err:
        proc = subprocess.Popen(
            command, shell=True, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            start_new_session=True,
        )
    ending = "# interrupted: gitops was stopped; the command's processes were ended"
    try:
        returncode = proc.wait()
        ending = f"# exit status {returncode}"
    finally:
        end_group(proc.pid)
        if proc.poll() is None:  # interrupted: the shell itself got the signal above
            proc.wait()
        ran = Ran(proc.returncode, _tail(out_path), _tail(err_path))
        _join(log_path, command, ending, out_path, err_path)
    return ran


def end_group(pgid: int, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM every process of the group, SIGKILL what is left after `grace` seconds."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return  # nothing left (the common case: the command started nothing in the background)
    deadline = time.monotonic() + grace
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _create(path: Path) -> BinaryIO:
    """A new (or emptied) file, never through a link at `path`: a link committed at a log path
    must not make gitops write elsewhere (gitops.safe_files checks the folders above it)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    return os.fdopen(fd, "wb")


def _part(log_path: Path, stream: str) -> Path:
    return log_path.with_name(f"{log_path.name}.{stream}")


def _tail(path: Path) -> str:
    """The last TAIL_BYTES of a file, decoded; the first line may be cut."""
    with path.open("rb") as stream:
        stream.seek(max(0, path.stat().st_size - TAIL_BYTES))
        return stream.read().decode("utf-8", errors="replace")


def _join(log_path: Path, command: str, ending: str, out_path: Path, err_path: Path) -> None:
    """The log as it always read: command, exit status, stdout, stderr; copied in chunks."""
    with _create(log_path) as log:
        log.write(f"$ {command}\n{ending}\n## stdout\n".encode())
        _append(log, out_path)
        log.write(b"\n## stderr\n")
        _append(log, err_path)
    out_path.unlink()
    err_path.unlink()


def _append(log: BinaryIO, part: Path) -> None:
    with part.open("rb") as source:
        shutil.copyfileobj(source, log, 1024 * 1024)
