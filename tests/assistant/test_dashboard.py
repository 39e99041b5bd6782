"""The metrics dashboard writes a Markdown table and a valid PNG chart."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from assistant.dashboard import GENERATED_BY, render_markdown, write_dashboard
from assistant.evaluation import EvaluationReport, ExampleResult
from assistant.optimization import OptimizationResult

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _report(program: str, f1: float, em: float) -> EvaluationReport:
    example = ExampleResult("q", "a", "a", {"answer_f1": f1 / 100, "exact_match": em / 100})
    return EvaluationReport(
        program,
        "offline DummyLM (deterministic extractive)",
        {"answer_f1": f1, "exact_match": em},
        (example,),
    )


def test_markdown_table_has_one_row_per_report() -> None:
    text = render_markdown(
        [_report("zero-shot", 41.81, 0.0), _report("compiled", 51.94, 11.11)], "chart.png"
    )
    assert text.splitlines()[4:8] == [
        "| Program | LM | N | answer_f1 | exact_match |",
        "|---|---|---:|---:|---:|",
        "| zero-shot | offline DummyLM (deterministic extractive) | 1 | 41.8 | 0.0 |",
        "| compiled | offline DummyLM (deterministic extractive) | 1 | 51.9 | 11.1 |",
    ]
    assert GENERATED_BY in text
    assert text.endswith("![Scores by program](chart.png)\n")


def test_a_metric_missing_from_a_report_shows_as_n_a() -> None:
    partial = EvaluationReport("p", "lm", {"answer_f1": 50.0}, ())
    text = render_markdown([_report("full", 10.0, 5.0), partial])
    assert "| p | lm | 0 | 50.0 | n/a |" in text


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_write_dashboard_from_a_real_optimization_run(
    optimization: OptimizationResult, tmp_path: Path
) -> None:
    files = write_dashboard([optimization.baseline, optimization.optimized], tmp_path / "out")
    assert files.markdown == tmp_path / "out" / "dashboard.md"
    text = files.markdown.read_text(encoding="utf-8")
    assert "| DocsQA (zero-shot) | offline DummyLM (deterministic extractive) |" in text
    assert "| DocsQA (BootstrapFewShot) | offline DummyLM (deterministic extractive) |" in text
    assert _png_size(files.chart) == (700, 400)
    assert files.chart.stat().st_size > 5_000  # bars, labels and a legend, not an empty canvas


def test_an_empty_dashboard_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no evaluation reports"):
        write_dashboard([], tmp_path)
