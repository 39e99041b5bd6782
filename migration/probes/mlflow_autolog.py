"""Task 5.1's DSPy 3.0 measurement, run in the candidate environment of Task 1.1.

`python -m migration.probes.mlflow_autolog URI EXPERIMENT ARTIFACTS` traces the lab program
with `mlflow.dspy.autolog` into the tracking store URI (the experiment's artifacts under the
ARTIFACTS folder) and prints one JSON line: what `mlflow_lab.autolog_traces` found and the
versions of dspy and mlflow it ran with.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from migration.tracking import mlflow_lab as lab


def main(argv: list[str]) -> None:
    uri, experiment, artifacts = argv
    with lab.tracking(uri, experiment, Path(artifacts)):
        found = lab.autolog_traces()
    print(json.dumps({**found, "versions": lab.versions()}))


if __name__ == "__main__":
    main(sys.argv[1:])
