"""deploy/production.yaml rendered for a cluster: Argo Rollouts manifests (not deployed here).

The same declaration drives both: the local reconciler (nginx, processes) and, for a team whose
production is Kubernetes, a Rollout with the same canary steps (setWeight, analysis, pause;
https://argo-rollouts.readthedocs.io/en/stable/features/canary/) routed by the NGINX ingress
controller, an AnalysisTemplate with the same PromQL and thresholds on Prometheus
(https://argo-rollouts.readthedocs.io/en/stable/analysis/prometheus/), the stable and canary
Services and the Ingress. In a cluster the stable and canary pods differ by image (one per DSPy
version), so the queries select the release by its `dspy` label. Answer agreement with stable is
measured by the clients locally; a cluster would run it as a Job metric (not rendered).

`python -m migration.production.argo` rewrites deploy/argo/assistant.yaml; a test checks that the
file matches the declaration and that every manifest validates against the Argo Rollouts and
Kubernetes schemas (deploy/argo/validate/).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from migration.production.analysis import window_text
from migration.production.spec import SPEC_PATH, Spec, load

OUTPUT = Path("deploy") / "argo" / "assistant.yaml"
APP = "assistant"
PORT = 8000
VERSIONS = {"production": "2.6.27", "candidate": "3.0.1"}  # migration.environments.sides.VERSIONS
HEADER = ("# Generated from deploy/production.yaml by `python -m migration.production.argo`; do not edit.\n"
          "# Argo Rollouts manifests for a Kubernetes production (docs/production.md, \"In a cluster\").\n")


def _duration(seconds: float) -> str:
    return f"{seconds:g}s"


def _analysis_template(spec: Spec) -> dict[str, Any]:
    a, t = spec.analysis, spec.analysis.thresholds
    window = window_text(a.window)
    canary, stable = "{{args.canary-dspy}}", "{{args.stable-dspy}}"

    def p95(version: str) -> str:
        return (f"histogram_quantile(0.95, sum by (le) (rate(assistant_request_seconds_bucket"
                f'{{dspy="{version}"}}[{window}])))')

    common = {"interval": _duration(a.interval), "count": a.count, "failureLimit": a.failure_limit}
    provider = "{{args.prometheus-address}}"
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
        "metadata": {"name": f"{APP}-canary"},
        "spec": {
            "args": [{"name": "prometheus-address"}, {"name": "canary-dspy"}, {"name": "stable-dspy"}],
            "metrics": [
                {"name": "error-rate", **common, "successCondition": f"result[0] <= {t.max_error_rate:g}",
                 "provider": {"prometheus": {"address": provider, "query": (
                     f'(sum(rate(assistant_requests_total{{dspy="{canary}",code=~"5.."}}[{window}])) or vector(0))'
                     f' / sum(rate(assistant_requests_total{{dspy="{canary}"}}[{window}]))')}}},
                {"name": "p95-ratio", **common, "successCondition": f"result[0] <= {t.max_p95_ratio:g}",
                 "provider": {"prometheus": {"address": provider, "query": f"{p95(canary)} / {p95(stable)}"}}},
            ],
        },
    }


def _rollout(spec: Spec) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    canary_release = spec.release(spec.canary)
    stable_release = spec.release(spec.stable)
    args = [{"name": "prometheus-address", "value": "http://prometheus.monitoring.svc:9090"},
            {"name": "canary-dspy", "value": VERSIONS[canary_release.environment] if canary_release else ""},
            {"name": "stable-dspy",
             "value": VERSIONS[stable_release.environment] if stable_release else VERSIONS["production"]}]
    for step in spec.steps:
        if step.weight < 100:  # Argo promotes to 100% after the last step
            steps.append({"setWeight": step.weight})
            if step.analysis:
                steps.append({"analysis": {"templates": [{"templateName": f"{APP}-canary"}], "args": args}})
        steps.append({"pause": {"duration": _duration(step.pause)}})
    labels = {"app": APP}
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": APP},
        "spec": {
            "replicas": 2, "revisionHistoryLimit": 3, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                "name": APP, "image": "ghcr.io/example/b1006-assistant:dspy-3.0.1",
                "ports": [{"name": "http", "containerPort": PORT}],
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
            }]}},
            "strategy": {"canary": {
                "canaryService": f"{APP}-canary", "stableService": f"{APP}-stable",
                "trafficRouting": {"nginx": {"stableIngress": APP}},
                "steps": steps,
            }},
        },
    }


def _service(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": APP}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}


def _ingress() -> dict[str, Any]:
    backend = {"service": {"name": f"{APP}-stable", "port": {"name": "http"}}}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": APP},
            "spec": {"ingressClassName": "nginx", "rules": [{"http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": backend}]}}]}}


def manifests(spec: Spec) -> list[dict[str, Any]]:
    """The Rollout, its AnalysisTemplate, both Services and the Ingress."""
    return [_rollout(spec), _analysis_template(spec), _service(f"{APP}-stable"), _service(f"{APP}-canary"), _ingress()]


class _Dumper(yaml.SafeDumper):
    """No anchors and aliases (&id001): each manifest reads on its own, as kubectl users expect."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render(spec: Spec) -> str:
    return HEADER + yaml.dump_all(manifests(spec), Dumper=_Dumper, sort_keys=False, width=120)


def main(argv: list[str] | None = None) -> int:
    root = Path(argv[0] if argv else ".").resolve()
    out = root / OUTPUT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(load(root / SPEC_PATH)), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
