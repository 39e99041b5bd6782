"""The deployment report of one run (Task 6.1's figures), as Markdown from the evidence."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def _clients(c: dict[str, Any]) -> str:
    return (f"{c['requests']} requests, {c['failed']} failed, p50 {c['p50_ms']} ms, p95 {c['p95_ms']} ms, "
            f"p99 {c['p99_ms']} ms, served by {c['served_by']}")


def render_report(evidence: dict[str, Any]) -> str:
    rehearsal, rollout = evidence["rehearsal"], evidence["rollout"]
    lines = [
        "# Production deployment report (Task 6.1)",
        "",
        f"Where: {evidence.get('where', 'not recorded')}.",
        "",
        f"Proxy {evidence['proxy']}, Prometheus {evidence['prometheus']}; traffic {evidence['drill']['rate']:g} "
        f"requests/s replaying the devset; {evidence['seconds']} s in all.",
        "",
        "| Phase | What the clients saw |",
        "|---|---|",
        f"| baseline (stable 100%) | {_clients(evidence['baseline'])} |",
        f"| rehearsal ({evidence['drill']['fault']}) | {_clients(rehearsal['clients'])} |",
        f"| rollout | {_clients(rollout['clients'])} |",
        f"| after (canary 100%) | {_clients(evidence['after'])} |",
        "",
        f"Rehearsal: {rehearsal['reason']}; proxy at 100% stable {rehearsal['rollback_seconds']} s after the "
        f"verdict; failed requests {rehearsal['clients']['failed']} (budget {rehearsal['budget']}).",
        "",
        f"Rollout: {rollout['reason']}.",
        "",
        "| Step | Seconds | Clients | Analysis |",
        "|---|---|---|---|",
    ]
    for step in rollout["steps"]:
        verdict = step["analysis"]["reason"] if step["analysis"] else "none (pause only)"
        lines.append(f"| {step['weight']}% | {step['seconds']} | {_clients(step['clients'])} | {verdict} |")
    lines += ["", "## History (commits of deploy/production.yaml)", ""]
    lines += [f"- {line}" for line in evidence["history"]] or ["- not a git checkout: nothing committed"]
    return "\n".join(lines) + "\n"


def write_report(evidence: dict[str, Any], path: Path) -> Path:
    path.write_text(render_report(evidence), encoding="utf-8")
    return path
