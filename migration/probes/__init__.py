"""Scripts that run *inside* an environment and print what they measured as one JSON line.

Run by file path (`python migration/probes/<name>.py ...`) or as a module
(`python -m migration.probes.<name>`) with an environment's interpreter; they import only the
standard library, dspy, mlflow, `assistant` and `migration` code that is safe under either dspy.
"""
