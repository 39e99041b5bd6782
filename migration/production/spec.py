"""deploy/production.yaml: production declared in git (releases, weights, rollout steps, thresholds).

Read strictly (PyYAML's node tree keeps line numbers): an unknown or duplicate key, a missing
one, a wrong type or weights that do not add up to 100 is a `SpecError` naming file:line and the
fix, raised before anything runs, so a broken file leaves production as it is. `dump` writes
the canonical layout back: each rollout step and each rollback is a one-line diff of it.
The shape follows Argo Rollouts' canary strategy (steps of setWeight, pause, analysis) and its
AnalysisTemplate (interval, count, failureLimit): https://argo-rollouts.readthedocs.io/en/stable/features/analysis/
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

SPEC_PATH = Path("deploy") / "production.yaml"
FORMAT = 1
ENVIRONMENTS = ("production", "candidate")  # migration.environments.sides: what a release may run in
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m)$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0}
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


class SpecError(ValueError):
    """deploy/production.yaml is not usable; the message names file:line and the fix."""


@dataclass(frozen=True)
class Release:
    name: str
    environment: str
    weight: int
    env: tuple[tuple[str, str], ...] = ()  # extra environment variables, e.g. GITOPS_FAULT for a rehearsal


@dataclass(frozen=True)
class Step:
    weight: int
    pause: float  # seconds of traffic at this weight before the analysis decides
    analysis: bool = True


@dataclass(frozen=True)
class Thresholds:
    max_error_rate: float  # share of 5xx answers of the canary
    max_p95_ratio: float  # canary p95 latency / stable p95 latency
    min_agreement: float  # share of replayed questions the canary answers as stable does


@dataclass(frozen=True)
class Analysis:
    interval: float  # seconds between measurements
    count: int  # measurements per analysis
    failure_limit: int  # failed measurements tolerated; one more fails the analysis
    window: float  # the PromQL range of each measurement, seconds
    min_requests: int  # canary requests in the window before its p95 is judged (fewer: inconclusive)
    thresholds: Thresholds


@dataclass(frozen=True)
class Spec:
    releases: tuple[Release, ...]
    stable: str
    canary: str
    steps: tuple[Step, ...]
    analysis: Analysis
    path: Path = field(default=SPEC_PATH, compare=False)

    def release(self, name: str) -> Release | None:
        return next((r for r in self.releases if r.name == name), None)

    def weights(self) -> dict[str, int]:
        return {r.name: r.weight for r in self.releases}

    def with_weights(self, weights: dict[str, int]) -> Spec:
        """The same production with new weights (releases not named keep theirs)."""
        return replace(self, releases=tuple(replace(r, weight=weights.get(r.name, r.weight)) for r in self.releases))

    def with_env(self, name: str, env: dict[str, str]) -> Spec:
        return replace(self, releases=tuple(replace(r, env=tuple(sorted(env.items()))) if r.name == name else r
                                            for r in self.releases))

    def without(self, name: str) -> Spec:
        return replace(self, releases=tuple(r for r in self.releases if r.name != name))

    def with_release(self, release: Release) -> Spec:
        """The same production with `release` added (or replacing the one of its name)."""
        return replace(self, releases=(*self.without(release.name).releases, release))


class _Reader:
    """Walks the node tree, so every problem can name its line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, node: yaml.Node | None, message: str) -> SpecError:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        return SpecError(f"{self.path}{line}: {message}")

    def mapping(self, node: yaml.Node, where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
                ) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{where} must be a mapping")
        out: dict[str, yaml.Node] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            if (required or optional) and name not in (*required, *optional):
                raise self.fail(key, f"{where}: unknown key {name!r}; allowed: {', '.join((*required, *optional))}")
            if name in out:
                raise self.fail(key, f"{where}: duplicate key {name!r}; keep one")
            out[str(name)] = value
        missing = [k for k in required if k not in out]
        if missing:
            raise self.fail(node, f"{where}: missing {', '.join(missing)}")
        return out

    def scalar(self, node: yaml.Node, where: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{where} must be a single value")
        return yaml.safe_load(yaml.serialize(node))

    def number(self, node: yaml.Node, where: str, low: float, high: float, integer: bool = False) -> Any:
        value = self.scalar(node, where)
        kind = int if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kind) or not low <= value <= high:
            raise self.fail(node, f"{where} must be {'an integer' if integer else 'a number'} from {low:g} to "
                                  f"{high:g}, not {value!r}")
        return value

    def duration(self, node: yaml.Node, where: str) -> float:
        text = str(self.scalar(node, where))
        match = _DURATION.match(text)
        if not match:
            raise self.fail(node, f"{where} must be a duration like 500ms, 20s or 2m, not {text!r}")
        return float(match.group(1)) * _UNITS[match.group(2)]

    def name(self, node: yaml.Node, where: str) -> str:
        value = self.scalar(node, where)
        if not isinstance(value, str) or not _NAME.match(value):
            raise self.fail(node, f"{where} must be a lowercase name (a-z, 0-9, -), not {value!r}")
        return value


def parse(text: str, path: Path = SPEC_PATH) -> Spec:
    """The Spec in `text`; SpecError naming path:line on any problem."""
    reader = _Reader(path)
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise SpecError(f"{path}{line}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if root is None:
        raise SpecError(f"{path}: empty; see docs/production.md for the layout")
    top = reader.mapping(root, "the file", ("format", "releases", "rollout", "analysis"))
    if reader.scalar(top["format"], "format") != FORMAT:
        raise reader.fail(top["format"], f"format must be {FORMAT}")
    releases = _releases(reader, top["releases"])
    rollout = reader.mapping(top["rollout"], "rollout", ("stable", "canary", "steps"))
    names = [r.name for r in releases]
    stable, canary = (reader.name(rollout[k], f"rollout.{k}") for k in ("stable", "canary"))
    if canary not in names:
        raise reader.fail(rollout["canary"], f"rollout.canary: {canary!r} is not a release; releases: {', '.join(names)}")
    # A stable that is gone was retired after a completed rollout: only then does the canary serve everything.
    if stable not in names and next(r.weight for r in releases if r.name == canary) != 100:
        raise reader.fail(rollout["stable"], f"rollout.stable: {stable!r} is not a release, and the canary is not at "
                                             f"weight 100; declare it under releases")
    steps = _steps(reader, rollout["steps"])
    return Spec(releases, stable, canary, steps, _analysis(reader, top["analysis"]), path)


def _releases(reader: _Reader, node: yaml.Node) -> tuple[Release, ...]:
    entries = reader.mapping(node, "releases", ())
    if not entries:
        raise reader.fail(node, "releases: declare at least one release")
    out: list[Release] = []
    keys = {k.value: k for k, _ in node.value}
    for name, value in entries.items():
        where = f"releases.{name}"
        reader.name(keys[name], where)
        fields = reader.mapping(value, where, ("environment", "weight"), ("env",))
        environment = reader.scalar(fields["environment"], f"{where}.environment")
        if environment not in ENVIRONMENTS:
            raise reader.fail(fields["environment"], f"{where}.environment must be one of {', '.join(ENVIRONMENTS)}")
        weight = reader.number(fields["weight"], f"{where}.weight", 0, 100, integer=True)
        env = reader.mapping(fields["env"], f"{where}.env", ()) if "env" in fields else {}
        pairs = tuple(sorted((k, str(reader.scalar(v, f"{where}.env.{k}"))) for k, v in env.items()))
        out.append(Release(name, environment, weight, pairs))
    total = sum(r.weight for r in out)
    if total != 100:
        raise reader.fail(node, f"releases: the weights add up to {total}, not 100; fix them so that they do")
    return tuple(out)


def _steps(reader: _Reader, node: yaml.Node) -> tuple[Step, ...]:
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        raise reader.fail(node, "rollout.steps must be a non-empty list of {weight, pause, analysis}")
    steps: list[Step] = []
    for index, item in enumerate(node.value):
        where = f"rollout.steps[{index}]"
        fields = reader.mapping(item, where, ("weight", "pause"), ("analysis",))
        weight = reader.number(fields["weight"], f"{where}.weight", 1, 100, integer=True)
        if steps and weight <= steps[-1].weight:
            raise reader.fail(fields["weight"], f"{where}.weight: {weight} does not rise above the step before "
                                                f"({steps[-1].weight}); steps go up, e.g. 10, 25, 50, 100")
        analysis = reader.scalar(fields["analysis"], f"{where}.analysis") if "analysis" in fields else True
        if not isinstance(analysis, bool):
            raise reader.fail(fields["analysis"], f"{where}.analysis must be true or false")
        steps.append(Step(weight, reader.duration(fields["pause"], f"{where}.pause"), analysis))
    if steps[-1].weight != 100:
        raise reader.fail(node, f"rollout.steps: the last step must reach weight 100, not {steps[-1].weight}")
    return tuple(steps)


def _analysis(reader: _Reader, node: yaml.Node) -> Analysis:
    fields = reader.mapping(node, "analysis", ("interval", "count", "failure_limit", "window", "min_requests",
                                               "thresholds"))
    limits = reader.mapping(fields["thresholds"], "analysis.thresholds",
                            ("max_error_rate", "max_p95_ratio", "min_agreement"))
    thresholds = Thresholds(
        reader.number(limits["max_error_rate"], "analysis.thresholds.max_error_rate", 0, 1),
        reader.number(limits["max_p95_ratio"], "analysis.thresholds.max_p95_ratio", 1, 100),
        reader.number(limits["min_agreement"], "analysis.thresholds.min_agreement", 0, 1),
    )
    count = reader.number(fields["count"], "analysis.count", 1, 100, integer=True)
    return Analysis(reader.duration(fields["interval"], "analysis.interval"), count,
                    reader.number(fields["failure_limit"], "analysis.failure_limit", 0, count - 1, integer=True),
                    reader.duration(fields["window"], "analysis.window"),
                    reader.number(fields["min_requests"], "analysis.min_requests", 1, 10**6, integer=True), thresholds)


def load(path: Path) -> Spec:
    """Read and check `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{path}: cannot be read ({exc.strerror}); create it (see docs/production.md)") from None
    return parse(text, path)


def _seconds(value: float) -> str:
    return f"{value * 1000:g}ms" if value < 1 else f"{value:g}s"


def dump(spec: Spec) -> str:
    """The canonical text of `spec` (what the rollout commits)."""
    lines = [
        "# Production of the B-1006 assistant, declared: the reconciler (migration/production/reconciler.py)",
        "# makes the running releases and the proxy match this file. Rollout steps and rollbacks rewrite the",
        "# weights and are committed, so `git log deploy/production.yaml` is production's history.",
        f"format: {FORMAT}",
        "releases:",
    ]
    for release in spec.releases:
        lines += [f"  {release.name}:", f"    environment: {release.environment}", f"    weight: {release.weight}"]
        if release.env:
            lines.append("    env:")
            lines += [f"      {key}: {yaml.safe_dump(value).splitlines()[0]}" for key, value in release.env]
    lines += ["rollout:", f"  stable: {spec.stable}", f"  canary: {spec.canary}", "  steps:"]
    lines += [f"    - {{weight: {s.weight}, pause: {_seconds(s.pause)}, analysis: {str(s.analysis).lower()}}}"
              for s in spec.steps]
    a, t = spec.analysis, spec.analysis.thresholds
    lines += ["analysis:", f"  interval: {_seconds(a.interval)}", f"  count: {a.count}",
              f"  failure_limit: {a.failure_limit}", f"  window: {_seconds(a.window)}",
              f"  min_requests: {a.min_requests}", "  thresholds:",
              f"    max_error_rate: {t.max_error_rate:g}", f"    max_p95_ratio: {t.max_p95_ratio:g}",
              f"    min_agreement: {t.min_agreement:g}"]
    return "\n".join(lines) + "\n"
