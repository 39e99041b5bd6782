"""Where things are: `[tool.gitops]` in pyproject.toml, overridden by command-line options."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from gitops.errors import BadInput

DEFAULTS = {"tasklist": "migration/B-1006.md", "state": "state.json", "handlers": None}


@dataclass(frozen=True)
class Config:
    root: Path  # the folder of the pyproject.toml that configures gitops (else the cwd)
    tasklist: Path
    state: Path
    handlers: str | None  # registry module; applies only to the configured task list
    forge: str  # "local" or "github"

    @property
    def work_dir(self) -> Path:
        """`.gitops/` beside state.json: forge files, logs, task work folders (git-ignored)."""
        return self.state.parent / ".gitops"


def find_project(start: Path) -> tuple[Path, dict]:
    """The nearest pyproject.toml with a [tool.gitops] table, and that table."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                data = tomllib.loads(candidate.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise BadInput(f"{candidate}: cannot be read as TOML ({exc}). Fix the file.") from exc
            table = data.get("tool", {}).get("gitops")
            if isinstance(table, dict):
                return folder, table
    return start, {}


def load_config(
    cwd: Path,
    environ: Mapping[str, str],
    tasklist: str | None = None,
    state: str | None = None,
    forge: str | None = None,
) -> Config:
    """Resolve the options against the project's defaults; relative paths are from the cwd."""
    root, table = find_project(cwd.resolve())
    settings = {**DEFAULTS, **table}
    configured = (root / settings["tasklist"]).resolve()
    chosen = (cwd / tasklist).resolve() if tasklist else configured
    given = cwd / state if state else root / settings["state"]
    state_path = given.resolve()
    _refuse_escaping_link(given, state_path, root)
    handlers = settings.get("handlers") if chosen == configured else None
    return Config(root, chosen, state_path, handlers, forge or default_forge(environ))


def _refuse_escaping_link(given: Path, resolved: Path, root: Path) -> None:
    """A state.json that is a link out of the project (dangling or not) is refused: gitops would
    write the state, and `.gitops/` beside it, wherever the link points."""
    if not given.is_symlink() or resolved.is_relative_to(root):
        return
    raise BadInput(
        f"{given}: is a symbolic link to {resolved}, outside the project ({root}); gitops writes the "
        f"state and its .gitops/ folder where the state is. Replace the link with the file itself "
        f"(or remove it to start afresh), or pass --state {resolved} to use that file on purpose."
    )


def default_forge(environ: Mapping[str, str]) -> str:
    in_actions = environ.get("GITHUB_ACTIONS") == "true" and bool(environ.get("GITHUB_TOKEN"))
    return "github" if in_actions else "local"
