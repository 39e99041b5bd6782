"""pytest-benchmark suites that Task 2.3 runs inside each environment (never collected by the main test run)."""
