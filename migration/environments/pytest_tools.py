"""Run pytest inside an environment of Task 1.1 without changing it, and summarise the run.

The environments hold the project's runtime dependencies only, and `uv pip sync` (Task 1.1)
removes anything else it finds: installing pytest into them would make the next
verification uninstall it again. So the test tools go into a folder beside them,
`.venvs/.test-tools/<name>`, installed by `uv pip install --target` with the environment's
own lock and pins as constraints (shared dependencies such as `packaging` get the very
versions the environment has), and reach the interpreter through PYTHONPATH.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any, Mapping, Sequence

from migration.environments.environment import LEAKY_ENV, Environment, SetupError, uv_command

TOOLS = ("pytest", "pytest-benchmark", "hypothesis")
STAMP = "gitops-test-tools.txt"


def tools_dir(env: Environment) -> Path:
    """Where the test tools of `env` live."""
    return env.root / ".venvs" / ".test-tools" / env.name


def tools_key(env: Environment) -> str:
    """What the tools folder was built against: the tool names, the environment's lock and pins."""
    blob = b"\0".join([" ".join(TOOLS).encode(), env.lock.read_bytes(), (env.path / "constraints.txt").read_bytes()])
    return hashlib.sha256(blob).hexdigest()


def ensure_test_tools(env: Environment) -> Path:
    """Install TOOLS for `env` unless its tools folder already matches; return the folder."""
    folder, key = tools_dir(env), tools_key(env)
    if (folder / STAMP).exists() and (folder / STAMP).read_text(encoding="utf-8") == key:
        return folder
    scratch = folder.with_name(f".{env.name}.{os.getpid()}.tmp")
    shutil.rmtree(scratch, ignore_errors=True)
    command = [*uv_command(env.environ), "pip", "install", "--quiet", "--python", str(env.python), "--target", str(scratch),
               "--compile-bytecode", "-c", str(env.lock), "-c", str(env.path / "constraints.txt"), *TOOLS]
    environ = {k: v for k, v in env.environ.items() if k not in LEAKY_ENV} | {"UV_NO_PROGRESS": "1"}
    proc = subprocess.run(command, env=environ, capture_output=True, text=True, errors="replace")
    if proc.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        raise SetupError(f"`{' '.join(command)}` exited {proc.returncode}:\n{(proc.stderr or proc.stdout)[-3000:]}")
    (scratch / STAMP).write_text(key, encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(scratch, folder)
    return folder


def run_pytest(env: Environment, args: Sequence[str], timeout: float = 300,
               extra: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m pytest ARGS` in `env` with its test tools, the repository's pytest config, no cache."""
    folder = ensure_test_tools(env)
    config = ["--rootdir", str(env.root), "-c", str(env.root / "pyproject.toml"), "-p", "no:cacheprovider"]
    return env.run(["-m", "pytest", *config, *args], env={**(extra or {}), "PYTHONPATH": str(folder)}, timeout=timeout)


def junit_summary(xml_text: str) -> dict[str, Any]:
    """Counts, failing test ids and their messages from a JUnit XML report."""
    root = ElementTree.fromstring(xml_text)
    cases = list(root.iter("testcase"))
    failed: list[str] = []
    messages: dict[str, str] = {}
    skipped = 0
    for case in cases:
        test = f"{case.get('classname', '')}::{case.get('name', '')}".lstrip(":")
        problem = case.find("failure")
        problem = problem if problem is not None else case.find("error")
        if problem is not None:
            failed.append(test)
            messages[test] = (problem.get("message") or problem.text or "").strip()[:500]
        elif case.find("skipped") is not None:
            skipped += 1
    return {"tests": len(cases), "passed": len(cases) - len(failed) - skipped, "failed": failed,
            "skipped": skipped, "messages": messages}


def run_suite(env: Environment, suite: Path, junit: Path, timeout: float = 300) -> dict[str, Any]:
    """Run a test folder in `env`; the JUnit summary plus the exit status and the output's tail."""
    junit.unlink(missing_ok=True)
    proc = run_pytest(env, [str(suite), "-q", f"--junitxml={junit}"], timeout)
    if not junit.exists():
        raise SetupError(f"pytest in {env.name} wrote no report (exit {proc.returncode}):\n{(proc.stderr + proc.stdout)[-3000:]}")
    summary = junit_summary(junit.read_text(encoding="utf-8"))
    return {**summary, "exit_status": proc.returncode, "tail": proc.stdout.strip().splitlines()[-1:]}
