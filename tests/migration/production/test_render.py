"""The rendered nginx and Prometheus files: weights as written, weight 0 left out, a generation per content."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from migration.production.render import generation_of, nginx_conf, prometheus_yml, targets

STATE = Path("/state")


def test_weights_become_upstream_servers_and_weight_zero_is_left_out() -> None:
    text = nginx_conf(STATE, 8080, {"stable": (9001, 90), "canary": (9002, 10), "old": (9003, 0)})
    servers = [line.strip() for line in text.splitlines() if line.strip().startswith("server 127")]
    assert servers == ["server 127.0.0.1:9002 weight=10;  # canary", "server 127.0.0.1:9001 weight=90;  # stable"]
    assert "listen 127.0.0.1:8080;" in text and "pid /state/nginx.pid;" in text


def test_the_generation_changes_with_the_weights_only() -> None:
    a = nginx_conf(STATE, 8080, {"stable": (9001, 90), "canary": (9002, 10)})
    b = nginx_conf(STATE, 8080, {"stable": (9001, 75), "canary": (9002, 25)})
    assert generation_of(a) == generation_of(nginx_conf(STATE, 8080, {"canary": (9002, 10), "stable": (9001, 90)}))
    assert generation_of(a) != generation_of(b) and len(generation_of(a)) == 12


def test_no_release_with_traffic_is_refused() -> None:
    with pytest.raises(ValueError, match="no release has traffic"):
        nginx_conf(STATE, 8080, {"stable": (9001, 0)})


def test_prometheus_finds_the_releases_in_the_targets_file() -> None:
    assert json.loads(targets({"stable": 9001})) == [{"targets": ["127.0.0.1:9001"], "labels": {"deployment": "stable"}}]
    text = prometheus_yml(STATE)
    assert "files: [/state/targets.json]" in text and "- /state/alerts.yml" in text
