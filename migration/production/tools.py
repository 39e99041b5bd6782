"""The real parts production runs on: nginx, prometheus and promtool, found on PATH or installed.

On Debian/Ubuntu as root they are installed with apt-get (packages `nginx` and `prometheus`;
promtool ships with prometheus). Elsewhere the error says what to install: the project starts
them itself and never uses the system services.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping

PACKAGES = {"nginx": "nginx", "prometheus": "prometheus", "promtool": "prometheus", "wrk": "wrk"}
# /usr/sbin holds nginx on Debian, and a non-login shell may not have it on PATH.
EXTRA_PATH = ("/usr/sbin", "/usr/bin", "/sbin")


class ToolError(RuntimeError):
    """A tool is missing and cannot be installed here; the message says how to install it."""


def find(name: str, environ: Mapping[str, str]) -> str | None:
    path = os.pathsep.join([environ.get("PATH", os.defpath), *EXTRA_PATH])
    return shutil.which(name, path=path)


def ensure(names: tuple[str, ...], environ: Mapping[str, str], log: Callable[[str], None] = print) -> dict[str, str]:
    """The path of each tool, installing the missing ones with apt-get when this is Debian and root."""
    missing = [n for n in names if find(n, environ) is None]
    if missing:
        packages = sorted({PACKAGES[n] for n in missing})
        if shutil.which("apt-get") is None or os.geteuid() != 0:
            raise ToolError(f"{', '.join(missing)} not found: install {' and '.join(packages)} (Debian/Ubuntu: "
                            f"`apt-get install {' '.join(packages)}`; macOS: `brew install {' '.join(packages)}`)")
        log(f"installing {' '.join(packages)} with apt-get (missing: {', '.join(missing)})")
        env = {**environ, "DEBIAN_FRONTEND": "noninteractive"}
        # Lock timeout: other apt users on the machine are waited for, not failed on.
        for command in (["apt-get", "-o", "DPkg::Lock::Timeout=600", "update", "-q"],
                        ["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q", "--no-install-recommends",
                         *packages]):
            proc = subprocess.run(command, env=env, capture_output=True, text=True, errors="replace")
            if proc.returncode != 0:
                raise ToolError(f"`{' '.join(command)}` exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    found = {n: find(n, environ) for n in names}
    gone = [n for n, p in found.items() if p is None]
    if gone:
        raise ToolError(f"{', '.join(gone)} still not found after installing; install {PACKAGES[gone[0]]} by hand")
    return {n: str(p) for n, p in found.items()}
