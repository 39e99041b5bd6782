"""Turning measurements into evidence: comparisons, verdicts and the generated reports in docs/."""
