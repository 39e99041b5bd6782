"""Which paths task code may name: a hand-over's work and history write only plain files inside the repository."""
from __future__ import annotations

from pathlib import PurePosixPath


def safe_path(name: str) -> bool:
    """A relative path inside the repository, outside .git and the engine's .gitops/, in git's own form."""
    if not name or "\\" in name or any(ord(char) < 32 or ord(char) == 127 for char in name):
        return False
    parts = PurePosixPath(name).parts
    return (not name.startswith("/") and "/".join(parts) == name
            and not any(part in ("", ".", "..") or part.lower() == ".git" for part in parts)
            and parts[0] != ".gitops")
