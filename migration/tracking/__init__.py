"""The MLflow lab of Tasks 5.1 and 5.2: a tiny offline DSPy program and the tracking plumbing around it."""
