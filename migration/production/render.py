"""What the reconciler writes for the proxy and for Prometheus, as pure text from ports and weights.

nginx: one upstream with a `server ... weight=N` per release that has traffic. nginx's default
balancing is weighted round-robin (http://nginx.org/en/docs/http/ngx_http_upstream_module.html#server),
so 10/90 sends exactly one request in ten to the canary; a release at weight 0 is left out (nginx
takes no weight 0). A reload (SIGHUP) starts workers with the new file and lets the old ones finish
their requests (http://nginx.org/en/docs/control.html), which is how a step changes weights
without dropping a request. `/_generation` answers the file's hash, so the reconciler can see
when the new workers serve.

A request may name the release it wants (`X-Gitops-Release: stable`): every running release,
at weight 0 too, also has an upstream of its own, and a `map` of the header picks it
(http://nginx.org/en/docs/http/ngx_http_map_module.html: strings match ignoring case; the
resulting variable in `proxy_pass` names a server group,
http://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_pass). Task 6.2 measures its
latency reference that way on a production seen only through its URL. A name that is not
running gets 404 from nginx itself (`return` is safe inside `if`), never another release's
answer: a reference measured on the wrong release would be no reference.

Prometheus: releases are file-based service discovery targets (file_sd_configs), which Prometheus
re-reads when the file changes, so starting or stopping a release needs no Prometheus reload
(https://prometheus.io/docs/prometheus/latest/configuration/configuration/#file_sd_config).
A production that follows a git branch (migration/production/follow.py) lists its follower in
`follower.json`, a second job, so a pipeline sees through Prometheus which commit it applied;
elsewhere that file is empty and the job has no target.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

UPSTREAM = "assistant"
# The access log the proxy writes: who served each request (the X-Release header) and how long it took.
FOLLOWER_TARGETS = "follower.json"
RELEASE_HEADER = "X-Gitops-Release"
LOG_FORMAT = '$msec $status $request_time "$upstream_addr" "$upstream_http_x_release" "$request"'


def generation(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def generation_of(conf: str) -> str:
    """The generation a rendered nginx.conf answers on /_generation."""
    return conf.split('return 200 "', 1)[1].split("\\n", 1)[0]


def release_upstream(name: str) -> str:
    """The server group that serves only release `name` (spec.py's names are safe in nginx.conf)."""
    return f"release_{name}"


def _by_name(upstreams: Mapping[str, tuple[int, int]]) -> tuple[str, str]:
    """The header's map and one upstream per release, weight 0 included."""
    header = "$http_" + RELEASE_HEADER.lower().replace("-", "_")
    entries = "".join(f"        {name} {release_upstream(name)};\n" for name in sorted(upstreams))
    mapping = (f"    map {header} $gitops_upstream {{\n        \"\" {UPSTREAM};  # no header: the weights\n"
               f"{entries}        default \"\";\n    }}\n")
    groups = "".join(f"    upstream {release_upstream(name)} {{\n        server 127.0.0.1:{p};\n"
                     "        keepalive 4;\n    }\n" for name, (p, _) in sorted(upstreams.items()))
    return mapping, groups


def nginx_conf(state: Path, port: int, upstreams: Mapping[str, tuple[int, int]]) -> str:
    """nginx.conf serving 127.0.0.1:`port`; `upstreams`: release -> (port, weight), weight 0 left out of the
    weighted group (each release is still reachable by name, RELEASE_HEADER)."""
    servers = [f"        server 127.0.0.1:{p} weight={w};  # {name}" for name, (p, w) in sorted(upstreams.items()) if w > 0]
    if not servers:
        raise ValueError("no release has traffic: at least one weight must be above 0")
    mapping, groups = _by_name(upstreams)
    body = f"""# Written by migration/production/reconciler.py from deploy/production.yaml; do not edit.
worker_processes 1;
daemon off;
pid {state}/nginx.pid;
error_log {state}/nginx-error.log warn;
events {{
    worker_connections 1024;
}}
http {{
    log_format gateway '{LOG_FORMAT}';
    access_log {state}/access.log gateway;
    client_body_temp_path {state}/tmp/body;
    proxy_temp_path {state}/tmp/proxy;
    fastcgi_temp_path {state}/tmp/fastcgi;
    uwsgi_temp_path {state}/tmp/uwsgi;
    scgi_temp_path {state}/tmp/scgi;
    upstream {UPSTREAM} {{
{chr(10).join(servers)}
        keepalive 16;
    }}
{groups}{mapping}    server {{
        listen 127.0.0.1:{port};
        if ($gitops_upstream = "") {{
            return 404 "{RELEASE_HEADER} names no running release\\n";
        }}
        location / {{
            proxy_pass http://$gitops_upstream;
            # HTTP/1.1 without "Connection: close": the upstream keepalive pool above is used.
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # A connection refused by a release goes to the next one; a 5xx it answered does not
            # (the client must see the canary's errors, or the analysis would be blind to them).
            proxy_next_upstream error timeout;
        }}
        location = /_generation {{
            default_type text/plain;
            return 200 "@GENERATION@\\n";
        }}
    }}
}}
"""
    return body.replace("@GENERATION@", generation(body))


def targets(releases: Mapping[str, int]) -> str:
    """The file_sd targets file: one target per running release, labelled with its name."""
    groups = [{"targets": [f"127.0.0.1:{port}"], "labels": {"deployment": name}} for name, port in sorted(releases.items())]
    return json.dumps(groups, indent=2) + "\n"


def prometheus_yml(state: Path, scrape_interval: str = "1s") -> str:
    """prometheus.yml: scrape the releases found in targets.json and evaluate deploy/alerts.yml's rules."""
    return f"""# Written by migration/production/stack.py; do not edit.
global:
  scrape_interval: {scrape_interval}
  evaluation_interval: {scrape_interval}
rule_files:
  - {state}/alerts.yml
scrape_configs:
  - job_name: assistant
    file_sd_configs:
      - files: [{state}/targets.json]
        refresh_interval: 1s
  - job_name: gitops-follower
    file_sd_configs:
      - files: [{state}/{FOLLOWER_TARGETS}]
        refresh_interval: 1s
"""
