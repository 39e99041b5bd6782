"""Isolated uv environments under `<root>/.venvs/<name>`: create, inspect, run code in them.

Each environment is the project's runtime dependencies with one dspy version, pinned by
constraints.txt where that dspy allows it (see `migration.environments.pins`), locked with
`uv pip compile` and installed with `uv pip sync --compile-bytecode` (these machines set
PYTHONDONTWRITEBYTECODE=1, so without it every `import dspy` recompiles). The project
source is made importable by a `.pth` file naming the root rather than by an editable
install: no build step, nothing written into the shared source tree (`*.egg-info`), and
later tasks import the live `assistant/` code. Each environment has its own
DSPY_CACHEDIR, because both dspy versions otherwise share `~/.dspy_cache`.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping, Sequence

from migration.environments import pins

FORMAT = 1  # bump when the layout of an environment changes: old ones are then rebuilt
STAMP = "gitops-env.json"
PTH = "_gitops_project.pth"
# Always set in an environment: litellm fetches its price list at import, MLflow calls home,
# and packages in ~/.local would shadow the environment's own.
FIXED_ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONNOUSERSITE": "1"}
# Dropped from the inherited environment: each would let another interpreter's packages in.
LEAKY_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "CONDA_PREFIX", "DSPY_CACHEDIR")
COUNTS = re.compile(r"\b(Resolved|Prepared|Installed|Uninstalled|Audited|Checked) (\d+) packages?\b")
INSPECT = """
import json, os, sys, sysconfig
import dspy, dspy.clients
files = [getattr(m, "__file__", None) for m in list(sys.modules.values())]
print(json.dumps({"executable": sys.executable, "prefix": sys.prefix, "base_prefix": sys.base_prefix,
    "purelib": sysconfig.get_paths()["purelib"], "stdlib": sysconfig.get_paths()["stdlib"], "path": sys.path,
    "dspy_version": dspy.__version__, "dspy_file": dspy.__file__, "cache_dir": dspy.clients.DISK_CACHE_DIR,
    "module_files": sorted({f for f in files if f})}))
"""
VERSIONS_SCRIPT = """
import json, sys
from importlib import metadata
def version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
print(json.dumps({name: version(name) for name in sys.argv[1:]}))
"""


class SetupError(Exception):
    """An environment could not be created; the message names the command and its output."""


@dataclass(frozen=True)
class Setup:
    """What `Environment.create` did: reused or built, how long, and uv's package counts."""

    name: str
    dspy: str
    reused: bool
    seconds: float
    sync_seconds: float  # the `uv pip sync` step alone: installing the locked set
    counts: Mapping[str, int]  # uv's "Resolved/Prepared/Installed/Uninstalled N packages"
    relaxed: tuple[str, ...] = ()
    kept_pins: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "counts": dict(self.counts), "relaxed": list(self.relaxed)}


def uv_command(environ: Mapping[str, str]) -> list[str]:
    """How to call uv: $GITOPS_UV, else `uv` on PATH, else `python -m uv`."""
    if environ.get("GITOPS_UV"):
        return environ["GITOPS_UV"].split()
    found = shutil.which("uv", path=environ.get("PATH"))
    if found:
        return [found]
    if importlib.util.find_spec("uv") is not None:
        return [sys.executable, "-m", "uv"]
    raise SetupError("uv is not installed: run scripts/bootstrap (it installs uv) or `pip install uv`.")


def write_if_changed(path: Path, text: str) -> bool:
    """Write `text` atomically unless the file already holds it; True when written."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except OSError:
        pass
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    return True


def uv_counts(output: str) -> dict[str, int]:
    """uv's summary lines ("Installed 3 packages in 5ms") as {"installed": 3, ...}."""
    return {verb.lower(): int(number) for verb, number in COUNTS.findall(output)}


def dspy_requires(folder: Path) -> list[str]:
    """dspy's Requires-Dist, read from the metadata installed in `folder` (no import)."""
    found = [d for d in metadata.distributions(path=[str(folder)]) if d.metadata["Name"] == "dspy"]
    if not found:
        raise SetupError(f"no dspy metadata in {folder} after `uv pip install --target`.")
    return list(found[0].requires or [])


@dataclass(frozen=True)
class Environment:
    """One isolated environment of the project at `<root>/.venvs/<name>`."""

    name: str
    root: Path
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ), repr=False, compare=False)

    @property
    def path(self) -> Path:
        return self.root / ".venvs" / self.name

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def cache_dir(self) -> Path:
        """DSPY_CACHEDIR of this environment (dspy's disk cache of LM calls)."""
        return self.path / "dspy-cache"

    @property
    def lock(self) -> Path:
        return self.path / "requirements.lock"

    def site_packages(self) -> Path:
        """The environment's site-packages folder (where the `.pth` file goes)."""
        found = sorted(self.path.glob("lib/python*/site-packages"))
        if not found:
            raise SetupError(f"{self.path} has no lib/python*/site-packages: delete it and run Task 1.1 again.")
        return found[0]

    def exists(self) -> bool:
        return self.python.exists()

    def stamp(self) -> dict[str, Any]:
        """What the last successful `create` recorded, or {}."""
        try:
            return json.loads((self.path / STAMP).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The process environment for code run here: inherited, minus leaks, plus FIXED_ENV."""
        env = {k: v for k, v in self.environ.items() if k not in LEAKY_ENV}
        env.update(FIXED_ENV)
        env["VIRTUAL_ENV"] = str(self.path)
        env["DSPY_CACHEDIR"] = str(self.cache_dir)
        env["PATH"] = os.pathsep.join([str(self.python.parent), env.get("PATH", os.defpath)])
        env.update(extra or {})
        return env

    def run(self, command: str | Sequence[str], env: Mapping[str, str] | None = None,
            timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """Run `python -c command` (a string) or `python *command` (a sequence) in this environment.

        The working directory is the environment's folder, so only sys.path can import code.
        """
        args = [str(self.python), "-c", command] if isinstance(command, str) else [str(self.python), *command]
        return subprocess.run(args, env=self.env(env), cwd=self.path, capture_output=True, text=True,
                              errors="replace", timeout=timeout)

    def json(self, command: str | Sequence[str], env: Mapping[str, str] | None = None,
             timeout: float = 900) -> Any:
        """Run code that prints JSON on its last stdout line; return it parsed."""
        proc = self.run(command, env, timeout)
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            raise SetupError(f"{self.python} exited {proc.returncode}:\n{(proc.stderr or proc.stdout)[-3000:]}")
        return json.loads(lines[-1])

    def inspect(self) -> dict[str, Any]:
        """Measured by importing dspy here: versions, sys.prefix, sys.path, cache dir, loaded files."""
        return self.json(INSPECT)

    def versions(self, *packages: str) -> dict[str, str | None]:
        """Installed versions (None: absent) read from this environment's metadata."""
        return self.json(["-c", VERSIONS_SCRIPT, *(packages or ("dspy", "mlflow", "litellm"))])

    def check(self) -> tuple[bool, str]:
        """`uv pip check`: are the installed packages' requirements consistent?"""
        proc = self._uv("pip", "check", "--python", str(self.python), check=False)
        return proc.returncode == 0, (proc.stdout + proc.stderr).strip()

    # ------------------------------------------------------------------ creation
    def fingerprint(self, requirements: list[str], constraints: str, python: str) -> str:
        """Identity of what `create` would build: requirements, pins (but dspy's), interpreter."""
        kept = sorted(line.strip() for line in constraints.splitlines() if pins.pin_name(line) not in (None, "dspy"))
        blob = json.dumps([FORMAT, requirements, kept, os.path.realpath(python), str(self.root.resolve())])
        return hashlib.sha256(blob.encode()).hexdigest()

    def create(self, dspy_version: str, constraints: Path | None = None, *, python: str = sys.executable,
               extras: tuple[str, ...] = ()) -> Setup:
        """Build the environment, or reuse it when its fingerprint matches (uv then only verifies)."""
        constraints = constraints or self.root / "constraints.txt"
        constraint_text = constraints.read_text(encoding="utf-8")
        requirements = pins.project_requirements(self.root / "pyproject.toml", dspy_version, extras)
        fingerprint = self.fingerprint(requirements, constraint_text, python)
        began = time.perf_counter()
        stamp = self.stamp()
        reused = self.exists() and self.lock.exists() and stamp.get("fingerprint") == fingerprint
        if reused:
            relaxed, kept, prepared = tuple(stamp.get("relaxed", ())), int(stamp.get("kept_pins", 0)), 0
        else:
            (self.path / STAMP).unlink(missing_ok=True)
            new_venv = not self.exists() or stamp.get("python") not in (None, os.path.realpath(python))
            relaxed, kept, prepared = self._lock(dspy_version, requirements, constraint_text, python, new_venv)
        sync_began = time.perf_counter()
        sync = self._uv("pip", "sync", "--python", str(self.python), "--compile-bytecode", str(self.lock))
        sync_seconds = time.perf_counter() - sync_began
        counts = uv_counts(sync.stdout + sync.stderr)  # what the sync did; "prepared": cache misses of every step
        counts["prepared"] = counts.get("prepared", 0) + prepared
        write_if_changed(self.site_packages() / PTH, f"{self.root.resolve()}\n")
        self.cache_dir.mkdir(exist_ok=True)
        setup = Setup(self.name, dspy_version, reused, round(time.perf_counter() - began, 3),
                      round(sync_seconds, 3), counts, relaxed, kept)
        if not reused:
            record = {"fingerprint": fingerprint, "python": os.path.realpath(python), **setup.as_dict()}
            (self.path / STAMP).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return setup

    def _lock(self, dspy_version: str, requirements: list[str], constraints: str, python: str,
              new_venv: bool) -> tuple[tuple[str, ...], int, int]:
        """Make the venv, relax the pins this dspy excludes, write requirements.lock.

        Returns the relaxed pins, the number kept, and how many packages uv had to download.
        """
        if new_venv:
            self._uv("venv", "--clear", "--python", python, str(self.path))
        # dspy's own Requires-Dist decides which pins it can live with. It is read from a scratch
        # folder, so that the sync below installs the whole set into an empty venv (and its time
        # compares fairly with pip's).
        scratch = self.path / ".dspy-metadata"
        shutil.rmtree(scratch, ignore_errors=True)
        first = self._uv("pip", "install", "--python", str(self.python), "--no-deps", "--target", str(scratch),
                         f"dspy=={dspy_version}")
        chosen = pins.environment_pins(constraints, dspy_requires(scratch), f"dspy {dspy_version}")
        shutil.rmtree(scratch)
        write_if_changed(self.path / "requirements.in", pins.render(self.name, requirements))
        write_if_changed(self.path / "constraints.txt", pins.render(self.name, chosen.kept))
        # Relative paths, run from the environment's folder: the lock's "# via -c constraints.txt"
        # annotations then read the same wherever the repository lives.
        self._uv("pip", "compile", "--python", str(self.python), "--quiet", "--no-header",
                 "requirements.in", "-c", "constraints.txt", "-o", self.lock.name, cwd=self.path)
        return chosen.relaxed, len(chosen.kept), uv_counts(first.stdout + first.stderr).get("prepared", 0)

    def _uv(self, *args: str, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        command = [*uv_command(self.environ), *args]
        env = {k: v for k, v in self.environ.items() if k not in LEAKY_ENV}
        env["UV_NO_PROGRESS"] = "1"
        proc = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, errors="replace")
        if check and proc.returncode != 0:
            raise SetupError(f"`{' '.join(command)}` exited {proc.returncode}:\n{(proc.stderr or proc.stdout)[-4000:]}")
        return proc
