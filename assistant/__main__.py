"""`python -m assistant ask "question"` and `python -m assistant evaluate --out DIR`."""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.memory_rehydrator import MemoryRehydrator

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

    root = args.root.resolve()
    if args.command == "ask":
        from assistant.memory_postgres import MemoryServerError

        try:
            memory = open_memory(root, os.environ)
        except MemoryServerError as error:
            print(f"python -m assistant: {error}", file=sys.stderr)
            return 1
        with memory:
            answer = Assistant.from_repo(root, memory=memory).ask(args.question, role=args.role)
        print(answer.answer)
        print(f"(sources: {', '.join(answer.sources) or 'none'}; role: {answer.role}; LM: {answer.lm})")
        print(f"(memory: {memory_label(memory, root)})")
        return 0
    assistant = Assistant.from_repo(root)
    from assistant.dashboard import write_dashboard
    from assistant.devset import load_devset
    from assistant.optimization import run_optimization

    result = run_optimization(assistant.program, load_devset(), switcher=assistant.switcher)
    files = write_dashboard([result.baseline, result.optimized], args.out)
    print(files.markdown.read_text(encoding="utf-8"))
    print(f"wrote {files.markdown} and {files.chart}")
    return 0


def open_memory(root: Path, environ: Mapping[str, str]) -> MemoryRehydrator:
    """The assistant's memory under `.gitops/assistant/`: long-term in PostgreSQL when DATABASE_URL
    is set or the project's server runs (scripts/postgres start), else SQLite only."""
    from assistant.memory_postgres import database_url
    from assistant.memory_rehydrator import MemoryRehydrator

    folder = root / ".gitops" / "assistant"
    folder.mkdir(parents=True, exist_ok=True)
    return MemoryRehydrator(folder / "memory.db", database_url=database_url(environ, root))


def memory_label(memory: MemoryRehydrator, root: Path) -> str:
    """Which stores the memory uses, for the user: the SQLite-only mode says how to get PostgreSQL."""
    path = Path(memory.path).relative_to(root)
    if memory.database_url:
        return f"short-term in SQLite {path}, long-term in {memory.long_term_store}"
    return (f"SQLite only, {path} (no DATABASE_URL and the project's PostgreSQL server is not running: "
            f"`scripts/postgres start` for long-term memory in PostgreSQL)")


if __name__ == "__main__":
    sys.exit(main())
