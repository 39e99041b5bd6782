"""Compare two pytest-benchmark JSON files (production, candidate): ratios, regressions, opportunities.

Pure functions on the files' JSON, tested on fixed inputs. A ratio is candidate / production
of one statistic measured in the same handler run: below 1 the candidate is faster or
smaller. The statistic is the median for the in-process benchmarks (robust to the odd
slow round), the min for `import dspy` (the least disturbed of N fresh interpreters), and
the measured KiB for memory.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

THRESHOLD = 0.10  # a ratio beyond 1 +/- this is a regression / an improvement...
CONTROL = "retrieval"  # ...unless the control moved more: it runs no dspy code, so its move is the machine's drift
VERDICTS = ("regressed", "improved", "unchanged", "control")


@dataclass(frozen=True)
class Measure:
    """One compared number: where it comes from in the benchmark JSON and how to show it."""

    key: str
    test: str
    stat: str  # a pytest-benchmark statistic ("median", "min") or "extra:<extra_info key>"
    unit: str  # "s" or "KiB"
    label: str


MEASURES = (
    Measure("forward", "test_docsqa_forward", "median", "s", "DocsQA forward over ExtractiveLM (one question)"),
    Measure("adapter_format", "test_adapter_format", "median", "s", "ChatAdapter.format (AnswerQuestion, 2 demos)"),
    Measure("adapter_parse", "test_adapter_parse", "median", "s", "ChatAdapter.parse (AnswerQuestion completion)"),
    Measure("retrieval", "test_retrieval", "median", "s", "retrieval, BM25 + TF-IDF + RRF (control: no dspy code)"),
    Measure("module_call", "test_module_call", "median", "s", "bare dspy.Module call (no LM)"),
    Measure("module_call_deep", "test_module_call_deep", "median", "s", "bare dspy.Module call, 100 frames deeper"),
    Measure("import_dspy", "test_import_dspy", "min", "s", "`import dspy` in a fresh interpreter (min of N)"),
    Measure("peak_rss", "test_peak_memory", "extra:peak_rss_kib", "KiB", "peak RSS of the fixed workload (ru_maxrss)"),
    Measure("traced_peak", "test_peak_memory", "extra:traced_peak_kib", "KiB", "tracemalloc peak of the workload after imports"),
)


def by_test(report: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """A benchmark JSON's results by test function name."""
    return {b["name"].split("[")[0]: b for b in report["benchmarks"]}


def value(report: Mapping[str, Any], measure: Measure) -> float:
    """The number a measure reads from one benchmark JSON (KeyError naming it when absent)."""
    found = by_test(report).get(measure.test)
    if found is None:
        raise KeyError(f"benchmark {measure.test} is missing from the results")
    if measure.stat.startswith("extra:"):
        return float(found["extra_info"][measure.stat.split(":", 1)[1]])
    return float(found["stats"][measure.stat])


def verdict(ratio: float, threshold: float = THRESHOLD) -> str:
    """'regressed', 'improved' or 'unchanged' (within the threshold)."""
    if ratio > 1 + threshold:
        return "regressed"
    if ratio < 1 - threshold:
        return "improved"
    return "unchanged"


def spread(report: Mapping[str, Any], measure: Measure) -> float | None:
    """IQR / median of a timed benchmark (its own run-to-run noise); None for single-run measures."""
    stats = by_test(report)[measure.test]["stats"]
    if measure.stat.startswith("extra:") or stats["rounds"] < 4 or not stats["median"]:
        return None
    return round(stats["iqr"] / stats["median"], 4)


def compare(production: Mapping[str, Any], candidate: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per measure: both values, the ratio, the verdict (against THRESHOLD or the control's drift) and the noise."""
    ratios = {}
    for measure in MEASURES:
        old, new = value(production, measure), value(candidate, measure)
        ratios[measure.key] = (old, new, round(new / old, 4) if old else float("inf"))
    threshold = max(THRESHOLD, round(abs(ratios[CONTROL][2] - 1), 4))
    rows = []
    for measure in MEASURES:
        old, new, ratio = ratios[measure.key]
        rows.append({"key": measure.key, "label": measure.label, "unit": measure.unit, "stat": measure.stat,
                     "production": old, "candidate": new, "ratio": ratio, "threshold": threshold,
                     "verdict": "control" if measure.key == CONTROL else verdict(ratio, threshold),
                     "noise": {"production": spread(production, measure), "candidate": spread(candidate, measure)}})
    return rows


def metrics(rows: list[dict[str, Any]]) -> dict[str, float]:
    """State keys for `performance_metrics`: bench_<key>_{production,candidate,ratio}, units in the key."""
    found: dict[str, float] = {}
    for row in rows:
        unit = "kib" if row["unit"] == "KiB" else "s"
        found[f"bench_{row['key']}_production_{unit}"] = row["production"]
        found[f"bench_{row['key']}_candidate_{unit}"] = row["candidate"]
        found[f"bench_{row['key']}_ratio"] = row["ratio"]
    return found


def analysis(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Which measures regressed, improved or held (beyond the rows' threshold), and which is the control."""
    result: dict[str, list[str]] = {name: [] for name in VERDICTS}
    for row in rows:
        result[row["verdict"]].append(row["key"])
    return result


def show(number: float, unit: str) -> str:
    """A value in a readable unit: us, ms, s, MiB."""
    if unit == "KiB":
        return f"{number / 1024:.1f} MiB" if number >= 1024 else f"{number:.0f} KiB"
    if number >= 1:
        return f"{number:.2f} s"
    return f"{number * 1e3:.2f} ms" if number >= 1e-3 else f"{number * 1e6:.1f} us"


def opportunities(rows: list[dict[str, Any]], candidate: Mapping[str, Any]) -> list[str]:
    """Where time and memory go under the candidate, computed from its numbers; regressions first."""
    row = {r["key"]: r for r in rows}
    found: list[str] = []
    worst = max(rows, key=lambda r: r["ratio"])
    if worst["verdict"] == "regressed":
        found.append(f"The largest regression is {worst['label']}: x{worst['ratio']:.2f} ({show(worst['production'], worst['unit'])}"
                     f" -> {show(worst['candidate'], worst['unit'])}); fix or profile it first.")
    found += module_call_cost(row, by_test(candidate)["test_module_call_deep"]["extra_info"])
    forward = row["forward"]["candidate"]
    parts = {"retrieval": row["retrieval"]["candidate"],
             "ChatAdapter format + parse": row["adapter_format"]["candidate"] + row["adapter_parse"]["candidate"]}
    rest = max(forward - sum(parts.values()), 0.0)
    shares = sorted({**parts, "everything else (module calls, the LM call path, validation)": rest}.items(),
                    key=lambda item: -item[1])
    found.append(f"DocsQA forward takes {show(forward, 's')} per question under DSPy 3.0.1: "
                 + "; ".join(f"{name} {show(t, 's')} ({t / forward:.0%})" for name, t in shares)
                 + f". The largest share, {shares[0][0]}, is where making one call faster pays most.")
    imported = row["import_dspy"]["candidate"]
    extra = by_test(candidate)["test_peak_memory"]["extra_info"]
    share = float(extra.get("litellm_share_of_dspy", 0.0))
    found.append(f"`import dspy` costs {show(imported, 's')}, as much as {imported / forward:.0f} forward calls; "
                 f"litellm is {share:.0%} of it (-X importtime). Keep one long-lived process per worker "
                 f"(never a fresh interpreter per request), and import dspy lazily on paths that do not need it.")
    after_import, peak = float(extra.get("rss_after_import_kib", 0)), row["peak_rss"]["candidate"]
    if peak:
        found.append(f"Peak RSS is {show(peak, 'KiB')}, {after_import / peak:.0%} of it reached by the imports alone; "
                     f"the workload itself allocates at most {show(row['traced_peak']['candidate'], 'KiB')} (tracemalloc): "
                     f"the memory is the libraries', so it grows with processes, not with requests.")
    return found


def module_call_cost(row: Mapping[str, Mapping[str, Any]], deep: Mapping[str, Any]) -> list[str]:
    """What a bare dspy.Module call costs under each version, and where a deep call's time goes."""
    shallow, deeper = row["module_call"], row["module_call_deep"]
    if shallow["verdict"] != "regressed" and deeper["verdict"] != "regressed":
        return []
    top = list(deep.get("profile_top", []))
    text = (f"A bare dspy.Module call (no LM) costs {show(shallow['production'], 's')} under 2.6.27 and "
            f"{show(shallow['candidate'], 's')} under 3.0.1 (x{shallow['ratio']:.0f}); {deep.get('deep_frames')} frames deeper: "
            f"{show(deeper['production'], 's')} and {show(deeper['candidate'], 's')}; every nested module (DocsQA, "
            f"BestOfN, Predict) pays it on every call. cProfile of the deep call under 3.0.1, most own time first: "
            f"{', '.join(top) or 'not recorded'} ({deep.get('modules_loaded')} modules loaded).")
    if any(entry.startswith("inspect.py") for entry in top):
        text += (" That is `inspect.stack()`, which 3.0.1's `Module.__getattribute__` runs on every `forward` lookup to "
                 "warn about direct `forward()` calls (stanfordnlp/dspy#8380); it walks every frame and scans "
                 "`sys.modules`, so its cost grows with stack depth and with the modules loaded. Nest fewer "
                 "dspy.Modules per request and call them from shallow stacks; take a DSPy release that checks the "
                 "caller in constant time (e.g. `sys._getframe(1)`) when there is one.")
    return [text]
