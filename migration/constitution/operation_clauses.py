"""Checkers of the operation articles (P1-P5)."""
from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any, Mapping, Sequence

from migration.constitution.articles import Scope
from migration.constitution.model import COMPLIES, NOT_APPLICABLE, Operation, Verdict, World, violated
from migration.constitution.registry import clause

_PATHLIKE = re.compile(r"^[^\s]*(/|\.[A-Za-z0-9]+$)[^\s]*$")


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


@clause("P1", Scope.OPERATIONS)
def protected_kept(op: Operation, params: Mapping[str, Any], world: World) -> Verdict:
    """A delete or move never takes a protected path, its contents, or a folder holding one."""
    if op.kind not in ("delete", "move") or op.details.get("path") is None:
        return NOT_APPLICABLE
    target = world.path(op.details["path"])
    for name in params["protected"]:
        kept = world.path(name)
        if _inside(target, kept):
            what = "is" if target == kept else "is inside"
            return violated(f"{target} {what} the protected path {name}")
        if _inside(kept, target):
            return violated(f"{target} contains the protected path {name}")
    return COMPLIES


@clause("P2", Scope.OPERATIONS)
def rollback_planned(op: Operation, params: Mapping[str, Any], world: World) -> Verdict:
    """A deployment names a rollback plan: text, or a file that exists."""
    if op.kind != "deploy":
        return NOT_APPLICABLE
    plan = op.details.get("rollback")
    if not isinstance(plan, str) or not plan.strip():
        return violated(f"deploying {op.details.get('target', '?')!r} with no rollback plan (rollback={plan!r})")
    if _PATHLIKE.match(plan.strip()) and not world.path(plan.strip()).exists():
        return violated(f"the rollback plan {plan!r} names a file that does not exist under {world.root}")
    return COMPLIES


def _arguments(op: Operation) -> list[str]:
    raw = op.details.get("args", op.details.get("command", ()))
    if isinstance(raw, (str, bytes)):
        text = os.fsdecode(raw)
        try:
            return shlex.split(text)
        except ValueError:
            return text.split()
    return [os.fsdecode(a) if isinstance(a, (str, bytes, os.PathLike)) else str(a) for a in raw or ()]


def _push_arguments(args: Sequence[str]) -> list[str] | None:
    """The arguments after `push` when `args` run `git push`, else None."""
    for i, arg in enumerate(args):
        if os.path.basename(arg) == "git":
            rest = list(args[i + 1 :])
            return rest[rest.index("push") + 1 :] if "push" in rest else None
    return None


def _forcing(arg: str, options: Sequence[str]) -> bool:
    if arg.startswith("+") and len(arg) > 1:
        return True  # +refspec: force-update that ref
    if arg.startswith("--"):
        return any(arg == o or arg.startswith(o + "=") for o in options if o.startswith("--"))
    short = {o[1] for o in options if len(o) == 2 and o.startswith("-")}
    return arg.startswith("-") and any(letter in short for letter in arg[1:])


@clause("P3", Scope.OPERATIONS)
def no_force_push(op: Operation, params: Mapping[str, Any], world: World) -> Verdict:
    """No forced push, whether announced as `push` or run as a `git push` command."""
    options = params["forcing_options"]
    if op.kind == "push":
        refspecs = [str(r) for r in op.details.get("refspecs", ())]
        forced = [r for r in refspecs if r.startswith("+")]
        if op.details.get("force") or forced:
            return violated(f"a forced push to {op.details.get('remote', '?')!r} (force={op.details.get('force')!r}, "
                            f"forced refspecs {forced})")
        return COMPLIES
    if op.kind != "run":
        return NOT_APPLICABLE
    pushed = _push_arguments(_arguments(op))
    if pushed is None:
        return NOT_APPLICABLE
    forcing = [arg for arg in pushed if _forcing(arg, options)]
    if forcing:
        return violated(f"`git push {' '.join(pushed)}` forces with {', '.join(forcing)}")
    return COMPLIES


@clause("P4", Scope.OPERATIONS)
def writes_inside(op: Operation, params: Mapping[str, Any], world: World) -> Verdict:
    """A write lands in the repository or the task's working folder."""
    if op.kind != "write" or op.details.get("path") is None:
        return NOT_APPLICABLE
    target = world.path(op.details["path"])
    allowed = (world.root, *world.workdirs)
    if any(_inside(target, folder) for folder in allowed):
        return COMPLIES
    return violated(f"{target} is outside the repository {world.root}"
                    + (f" and the task's working folder(s) {', '.join(map(str, world.workdirs))}" if world.workdirs else ""))


@clause("P5", Scope.OPERATIONS)
def within_budget(op: Operation, params: Mapping[str, Any], world: World) -> Verdict:
    """What was used of a resource is within its budget."""
    if op.kind != "consume" or op.details.get("budget") is None:
        return NOT_APPLICABLE
    used, budget = float(op.details.get("used", 0)), float(op.details["budget"])
    if used > budget:
        return violated(f"{op.details.get('resource', 'a resource')}: used {used:g}, over its budget of {budget:g}")
    return COMPLIES
