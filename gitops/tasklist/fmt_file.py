"""`gitops fmt` on a file: read, format, show the diff, and write it back atomically."""
from __future__ import annotations

import difflib
import os
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from gitops.errors import TaskListError
from gitops.tasklist.fmt import format_text
from gitops.tasklist.parser import read_source


@dataclass(frozen=True)
class Rewrite:
    path: Path
    data: bytes  # the file as read: written over only while it is still this
    before: str
    after: str
    kept: tuple[str, ...]  # tasks kept as written (fmt.Formatted.kept)

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        """A unified diff from the file to its formatted text (empty when unchanged)."""
        name = str(self.path)
        return "".join(difflib.unified_diff(self.before.splitlines(True), self.after.splitlines(True),
                                            name, f"{name} (gitops fmt)"))


def rewrite(path: Path) -> Rewrite:
    """The file and its formatted text; raises TaskListError (file:line and the fix) when it
    cannot be read or formatted."""
    data, text = read_source(path)
    formatted = format_text(text, str(path))
    return Rewrite(path, data, text, formatted.text, formatted.kept)


def write(change: Rewrite) -> None:
    """Replace the file with its formatted text: a temporary file in the same folder, renamed over
    it (never half written), with the file's permissions; refused when the file is a link or
    changed since it was read."""
    path = change.path
    if path.is_symlink():
        raise TaskListError(f"{path}: is a symbolic link; run gitops fmt on the file it points to "
                            f"({os.path.realpath(path)})")
    if read_source(path)[0] != change.data:
        raise TaskListError(f"{path}: changed while it was being formatted; run gitops fmt again")
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(change.after.encode("utf-8", "surrogatepass"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, path.stat().st_mode & 0o7777)
        os.replace(temp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp)
        raise
