"""Background processes that outlive a command: start one in its own group, tell whether it
is alive, stop it and everything it started.

A zombie (exited, not yet reaped) still holds its pid, so `alive` reads its state from /proc;
processes started here are reaped here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Mapping, Sequence

_children: dict[int, subprocess.Popen] = {}  # started by this process: reaped by `stop`


def spawn(command: Sequence[str], env: Mapping[str, str], cwd: Path, log: Path) -> subprocess.Popen:
    """Start a command in a new session (its own process group), output appended to `log`."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            list(command),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _children[proc.pid] = proc
    return proc


def alive(pid: int) -> bool:
    """Running and not a zombie."""
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not Path("/proc").is_dir():  # no way to see zombies here (macOS): trust kill(0)
        return True
    return _state(Path(f"/proc/{pid}/stat")) not in ("Z", None)


def command_line(pid: int) -> str | None:
    """The process's command line (None when unknown: no /proc, or gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None


def incarnation(pid: int) -> str | None:
    """What tells this process from a later one given the same pid: the boot id and the process's
    start time (clock ticks after boot, /proc/<pid>/stat field 22). None without /proc or when gone."""
    fields = _fields(Path(f"/proc/{pid}/stat"))
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None
    return f"{boot}/{fields[19]}" if fields and len(fields) > 19 else None


def group_alive(pgid: int) -> bool:
    """A live (non-zombie) process is left in the group."""
    if not Path("/proc").is_dir():
        try:
            os.killpg(pgid, 0)
            return True
        except ProcessLookupError:
            return False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _fields(stat)
        if fields and int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def stop(pid: int, timeout: float = 20.0) -> None:
    """SIGTERM the process (its whole group if it leads one), SIGKILL after `timeout`, then reap it."""
    try:
        group = pid if os.getpgid(pid) == pid else None
    except ProcessLookupError:
        group = None

    def running() -> bool:
        return alive(pid) or bool(group and group_alive(group))

    _send(pid, group, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while running() and time.monotonic() < deadline:
        time.sleep(0.1)
    if running():
        _send(pid, group, signal.SIGKILL)
    child = _children.pop(pid, None)
    if child is not None:
        child.wait(timeout=5)


def _send(pid: int, group: int | None, sig: signal.Signals) -> None:
    try:
        if group:
            os.killpg(group, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _fields(stat: Path) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first), None if gone."""
    try:
        return stat.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _state(stat: Path) -> str | None:
    fields = _fields(stat)
    return fields[0] if fields else None
