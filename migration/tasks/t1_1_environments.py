"""Task 1.1: pin DSPy 3.0.1 and create the production (2.6.27) and candidate (3.0.1) environments.

The action edits constraints.txt, builds `.venvs/production` and `.venvs/candidate` with uv
(reused when they already match), times uv against pip and writes what it did to
`<workdir>/environments.json`. Each check measures its criterion again in the environments.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

from packaging.requirements import Requirement

from gitops.handlers import Check, Handler, TaskContext
from migration.environments import install_timing, pins
from migration.environments.environment import uv_counts, write_if_changed
from migration.environments.sides import CANDIDATE, PRODUCTION, VERSIONS, environments
from migration.probes import dspy3 as dspy3_probes

REPORT = "environments.json"
DOC = Path("docs") / "environments.md"
# What docs/environments.md must name: the commands this module runs and the variables it sets.
DOC_TERMS = (".venvs/production", ".venvs/candidate", "uv venv", "uv pip compile", "uv pip sync",
             "--compile-bytecode", "uv pip check", "DSPY_CACHEDIR", "LITELLM_LOCAL_MODEL_COST_MAP",
             "MLFLOW_DISABLE_TELEMETRY", "GITOPS_PIP_BASELINE", "constraints.txt", "_gitops_project.pth")


def pin_dspy(constraints: Path) -> bool:
    """Pin dspy==3.0.1 in constraints.txt, keeping every other line; True when the file changed."""
    return write_if_changed(constraints, pins.pin_version(constraints.read_text(encoding="utf-8"), "dspy", VERSIONS[CANDIDATE]))


def action(ctx: TaskContext) -> Mapping[str, Any]:
    """Pin, build or reuse both environments, compare uv with pip; return the timings."""
    changed = pin_dspy(ctx.root / "constraints.txt")
    ctx.log(f"constraints.txt: dspy=={VERSIONS[CANDIDATE]} {'pinned' if changed else 'already pinned'}")
    setups = {}
    for name, env in environments(ctx.root, ctx.environ).items():
        setups[name] = env.create(VERSIONS[name])
        ctx.log(f"{env.path}: {'reused' if setups[name].reused else 'created'} in {setups[name].seconds:.1f} s")
    scope = ctx.environ.get("GITOPS_PIP_BASELINE", "full")
    comparison = install_timing.compare(environments(ctx.root, ctx.environ)[CANDIDATE], setups[CANDIDATE], scope, ctx.workdir / "timing")
    report = {"pinned_now": changed, "setups": {n: s.as_dict() for n, s in setups.items()},
              "uv_vs_pip": comparison.as_dict() if comparison else None}
    (ctx.workdir / REPORT).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    # The time each environment took to build (recorded when it was built), not this run's check.
    metrics = {f"env_{name}_create_seconds": env.stamp()["seconds"] for name, env in environments(ctx.root, ctx.environ).items()}
    if comparison:
        metrics.update(env_uv_install_seconds=comparison.uv_seconds, env_pip_install_seconds=comparison.pip_seconds,
                       env_pip_over_uv=comparison.ratio)
    return {"performance_metrics": metrics}


def report(ctx: TaskContext) -> dict[str, Any]:
    """What the action recorded in this run."""
    return json.loads((ctx.workdir / REPORT).read_text(encoding="utf-8"))


def check_pinned(ctx: TaskContext) -> Check:
    text = (ctx.root / "constraints.txt").read_text(encoding="utf-8")
    found = pins.pinned(text, "dspy")
    total = sum(1 for line in text.splitlines() if pins.pin_name(line))
    if found and found[1] == f"dspy=={VERSIONS[CANDIDATE]}":
        return Check.passed(f"constraints.txt:{found[0]}: {found[1]} ({total} pins in the file)", pins=total)
    return Check.failed(f"constraints.txt pins {found[1] if found else 'no dspy'}; expected dspy=={VERSIONS[CANDIDATE]}")


def check_created(ctx: TaskContext) -> Check:
    """The candidate's python imports dspy 3.0.1 from its own prefix; with the build and uv/pip timings."""
    envs = environments(ctx.root, ctx.environ)
    seen = envs[CANDIDATE].inspect()
    timing = report(ctx)["uv_vs_pip"]
    lines = [(f"{envs[CANDIDATE].python}: dspy.__version__ == {seen['dspy_version']} (from {seen['dspy_file']}); "
              f"sys.prefix {seen['prefix']}")]
    metrics: dict[str, float] = {}
    for name, env in envs.items():
        built = env.stamp()
        metrics[f"{name}_create_seconds"] = built["seconds"]
        lines.append(f"{name}: built by uv in {built['seconds']} s ({built['counts'].get('installed', 0)} packages "
                     f"installed, {built['counts'].get('prepared', 0)} downloaded: uv cache "
                     f"{'warm' if not built['counts'].get('prepared') else 'cold'}); this run: "
                     f"{'reused, verified' if report(ctx)['setups'][name]['reused'] else 'built'}")
    if timing:
        metrics.update(uv_seconds=timing["uv_seconds"], pip_seconds=timing["pip_seconds"], pip_over_uv=timing["ratio"])
        lines.append(f"uv {timing['uv_seconds']} s vs pip {timing['pip_seconds']} s ({timing['ratio']}x) installing "
                     f"{timing['what']} into an empty venv; uv's number: {timing['uv_measured']}")
    else:
        lines.append("uv against pip: not measured (GITOPS_PIP_BASELINE=off)")
    ok = seen["dspy_version"] == VERSIONS[CANDIDATE] and Path(seen["prefix"]) == envs[CANDIDATE].path
    return (Check.passed if ok else Check.failed)("\n".join(lines), **metrics)


def fits(requirement: Requirement, version: str | None) -> bool:
    """Is `version` installed and allowed by the requirement?"""
    return version is not None and requirement.specifier.contains(version, prereleases=True)


def check_dependencies(ctx: TaskContext) -> Check:
    """`uv pip check` in both environments, and every project requirement installed at a fitting version."""
    lines, problems, checked = [], [], 0
    for name, env in environments(ctx.root, ctx.environ).items():
        consistent, output = env.check()
        checked += uv_counts(output).get("checked", 0)
        wanted = [Requirement(r) for r in pins.project_requirements(ctx.root / "pyproject.toml", VERSIONS[name])]
        versions = env.versions(*(r.name for r in wanted))
        unmet = [f"{r} (installed: {versions[r.name]})" for r in wanted if not fits(r, versions[r.name])]
        if not consistent:
            problems.append(f"{name}: `uv pip check` found conflicts:\n{output}")
        if unmet:
            problems.append(f"{name}: requirements not met: {', '.join(unmet)}")
        stamp = env.stamp()
        lines.append(f"{name}: `uv pip check`: {output.splitlines()[-1]} ({uv_counts(output).get('checked', 0)} packages); "
                     f"{len(wanted) - len(unmet)}/{len(wanted)} project requirements met: "
                     + ", ".join(f"{r.name}=={versions[r.name]}" for r in wanted)
                     + f"; {stamp.get('kept_pins', '?')} pins of constraints.txt kept, relaxed: {stamp.get('relaxed') or 'none'}")
    return (Check.failed if problems else Check.passed)("\n".join(problems + lines), packages_checked=checked)


def check_basic(ctx: TaskContext) -> Check:
    """A Predict with DummyLM runs in the candidate."""
    env = environments(ctx.root, ctx.environ)[CANDIDATE]
    result = env.json([dspy3_probes.__file__, "predict"])["predict"]
    if result.get("ok") and result.get("answer") == "4" and result.get("dspy_version") == VERSIONS[CANDIDATE]:
        return Check.passed(f"candidate: dspy {result['dspy_version']}: dspy.configure(lm=DummyLM) + "
                            f"Predict('question -> answer')(question='What is 2+2?').answer == {result['answer']!r} "
                            f"({result['lm_calls']} LM call, {result['seconds']} s)", seconds=result["seconds"])
    return Check.failed(f"candidate Predict probe: {result}")


def check_documented(ctx: TaskContext) -> Check:
    path = ctx.root / DOC
    if not path.exists():
        return Check.failed(f"{DOC} does not exist: document the environments there (terms: {', '.join(DOC_TERMS)})")
    text = path.read_text(encoding="utf-8")
    missing = [term for term in DOC_TERMS if term not in text]
    if missing:
        return Check.failed(f"{DOC} does not name: {', '.join(missing)}")
    lines = {term: next(i for i, line in enumerate(text.splitlines(), 1) if term in line) for term in DOC_TERMS}
    return Check.passed(f"{DOC} names every command and variable the set-up uses: "
                        + ", ".join(f"{term} (line {n})" for term, n in lines.items()), terms=len(DOC_TERMS))


def foreign_files(seen: Mapping[str, Any], root: Path) -> list[str]:
    """Loaded module files from anywhere but the env itself, the stdlib and the project's source.

    The base interpreter's site-packages (inside its stdlib folder) and every venv under the
    root (`.venv`, `.venvs/*`) count as foreign.
    """
    prefix, stdlib = seen["prefix"] + os.sep, seen["stdlib"] + os.sep
    source, venvs = str(root.resolve()) + os.sep, (str(root.resolve() / ".venv"), str(root.resolve() / ".venvs"))

    def allowed(file: str) -> bool:
        if file.startswith(prefix):
            return True
        if file.startswith(stdlib):
            return not file.startswith(stdlib + "site-packages")
        return file.startswith(source) and not file.startswith(venvs)

    return [f for f in seen["module_files"] if not allowed(f)]


def check_isolated(ctx: TaskContext) -> Check:
    """Separate prefixes and caches; nothing imported from elsewhere; production still 2.6.27."""
    envs = environments(ctx.root, ctx.environ)
    seen = {name: env.inspect() for name, env in envs.items()}
    problems, lines, outside = [], [], 0
    for name, env in envs.items():
        mine, other = seen[name], seen[PRODUCTION if name == CANDIDATE else CANDIDATE]
        foreign = foreign_files(mine, ctx.root)
        leaks = [p for p in mine["path"] if "site-packages" in p and not p.startswith(mine["prefix"] + os.sep)]
        if mine["prefix"] == other["prefix"] or mine["cache_dir"] == other["cache_dir"]:
            problems.append(f"{name} shares its prefix or cache with the other environment")
        if mine["cache_dir"] != str(env.cache_dir):
            problems.append(f"{name}: dspy caches in {mine['cache_dir']}, not {env.cache_dir}")
        outside += len(foreign) + len(leaks)
        if foreign or leaks:
            problems.append(f"{name}: modules from outside it: {(foreign + leaks)[:5]}")
        if mine["dspy_version"] != VERSIONS[name]:
            problems.append(f"{name}: dspy {mine['dspy_version']}, expected {VERSIONS[name]}")
        lines.append(f"{name}: sys.prefix {mine['prefix']}; dspy {mine['dspy_version']}; DSPY_CACHEDIR -> "
                     f"{mine['cache_dir']}; {len(mine['module_files'])} modules loaded after `import dspy`, "
                     f"{len(foreign)} from outside its prefix, the stdlib and the project source; "
                     f"{len(leaks)} site-packages on sys.path besides its own")
    evidence = "\n".join(problems + lines)
    return (Check.failed if problems else Check.passed)(evidence, modules_from_outside=outside)


HANDLER = Handler(
    action=action,
    checks={
        "DSPy 3.0.1 pinned in constraints.txt": check_pinned,
        "Isolated Python virtual environment created with DSPy 3.0.1": check_created,
        "All existing dependencies installed and compatible": check_dependencies,
        "Basic DSPy 3.0.1 functionality validated": check_basic,
        "Test environment documented with setup instructions": check_documented,
        "Environment isolation verified": check_isolated,
    },
)
