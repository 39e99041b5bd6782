"""The rendered nginx and Prometheus files: weights as written, weight 0 left out of the weights but reachable
by name (X-Gitops-Release, checked on a real nginx), a generation per content."""
from __future__ import annotations

import http.client
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from migration.production import stack
from migration.production.releases import free_port
from migration.production.render import RELEASE_HEADER, generation_of, nginx_conf, prometheus_yml, targets
from migration.production.tools import ToolError, ensure

STATE = Path("/state")


def test_weights_become_upstream_servers_and_weight_zero_is_left_out() -> None:
    text = nginx_conf(STATE, 8080, {"stable": (9001, 90), "canary": (9002, 10), "old": (9003, 0)})
    weighted = text.split("upstream assistant {", 1)[1].split("}", 1)[0]
    servers = [line.strip() for line in weighted.splitlines() if line.strip().startswith("server 127")]
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


def test_every_release_has_an_upstream_of_its_own_and_the_header_maps_to_it() -> None:
    text = nginx_conf(STATE, 8080, {"stable": (9001, 0), "canary": (9002, 100)})
    assert "upstream release_stable {\n        server 127.0.0.1:9001;" in text  # weight 0: reachable by name only
    assert "upstream release_canary {\n        server 127.0.0.1:9002;" in text
    assert ("    map $http_x_gitops_release $gitops_upstream {\n"
            '        "" assistant;  # no header: the weights\n'
            "        canary release_canary;\n        stable release_stable;\n"
            '        default "";\n    }\n') in text
    assert "proxy_pass http://$gitops_upstream;" in text


class _Named(BaseHTTPRequestHandler):
    """A release stand-in for the proxy alone: answers every POST with its name in X-Release."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("X-Release", self.server.name)  # type: ignore[attr-defined]
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _serve(name: str) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Named)
    server.name = name  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _ask(port: int, headers: dict[str, str]) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("POST", "/ask", "{}", headers)
        response = conn.getresponse()
        body = response.read().decode()
        return response.status, response.getheader("X-Release") or body.strip()
    finally:
        conn.close()


def test_nginx_routes_a_named_release_at_weight_0_and_refuses_an_unknown_name(tmp_path: Path) -> None:
    try:
        nginx = ensure(("nginx",), os.environ, lambda m: None)["nginx"]
    except ToolError as error:
        pytest.skip(str(error))
    stable, canary = _serve("stable"), _serve("canary")
    port = free_port()
    text = nginx_conf(tmp_path, port, {"stable": (stable.server_port, 0), "canary": (canary.server_port, 100)})
    proxy = stack.apply_proxy(tmp_path, nginx, None, text, os.environ)  # nginx -t first, then started
    try:
        assert {_ask(port, {}) for _ in range(4)} == {(200, "canary")}
        assert {_ask(port, {RELEASE_HEADER: "stable"}) for _ in range(4)} == {(200, "stable")}
        assert _ask(port, {RELEASE_HEADER: "Canary"}) == (200, "canary")  # nginx's map ignores case
        assert _ask(port, {RELEASE_HEADER: "old"}) == (404, "X-Gitops-Release names no running release")
    finally:
        stack.stop_service(proxy)
        stable.shutdown()
        canary.shutdown()
