"""Which language model to use: `GITOPS_LM` names any litellm model, else the offline LM."""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import dspy

from assistant.offline_lm import ExtractiveLM

LM_VARIABLE = "GITOPS_LM"
# A real model behind a flaky endpoint: litellm's default retries take 12-19 s per call
# when the server is down (FACTS.md); fail fast instead and let the caller report it.
DEFAULT_NUM_RETRIES = 1


def make_lm(
    environ: Mapping[str, str] | None = None, *, variable: str = LM_VARIABLE
) -> dspy.LM:
    """`dspy.LM(environ[variable])`, or the deterministic offline LM when it is unset.

    `<variable>_API_BASE` and `<variable>_API_KEY` reach a local OpenAI-compatible server.
    """
    env = os.environ if environ is None else environ
    model = env.get(variable, "").strip()
    if not model:
        return ExtractiveLM()
    kwargs: dict[str, Any] = {"num_retries": DEFAULT_NUM_RETRIES}
    if env.get(f"{variable}_API_BASE"):
        kwargs["api_base"] = env[f"{variable}_API_BASE"]
    if env.get(f"{variable}_API_KEY"):
        kwargs["api_key"] = env[f"{variable}_API_KEY"]
    return dspy.LM(model, **kwargs)


def lm_label(lm: Any) -> str:
    """How reports name the LM that produced their numbers."""
    label = getattr(lm, "label", None)
    return str(label) if label else str(getattr(lm, "model", type(lm).__name__))
