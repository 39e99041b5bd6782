"""A handler that attaches files, good and bad, for test_artifacts.py (importable by a handler process)."""
from __future__ import annotations

import os
from pathlib import Path

from gitops.handlers import Check, Handler, TaskContext

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


def _attach(ctx: TaskContext) -> None:
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    (ctx.workdir / "latency.png").write_bytes(PNG)
    ctx.attach(ctx.workdir / "latency.png")
    (ctx.root / "notes.txt").write_text("named relative to the repository\n")
    ctx.attach("notes.txt")
    os.symlink("/etc/passwd", ctx.workdir / "passwd.png")
    ctx.attach(ctx.workdir / "passwd.png")  # a link out of the repository
    ctx.attach("/etc/hostname")
    os.mkfifo(ctx.workdir / "pipe")
    ctx.attach(ctx.workdir / "pipe")
    ctx.attach(ctx.workdir / "never-written.png")
    ctx.attach(Path("..") / "outside.txt")


ATTACHES = Handler(action=_attach, checks={"criterion 1": lambda ctx: Check.passed("plotted", plots=1)})
