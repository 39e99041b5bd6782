"""Writing a file atomically and durably: a temp file beside it, fsynced, renamed over it, the
folder fsynced; and the temp files a killed write left, removed once they are old."""
from __future__ import annotations

import os
import stat
import tempfile
import time
from contextlib import suppress
from pathlib import Path

# A temp file this old is left by a killed write: a live write takes milliseconds.
STALE_TEMP_SECONDS = 600.0


def _umask() -> int:
    # os.umask() can only be read by setting it, which races with other threads; Linux shows it.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def _mode_for(path: Path) -> int:
    """Keep an existing file's permissions; mkstemp alone would make every state.json 0600."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


def write_atomically(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, _mode_for(path))
        os.replace(temp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp)
        raise
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable after a crash (POSIX only; Windows cannot open directories).
    if os.name != "posix":
        return
    with suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_stale_temps(path: Path, older_than: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Delete the temp files (`.state.json.*.tmp`) that killed writes left; return them.

    Only old ones: a writer that does not hold the lock (git_store saves its local copy) may
    be between its temp file and the rename right now.
    """
    removed = []
    now = time.time()
    for temp in Path(path).parent.glob(f".{Path(path).name}.*.tmp"):
        try:
            info = os.lstat(temp)
            if stat.S_ISDIR(info.st_mode) or now - info.st_mtime < older_than:
                continue
            os.unlink(temp)  # a link is removed itself, never what it points to
        except OSError:
            continue
        removed.append(temp)
    return removed
