"""A stand-in for the uv commands `migration.environments.environment` runs; appends each call to $FAKE_UV_LOG.

It builds the files uv would (a venv skeleton, dspy metadata with $FAKE_DSPY_REQUIRES, a lock
that lists the requirements and constraints) and prints uv's summary lines, in milliseconds.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def main(args: list[str]) -> int:
    with open(os.environ["FAKE_UV_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(args) + "\n")
    if args[0] == "venv":
        env = Path(args[-1])
        (env / "bin").mkdir(parents=True, exist_ok=True)
        (env / "lib" / "python3.11" / "site-packages").mkdir(parents=True, exist_ok=True)
        (env / "bin" / "python").write_text("#!/bin/sh\n")
    elif args[:2] == ["pip", "install"] and "--target" in args:
        version = args[-1].split("==")[1]
        info = Path(option(args, "--target")) / f"dspy-{version}.dist-info"
        info.mkdir(parents=True)
        requires = "".join(f"Requires-Dist: {r}\n" for r in json.loads(os.environ.get("FAKE_DSPY_REQUIRES", "[]")))
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: dspy\nVersion: {version}\n{requires}")
        print("Resolved 1 package in 1ms\nPrepared 1 package in 1ms", file=sys.stderr)
    elif args[:2] == ["pip", "compile"]:
        wanted = [line for name in ("requirements.in", "constraints.txt")
                  for line in Path(name).read_text().splitlines() if not line.startswith("#")]
        Path(option(args, "-o")).write_text("".join(f"{line}\n" for line in wanted))
    elif args[:2] == ["pip", "sync"]:
        lock = Path(args[-1])
        installed = lock.parent / "installed.txt"
        count = len(lock.read_text().splitlines())
        print(f"Resolved {count} packages in 1ms", file=sys.stderr)
        if not installed.exists() or installed.read_text() != lock.read_text():
            installed.write_text(lock.read_text())
            print(f"Installed {count} packages in 1ms", file=sys.stderr)
    elif args[:2] == ["pip", "check"]:
        print("Checked 3 packages in 1ms\nAll installed packages are compatible")
    else:
        print(f"fake uv: unexpected command {args}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
