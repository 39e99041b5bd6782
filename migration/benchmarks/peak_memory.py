"""The fixed workload of the peak-memory benchmark, run in a fresh interpreter: `python peak_memory.py ROOT N`.

Imports dspy and the assistant, then (traced by tracemalloc) builds the retriever over the
repository's docs and answers the first N dev questions with DocsQA over ExtractiveLM.
Prints JSON: peak RSS after the imports and after the workload (`ru_maxrss`, KiB on Linux)
and the workload's tracemalloc peak. Imports nothing from the test tools, so pytest's own
memory is not counted.
"""
from __future__ import annotations

import json
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any


def measure(root: Path, questions: int) -> dict[str, Any]:
    """Run the workload once; memory in KiB, the workload's duration in seconds."""
    import dspy

    from assistant.devset import load_devset
    from assistant.offline_lm import ExtractiveLM
    from assistant.qa import DocsQA
    from assistant.retrieval import DocRetriever

    after_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.perf_counter()
    tracemalloc.start()
    program = DocsQA(DocRetriever.from_repo(root))
    with dspy.context(lm=ExtractiveLM()):
        answers = [program(question=e.question).answer for e in load_devset().dev[:questions]]
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"rss_after_import_kib": after_import, "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "traced_peak_kib": round(traced_peak / 1024, 1), "workload_seconds": round(time.perf_counter() - began, 3),
            "answers": len([a for a in answers if a]), "dspy_version": dspy.__version__}


if __name__ == "__main__":
    real_stdout = sys.stdout
    sys.stdout = sys.stderr
    real_stdout.write(json.dumps(measure(Path(sys.argv[1]), int(sys.argv[2]))) + "\n")
