"""The DSPy assistant being migrated by B-1006: documentation QA with roles and memory.

Public names are imported lazily (PEP 562), so `import assistant.memory_rehydrator` or
`assistant.ranking` does not pay for `import dspy` (3-6 s, mostly litellm).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "Assistant": "assistant.app",
    "Answer": "assistant.app",
    "DocsQA": "assistant.qa",
    "DocRetriever": "assistant.retrieval",
    "ModelSwitcher": "assistant.model_switcher",
    "TaskType": "assistant.model_switcher",
    "ExtractiveLM": "assistant.offline_lm",
    "OFFLINE_LABEL": "assistant.offline_lm",
    "make_lm": "assistant.lm",
    "lm_label": "assistant.lm",
    "RoleRegistry": "assistant.roles",
    "RolePrompt": "assistant.roles",
    "RoleFeedback": "assistant.role_refinement",
    "RoleRefiner": "assistant.role_refinement",
    "refine_roles": "assistant.role_refinement",
    "Validator": "assistant.rewards",
    "reward": "assistant.rewards",
    "RetryPolicy": "assistant.validation",
    "AssertionFailedError": "assistant.validation",
    "run_validated": "assistant.validation",
    "run_with_validation": "assistant.assertions",  # deprecated: warns, forwards to run_validated
    "MemoryRehydrator": "assistant.memory_rehydrator",
    "load_devset": "assistant.devset",
    "evaluate": "assistant.evaluation",
    "run_optimization": "assistant.optimization",
    "write_dashboard": "assistant.dashboard",
}

__all__ = [
    "Answer",
    "AssertionFailedError",
    "Assistant",
    "DocRetriever",
    "DocsQA",
    "ExtractiveLM",
    "MemoryRehydrator",
    "ModelSwitcher",
    "OFFLINE_LABEL",
    "RetryPolicy",
    "RoleFeedback",
    "RolePrompt",
    "RoleRefiner",
    "RoleRegistry",
    "TaskType",
    "Validator",
    "evaluate",
    "lm_label",
    "load_devset",
    "make_lm",
    "refine_roles",
    "reward",
    "run_optimization",
    "run_validated",
    "run_with_validation",
    "write_dashboard",
]

if TYPE_CHECKING:
    from assistant.app import Answer, Assistant
    from assistant.assertions import run_with_validation
    from assistant.dashboard import write_dashboard
    from assistant.devset import load_devset
    from assistant.evaluation import evaluate
    from assistant.lm import lm_label, make_lm
    from assistant.memory_rehydrator import MemoryRehydrator
    from assistant.model_switcher import ModelSwitcher, TaskType
    from assistant.offline_lm import OFFLINE_LABEL, ExtractiveLM
    from assistant.optimization import run_optimization
    from assistant.qa import DocsQA
    from assistant.retrieval import DocRetriever
    from assistant.rewards import Validator, reward
    from assistant.role_refinement import RoleFeedback, RoleRefiner, refine_roles
    from assistant.roles import RolePrompt, RoleRegistry
    from assistant.validation import AssertionFailedError, RetryPolicy, run_validated


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'assistant' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
