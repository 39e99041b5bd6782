"""deploy/argo/assistant.yaml: rendered from deploy/production.yaml, and valid against the Argo Rollouts
and Kubernetes schemas, offline (npm's @kubernetes-models packages, pinned by deploy/argo/validate/)."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from migration.production.argo import OUTPUT, manifests, render
from migration.production.spec import SPEC_PATH, load
from tests.conftest import ROOT

VALIDATE = ROOT / "deploy" / "argo" / "validate"
SPEC = load(ROOT / SPEC_PATH)


def test_the_checked_in_manifests_match_the_declaration() -> None:
    assert (ROOT / OUTPUT).read_text(encoding="utf-8") == render(SPEC), "run `python -m migration.production.argo`"


def test_the_rollout_steps_mirror_the_declaration() -> None:
    rollout = manifests(SPEC)[0]
    steps = rollout["spec"]["strategy"]["canary"]["steps"]
    summary = [next(iter(step)) + (f"={step['setWeight']}" if "setWeight" in step else "") for step in steps]
    assert summary == ["setWeight=10", "analysis", "pause", "setWeight=25", "analysis", "pause",
                       "setWeight=50", "analysis", "pause", "pause"]
    template = manifests(SPEC)[1]["spec"]["metrics"]
    assert [(m["name"], m["successCondition"], m["count"], m["failureLimit"]) for m in template] == [
        ("error-rate", "result[0] <= 0.02", 5, 1), ("p95-ratio", "result[0] <= 2", 5, 1)]


@pytest.fixture(scope="module")
def validator(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node and npm are needed to validate the manifests (Debian: apt-get install nodejs npm)")
    folder = tmp_path_factory.mktemp("argo-validate")
    for name in ("package.json", "package-lock.json", "validate.mjs"):
        shutil.copy(VALIDATE / name, folder / name)
    proc = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=folder,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return folder


def validate(folder: Path, docs: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["node", "validate.mjs"], cwd=folder, input=json.dumps(docs), capture_output=True, text=True)


def test_every_manifest_is_valid(validator: Path) -> None:
    docs = list(yaml.safe_load_all((ROOT / OUTPUT).read_text(encoding="utf-8")))
    proc = validate(validator, docs)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == ["Rollout/assistant: valid", "AnalysisTemplate/assistant-canary: valid",
                                        "Service/assistant-stable: valid", "Service/assistant-canary: valid",
                                        "Ingress/assistant: valid"]


def test_an_invalid_manifest_is_rejected(validator: Path) -> None:
    docs = manifests(SPEC)
    docs[0]["spec"]["strategy"]["canary"]["steps"][0]["setWeight"] = "ten"
    proc = validate(validator, docs)
    assert proc.returncode == 1
    assert "Rollout/assistant: INVALID: data/spec/strategy/canary/steps/0/setWeight must be integer" in proc.stdout
