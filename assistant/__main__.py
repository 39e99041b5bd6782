"""`python -m assistant ask "question"` and `python -m assistant evaluate --out DIR`."""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

# Before dspy (and so litellm) is imported: no price-list download, no MLflow telemetry.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m assistant", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root (default: .)")
    commands = parser.add_subparsers(dest="command", required=True)
    ask = commands.add_parser("ask", help="answer a question about the documentation")
    ask.add_argument("question")
    ask.add_argument("--role", default="researcher")
    evaluate = commands.add_parser("evaluate", help="optimize, evaluate and write the dashboard")
    evaluate.add_argument("--out", type=Path, default=Path(".gitops/assistant"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    args = _parser().parse_args(argv)
    from assistant.app import Assistant  # imported late: `--help` should not wait for dspy

    assistant = Assistant.from_repo(args.root.resolve())
    if args.command == "ask":
        answer = assistant.ask(args.question, role=args.role)
        print(answer.answer)
        print(f"(sources: {', '.join(answer.sources) or 'none'}; role: {answer.role}; LM: {answer.lm})")
        return 0
    from assistant.dashboard import write_dashboard
    from assistant.devset import load_devset
    from assistant.optimization import run_optimization

    result = run_optimization(assistant.program, load_devset(), switcher=assistant.switcher)
    files = write_dashboard([result.baseline, result.optimized], args.out)
    print(files.markdown.read_text(encoding="utf-8"))
    print(f"wrote {files.markdown} and {files.chart}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
