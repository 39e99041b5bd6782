"""stack.json round-trips; `scripts/production status` on nothing running says so and exits 1; tools are found on PATH."""
from __future__ import annotations

import json
from pathlib import Path

from migration.production import cli, stack
from migration.production.releases import Instance
from migration.production.tools import find


def test_the_state_round_trips(tmp_path: Path) -> None:
    state = stack.State(stack.Service(10, 8080), stack.Service(11, 9090),
                        {"canary": Instance("canary", "candidate", (("GITOPS_FAULT", "error=0.5"),), 9002, 12)},
                        {"canary": 100}, "abc")
    stack.save_state(tmp_path, state)
    assert stack.load_state(tmp_path).as_dict() == state.as_dict()
    assert stack.load_state(tmp_path / "nowhere").as_dict() == stack.State().as_dict()


def test_status_with_nothing_running_exits_1(tmp_path: Path, capsys) -> None:
    assert cli.main(["status", "--root", str(tmp_path), "--state", str(tmp_path / "production")]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["proxy_running"], report["prometheus_running"], report["releases"]) == (False, False, {})


def test_a_tool_is_found_on_path(tmp_path: Path) -> None:
    tool = tmp_path / "promtool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    assert find("promtool", {"PATH": str(tmp_path)}) == str(tool)
    assert find("no-such-tool-here", {"PATH": str(tmp_path)}) is None
