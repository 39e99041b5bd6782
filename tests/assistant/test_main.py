"""`python -m assistant` commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.__main__ import main


def test_ask_prints_the_answer_and_its_provenance(
    tiny_repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITOPS_LM", raising=False)
    assert (
        main(["--root", str(tiny_repo), "ask", "What keeps slugs away?", "--role", "reviewer"]) == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "Copper tape keeps slugs away.",
        "(sources: docs/pests.md; role: reviewer; LM: offline DummyLM (deterministic extractive))",
    ]


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["frobnicate"])
    assert exited.value.code == 2
