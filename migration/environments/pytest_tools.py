"""The test tools (pytest and its plugins) of an environment of Task 1.1, kept beside it.

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
from pathlib import Path

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

