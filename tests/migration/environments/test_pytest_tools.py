"""migration.environments.pytest_tools: the test-tools folder beside an environment (fake uv) and JUnit summaries."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from migration.environments.environment import Environment, SetupError
from migration.environments.pytest_tools import TOOLS, ensure_test_tools, tools_dir

FAKE_UV = """
import json, os, sys
from pathlib import Path
args = sys.argv[1:]
with open(os.environ["FAKE_UV_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
if os.environ.get("FAKE_UV_FAIL"):
    sys.exit("no such package")
target = Path(args[args.index("--target") + 1])
target.mkdir(parents=True, exist_ok=True)
(target / "pytest.py").write_text("")
"""


@pytest.fixture
def env(tmp_path: Path) -> Environment:
    """A candidate environment with a lock and pins, and a fake uv that logs its calls."""
    fake = tmp_path / "fake_uv.py"
    fake.write_text(FAKE_UV)
    environ = {"GITOPS_UV": f"{sys.executable} {fake}", "FAKE_UV_LOG": str(tmp_path / "uv.log")}
    made = Environment("candidate", tmp_path, environ)
    made.path.mkdir(parents=True)
    made.lock.write_text("dspy==3.0.1\npackaging==26.3\n")
    (made.path / "constraints.txt").write_text("pytest==9.2.0\n")
    return made


def calls(env: Environment) -> list[list[str]]:
    log = Path(env.environ["FAKE_UV_LOG"])
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_tools_are_installed_beside_the_environment_with_its_lock_as_constraints(env: Environment) -> None:
    folder = ensure_test_tools(env)
    assert folder == tools_dir(env) == env.root / ".venvs" / ".test-tools" / "candidate"
    assert (folder / "pytest.py").exists()
    (command,) = calls(env)
    assert command[:2] == ["pip", "install"] and command[-len(TOOLS):] == list(TOOLS)
    assert ["--python", str(env.python)] == command[command.index("--python"):command.index("--python") + 2]
    assert ["-c", str(env.lock), "-c", str(env.path / "constraints.txt")] == command[command.index("-c"):command.index("-c") + 4]
    assert "--compile-bytecode" in command


def test_tools_are_reused_until_the_lock_changes(env: Environment) -> None:
    ensure_test_tools(env)
    ensure_test_tools(env)
    assert len(calls(env)) == 1
    env.lock.write_text("dspy==3.0.1\npackaging==26.4\n")
    ensure_test_tools(env)
    assert len(calls(env)) == 2


def test_a_failed_install_names_the_command_and_keeps_no_folder(env: Environment) -> None:
    failing = Environment(env.name, env.root, {**env.environ, "FAKE_UV_FAIL": "1"})
    with pytest.raises(SetupError, match="pip install .* exited 1:\nno such package"):
        ensure_test_tools(failing)
    assert not tools_dir(env).exists()

