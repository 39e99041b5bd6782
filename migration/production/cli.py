"""`scripts/production up|status|down|rollback|follow`: production from deploy/production.yaml.

up: build what is missing (nginx and Prometheus with apt-get, the two DSPy environments as
Task 1.1 does), then reconcile. status: what runs, each part's health. down: stop it all.
rollback: the stable release back at 100% (a commit), with a reason (--reason, or
GITOPS_ROLLBACK_REASON: what `gitops rollback` passes from the workflow's rollback input); with
GITOPS_PRODUCTION_URL set, the commit is pushed to the branch that production follows (remote.py).
follow: pull mode, until stopped: apply each new commit of the file on --branch of --remote
(the proxy and Prometheus on the fixed --proxy-port and --prometheus-port: their URLs are the
pipeline's settings), and report what was applied on --status-port (follow.py).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from gitops.run.deploying import production_url
from gitops.run.rollback import BY_VARIABLE, REASON_VARIABLE
from migration.production import follow, reconciler, releases, stack
from migration.production.analysis import Prometheus
from migration.production.deployment import LocalProduction
from migration.production.follower_status import Board, FollowStatus, serve, serving
from migration.production.history import BRANCH, GitHistory, HistoryError, in_git_repo
from migration.production.manual_rollback import reason_text, roll_back, rolled_back
from migration.production.push_access import git_environment
from migration.production.remote import RemoteError, RemoteHistory, RemoteProduction, Settings
from migration.production.spec import SPEC_PATH, Spec, SpecError, load, parse
from migration.production.tools import ToolError


def _environments(root: Path, spec: Spec) -> None:
    from migration.environments.sides import VERSIONS, environments

    for name, env in environments(root, dict(os.environ)).items():
        if name in {r.environment for r in spec.releases}:
            setup = env.create(VERSIONS[name])
            print(f"environment {name}: {'verified' if setup.reused else 'built'} in {setup.seconds:.1f} s")


def up(root: Path, folder: Path, spec_path: Path) -> int:
    spec = load(spec_path)  # first: a broken file stops here, before anything is started or changed
    _environments(root, spec)
    state = reconciler.reconcile(spec, root, folder, dict(os.environ))
    print(f"production is up: proxy {state.proxy.url if state.proxy else '-'}, "
          f"prometheus {state.prometheus.url if state.prometheus else '-'}")
    return 0


def _followed(text: str | None, spec_path: Path, checked_in: Spec) -> Spec:
    """The followed branch's declaration; the checked-in one when its tip is a file the follower refused."""
    try:
        return parse(text, spec_path) if text else checked_in
    except SpecError as error:
        print(f"the followed branch's tip does not parse ({error}); rolling back from {spec_path} as checked in")
        return checked_in


def rollback(root: Path, folder: Path, spec_path: Path, reason: str, by: str) -> int:
    checked_in = load(spec_path)
    said = reason_text(reason, spec_path)
    if production_url(os.environ):  # elsewhere: pushed to the branch its follower applies
        settings = Settings.from_environ(os.environ)
        access = git_environment(os.environ, root / ".gitops" / "credentials")
        history = RemoteHistory(root, settings.remote, settings.branch, git_env=access)
        production = RemoteProduction(settings, history, Prometheus(settings.prometheus_url))
        roll_back(_followed(history.read(), spec_path, checked_in), checked_in, production, said, by)
        return 0
    history = GitHistory(root) if in_git_repo(root) else None
    text = history.read() if history else None
    declared = parse(text, spec_path) if text else checked_in  # production as last declared
    _environments(root, rolled_back(declared, checked_in))
    roll_back(declared, checked_in, LocalProduction(root, folder, dict(os.environ), history), said, by)
    return 0


def follow_branch(root: Path, folder: Path, args: argparse.Namespace) -> int:
    from migration.environments.sides import VERSIONS, environments

    environ = dict(os.environ)
    for name, env in environments(root, environ).items():  # once: a commit then only starts processes
        print(f"environment {name}: {'verified' if env.create(VERSIONS[name]).reused else 'built'}", flush=True)
    ports = stack.Ports(args.proxy_port, args.prometheus_port)
    board = Board(FollowStatus(args.remote, args.branch))
    server = serve(board, args.status_port or releases.free_port())
    follow.register(folder, server.server_address[1])
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    log = lambda message: print(message, flush=True)  # noqa: E731
    print(f"following {args.branch} of {args.remote} every {args.interval:g} s; status on "
          f"http://127.0.0.1:{server.server_address[1]}/status; proxy :{args.proxy_port}, "
          f"prometheus :{args.prometheus_port}", flush=True)
    follow.follow(follow.GitSource(args.remote, args.branch, folder / follow.MIRROR),
                  lambda spec: serving(reconciler.reconcile(spec, root, folder, environ, log, ports)),
                  board, folder, args.interval, stopping, log)
    server.shutdown()
    print("follower stopped; production keeps serving (`scripts/production down` stops it)", flush=True)
    return 0


def status(folder: Path) -> int:
    state = stack.load_state(folder)
    report = state.as_dict()
    report["proxy_running"] = stack.running(state.proxy)
    report["prometheus_running"] = stack.running(state.prometheus)
    report["serving_generation"] = stack.serving_generation(state.proxy) if state.proxy else None
    report["release_health"] = {n: releases.health(i.port) for n, i in state.releases.items()}
    print(json.dumps(report, indent=2, sort_keys=True))
    healthy = report["proxy_running"] and report["prometheus_running"] and all(report["release_health"].values())
    return 0 if healthy else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/production", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("up", "status", "down", "rollback", "follow"))
    parser.add_argument("--remote", help="follow: the git remote (URL or path) production follows")
    parser.add_argument("--branch", default=BRANCH, help=f"follow: its branch (default {BRANCH})")
    parser.add_argument("--interval", type=float, default=2.0, help="follow: seconds between fetches")
    parser.add_argument("--proxy-port", type=int, default=None, help="follow: the proxy's fixed port")
    parser.add_argument("--prometheus-port", type=int, default=None, help="follow: Prometheus' fixed port")
    parser.add_argument("--status-port", type=int, default=None, help="follow: the follower's own port")
    parser.add_argument("--reason", default=os.environ.get(REASON_VARIABLE, ""), help="rollback: why")
    parser.add_argument("--by", default=os.environ.get(BY_VARIABLE) or os.environ.get("USER", "unknown"),
                        help="rollback: who asks")
    parser.add_argument("--root", type=Path, default=Path.cwd())
    parser.add_argument("--spec", type=Path, default=None, help=f"default: <root>/{SPEC_PATH}")
    parser.add_argument("--state", type=Path, default=None, help=f"default: <root>/{stack.STATE_DIR}")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    folder = (args.state or root / stack.STATE_DIR).resolve()
    try:
        if args.command == "up":
            return up(root, folder, args.spec or root / SPEC_PATH)
        if args.command == "status":
            return status(folder)
        if args.command == "follow":
            if not args.remote or not args.proxy_port or not args.prometheus_port:
                parser.error("follow needs --remote, --proxy-port and --prometheus-port")
            return follow_branch(root, folder, args)
        if args.command == "rollback":
            return rollback(root, folder, args.spec or root / SPEC_PATH, args.reason, args.by)
        reconciler.down(folder)
        return 0
    except (SpecError, ToolError, stack.StackError, releases.ReleaseError, HistoryError, RemoteError,
            ValueError) as error:
        print(f"scripts/production {args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
