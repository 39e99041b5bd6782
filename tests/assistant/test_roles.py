"""Role prompts: defaults, immutable updates, JSON persistence."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.roles import DEFAULT_PROMPTS, RolePrompt, RoleRegistry


def test_defaults_cover_the_builtin_roles_at_version_one() -> None:
    registry = RoleRegistry.defaults()
    assert registry.roles() == ["coder", "planner", "researcher", "reviewer"]
    assert all(registry.get(role).version == 1 for role in DEFAULT_PROMPTS)
    assert all(role in registry.get(role).prompt for role in DEFAULT_PROMPTS)


def test_unknown_role_names_the_known_ones() -> None:
    with pytest.raises(
        KeyError, match="unknown role 'poet'; known roles: coder, planner, researcher, reviewer"
    ):
        RoleRegistry.defaults().get("poet")


def test_with_prompt_returns_a_new_registry() -> None:
    registry = RoleRegistry.defaults()
    updated = registry.with_prompt(registry.get("coder").revised("You are the coder. Be brief."))
    assert updated.get("coder").version == 2
    assert registry.get("coder").version == 1


def test_revised_with_the_same_text_is_unchanged() -> None:
    prompt = RolePrompt("coder", "text")
    assert prompt.revised("text") is prompt


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "roles" / "roles.json"
    registry = RoleRegistry.defaults().with_prompt(RolePrompt("coder", "You are the coder.", 3))
    registry.save(path)
    assert RoleRegistry.load(path) == registry
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n") and text == registry.to_json()
    assert list(path.parent.iterdir()) == [path]  # no temp file left behind


def test_save_does_not_rewrite_an_unchanged_file(tmp_path: Path) -> None:
    path = tmp_path / "roles.json"
    RoleRegistry.defaults().save(path)
    before = path.stat().st_ino, path.stat().st_mtime_ns
    RoleRegistry.defaults().save(path)
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == before


def test_load_missing_file_gives_defaults(tmp_path: Path) -> None:
    assert RoleRegistry.load(tmp_path / "none.json") == RoleRegistry.defaults()


def test_load_corrupt_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "roles.json"
    path.write_text('{"roles": {"coder": {}}}', encoding="utf-8")
    with pytest.raises(
        ValueError, match=f"{path}: not a role registry .*; delete it to start over"
    ):
        RoleRegistry.load(path)
