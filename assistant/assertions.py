"""Deprecated: the custom assertion framework now lives in `assistant.rewards` and `assistant.validation`.

B-1006 Task 3.1 moved validators and reward functions to `assistant.rewards` and the retry
loop onto `dspy.BestOfN` (`assistant.validation.run_validated`). Every old name still
resolves here, with a DeprecationWarning naming its new home; behaviour is unchanged.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

_MOVED: dict[str, tuple[str, str]] = {
    **{
        name: ("assistant.rewards", name)
        for name in (
            "Check",
            "Validator",
            "failed_validators",
            "non_empty",
            "max_words",
            "grounded",
            "mentions",
            "differs_from",
        )
    },
    **{
        name: ("assistant.validation", name)
        for name in (
            "OnFailure",
            "RetryPolicy",
            "Feedback",
            "AttemptRecord",
            "ValidatedResult",
            "AssertionFailedError",
            "outputs_of",
        )
    },
    "run_with_validation": ("assistant.validation", "run_validated"),
}


def __getattr__(name: str) -> Any:
    """Resolve an old name from its new module, warning that it moved."""
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, new_name = _MOVED[name]
    warnings.warn(
        f"assistant.assertions.{name} is deprecated (B-1006 Task 3.1); use {module}.{new_name}",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(module), new_name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_MOVED])
