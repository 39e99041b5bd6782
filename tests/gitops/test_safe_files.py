"""gitops/safe_files.py: reads take regular files only, writes follow no link."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitops.errors import BadInput
from gitops.safe_files import MIB, NotRegular, read_regular, write_below


def test_read_regular_reads_a_file_and_refuses_the_rest(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_bytes(b"# A\n")
    assert read_regular(tmp_path / "a.md", MIB) == b"# A\n"
    os.mkfifo(tmp_path / "pipe")
    for path, what in ((tmp_path / "pipe", "is a FIFO (named pipe), not a regular file"),
                       (Path("/dev/zero"), "is a character device, not a regular file"),
                       (tmp_path, "is a directory, not a regular file")):
        with pytest.raises(NotRegular) as caught:
            read_regular(path, MIB)
        assert str(caught.value) == f"{path}: {what}"
    with pytest.raises(FileNotFoundError):
        read_regular(tmp_path / "missing.md", MIB)


def test_write_below_makes_its_folders_and_follows_no_link(tmp_path: Path) -> None:
    log = tmp_path / ".gitops" / "logs" / "task-1.1-attempt-1.log"
    write_below(log, b"first\n", 2, "the task's log")
    write_below(log, b"2\n", 2, "the task's log")  # truncates what was there
    assert log.read_bytes() == b"2\n"
    outside = tmp_path / "outside"
    outside.write_text("keep\n")
    log.unlink()
    log.symlink_to(outside)
    with pytest.raises(BadInput) as caught:
        write_below(log, b"x", 2, "the task's log")
    assert str(caught.value) == (
        f"{log}: is a symbolic link (to {outside}); gitops writes the task's log there and never through a link. "
        f"Remove the link (rm {log}; git rm --cached {log} if it is committed) and try again."
    )
    assert outside.read_text() == "keep\n"
