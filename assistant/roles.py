"""Role prompts: who the assistant is asked to be, versioned and saved as JSON."""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

DEFAULT_ROLE = "researcher"
DEFAULT_PROMPTS: Mapping[str, str] = {
    "planner": "You are the planner. Break the request into ordered tasks, each with its "
    "dependencies and a check that shows it is done.",
    "researcher": "You are the researcher. Answer from the repository's documentation and "
    "say which document the answer comes from.",
    "coder": "You are the coder. Propose the smallest change that does the task and name "
    "the file it belongs in.",
    "reviewer": "You are the reviewer. Check the answer against the documentation and point "
    "out every claim it does not support.",
}


@dataclass(frozen=True)
class RolePrompt:
    """The system prompt of one role; `version` counts accepted rewrites from 1."""

    role: str
    prompt: str
    version: int = 1

    def revised(self, prompt: str) -> RolePrompt:
        """This role with `prompt`, one version later; itself if the text did not change."""
        return self if prompt == self.prompt else replace(self, prompt=prompt, version=self.version + 1)


class RoleRegistry:
    """An immutable set of role prompts; updates return a new registry."""

    def __init__(self, prompts: Mapping[str, RolePrompt]) -> None:
        self._prompts = dict(prompts)

    @classmethod
    def defaults(cls) -> RoleRegistry:
        """The built-in roles at version 1."""
        return cls({role: RolePrompt(role, text) for role, text in DEFAULT_PROMPTS.items()})

    def roles(self) -> list[str]:
        """Role names, sorted."""
        return sorted(self._prompts)

    def get(self, role: str) -> RolePrompt:
        """The prompt of `role` (KeyError naming the known roles if there is none)."""
        try:
            return self._prompts[role]
        except KeyError:
            raise KeyError(f"unknown role {role!r}; known roles: {', '.join(self.roles())}") from None

    def with_prompt(self, prompt: RolePrompt) -> RoleRegistry:
        """A registry where `prompt.role` has `prompt`."""
        return RoleRegistry({**self._prompts, prompt.role: prompt})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RoleRegistry) and self._prompts == other._prompts

    def to_json(self) -> str:
        """Deterministic JSON: keys sorted, 2-space indent, trailing newline."""
        data = {r: {"prompt": p.prompt, "version": p.version} for r, p in self._prompts.items()}
        return json.dumps({"roles": data}, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RoleRegistry:
        """Parse `to_json` output."""
        roles = json.loads(text)["roles"]
        return cls({r: RolePrompt(r, v["prompt"], int(v["version"])) for r, v in roles.items()})

    def save(self, path: Path) -> None:
        """Write atomically (temp file + os.replace), and only when the content changed."""
        text = self.to_json()
        if path.exists() and path.read_text(encoding="utf-8") == text:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> RoleRegistry:
        """Read a registry saved with `save`; the defaults when the file does not exist."""
        if not path.exists():
            return cls.defaults()
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}: not a role registry ({error}); delete it to start over") from error
