"""uv against pip: the same requirement set installed into an empty venv by each, in one run.

Scope "full" (the default) installs the candidate's whole `requirements.lock`; uv's time is
the candidate's own `uv pip sync` when its cache was warm, else a fresh sync into a
throwaway venv. Scope "dspy" installs only `dspy==<version>` (with the candidate's
constraints) with both tools: for machines where pip on the full set is too slow. Both
compile bytecode (pip does by default; uv with --compile-bytecode). pip runs `--isolated`,
so that, like uv, it reads PyPI only and ignores this machine's pip.conf local indexes.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from migration.environments.environment import Environment, Setup, SetupError, uv_command, uv_counts

SCOPES = ("full", "dspy", "off")
RECORD = "install-timing.json"


@dataclass(frozen=True)
class Comparison:
    """Seconds each tool took to install `what` into an empty venv; ratio = pip / uv."""

    scope: str
    what: str
    packages: int
    uv_seconds: float
    pip_seconds: float
    uv_measured: str  # which uv run the number comes from
    uv_cache_warm: bool

    @property
    def ratio(self) -> float:
        return round(self.pip_seconds / self.uv_seconds, 1) if self.uv_seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def compare(candidate: Environment, setup: Setup, scope: str, scratch: Path) -> Comparison | None:
    """Measure (or reuse a measurement of the same lock) of uv against pip; None for scope "off"."""
    if scope not in SCOPES:
        raise SetupError(f"GITOPS_PIP_BASELINE={scope!r}: use one of {', '.join(SCOPES)}.")
    if scope == "off":
        return None
    key = record_key(scope, candidate.lock)
    record = candidate.path.parent / RECORD
    try:
        found = json.loads(record.read_text(encoding="utf-8"))
        if found.get("key") == key:
            return Comparison(**{k: v for k, v in found["comparison"].items() if k != "ratio"})
    except (OSError, ValueError, TypeError):
        pass
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        result = _measure(candidate, setup, scope, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # the throwaway venvs
    text = json.dumps({"key": key, "comparison": result.as_dict()}, indent=2, sort_keys=True) + "\n"
    record.write_text(text, encoding="utf-8")
    return result


def record_key(scope: str, lock: Path) -> str:
    """A stored measurement stands while the scope and the candidate's lock are the same."""
    return hashlib.sha256(f"{scope}\n".encode() + lock.read_bytes()).hexdigest()


def _measure(candidate: Environment, setup: Setup, scope: str, scratch: Path) -> Comparison:
    packages = sum(1 for line in candidate.lock.read_text().splitlines() if "==" in line and not line.startswith("#"))
    if scope == "dspy":
        requirements = scratch / "requirements.txt"
        requirements.write_text(f"dspy=={setup.dspy}\n")
        args = ["-r", str(requirements), "-c", str(candidate.path / "constraints.txt")]
        what = f"dspy=={setup.dspy} and its dependencies, with the candidate's constraints"
        packages = 0
    else:
        args = ["-r", str(candidate.lock)]
        what = f"the candidate's requirements.lock ({packages} packages)"
    warm = setup.counts.get("prepared", 0) == 0
    if scope == "full" and sync_stands_for_uv(setup, packages):
        uv_seconds, source = setup.sync_seconds, "the candidate's own `uv pip sync --compile-bytecode` (empty venv)"
    else:
        uv_seconds, installed = _uv_into_throwaway(candidate, scratch / "uv-venv", args)
        source = "`uv pip install --compile-bytecode` into a throwaway venv"
        packages = packages or installed
        warm = True  # whatever this run needed was fetched by the candidate's creation just before
    pip_seconds = _pip_into_throwaway(candidate, scratch / "pip-venv", args)
    return Comparison(scope, what, packages, round(uv_seconds, 3), round(pip_seconds, 3), source, warm)


def sync_stands_for_uv(setup: Setup, packages: int) -> bool:
    """Did the candidate's sync just install the whole lock into an empty venv from a warm cache?"""
    return not setup.reused and setup.counts.get("prepared", 0) == 0 and setup.counts.get("installed", 0) >= packages


def _uv_into_throwaway(candidate: Environment, venv: Path, args: list[str]) -> tuple[float, int]:
    uv = uv_command(candidate.environ)
    _run([*uv, "venv", "--quiet", "--python", sys.executable, str(venv)], candidate)
    began = time.perf_counter()
    proc = _run([*uv, "pip", "install", "--python", str(venv / "bin" / "python"), "--compile-bytecode", *args], candidate)
    return time.perf_counter() - began, uv_counts(proc.stdout + proc.stderr).get("installed", 0)


def _pip_into_throwaway(candidate: Environment, venv: Path, args: list[str]) -> float:
    _run([sys.executable, "-m", "venv", str(venv)], candidate)
    began = time.perf_counter()
    _run([str(venv / "bin" / "python"), "-m", "pip", "--isolated", "install", "--quiet", "--no-input",
          "--disable-pip-version-check", *args], candidate)
    return time.perf_counter() - began


def _run(command: list[str], candidate: Environment) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in candidate.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    proc = subprocess.run(command, env=env, capture_output=True, text=True, errors="replace")
    if proc.returncode != 0:
        raise SetupError(f"`{' '.join(command)}` exited {proc.returncode}:\n{(proc.stderr or proc.stdout)[-3000:]}")
    return proc
