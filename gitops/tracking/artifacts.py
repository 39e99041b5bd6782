"""Which files a handler attached may go into the task's MLflow run.

A handler is task code (untrusted, like a Run command): the paths it names are data. The tracker
copies a file into the run's artifacts, which a server may make readable to everyone with access
to the experiment, so a path is taken only when, with every link resolved, it is a regular file
inside the repository: `/etc/passwd`, `~/.ssh/id_rsa` or a link from the workdir to either are
refused, and so are a FIFO (the copy would block) and a file past the size cap. What is refused
is said, with the reason and the fix; it never fails the task.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gitops.safe_files import MIB, describe

MAX_BYTES = 50 * MIB  # a plot or a report is kilobytes; a run's artifacts are not a file store
FOLDER = "artifacts"  # where they go in the run, apart from gitops' own report.md and checks.json


@dataclass(frozen=True)
class Vetted:
    """The files to log (resolved paths) and, per path refused as the handler named it, why."""

    accepted: tuple[Path, ...]
    refused: dict[str, str]


def vet(paths: Iterable[str], root: Path) -> Vetted:
    """Resolve each path (relative ones against `root`) and keep the regular files inside `root`."""
    top = Path(os.path.realpath(root))
    accepted: dict[str, Path] = {}
    refused: dict[str, str] = {}
    for named in paths:
        said = _refusal(named, top, accepted)
        if said is None:
            real = Path(os.path.realpath(top / named))
            accepted[real.name] = real
        else:
            refused[named] = said
    return Vetted(tuple(accepted.values()), refused)


def _refusal(named: str, top: Path, accepted: dict[str, Path]) -> str | None:
    real = Path(os.path.realpath(top / named))
    if not real.is_relative_to(top):
        return (f"resolves to {real}, outside the repository {top}; attach files the task wrote under it "
                "(its workdir), never a link out of it")
    try:
        info = os.stat(real)
    except OSError as exc:
        return f"cannot be read ({exc.strerror}); attach a file after writing it"
    if not stat.S_ISREG(info.st_mode):
        return f"is {describe(info.st_mode)}, not a regular file; attach files only"
    if info.st_size > MAX_BYTES:
        return (f"is {info.st_size} bytes, more than the {MAX_BYTES // MIB} MiB an artifact may be; "
                "attach a smaller file")
    if real.name in accepted and accepted[real.name] != real:
        return f"has the name of {accepted[real.name]}, attached before it; give the files different names"
    return None
