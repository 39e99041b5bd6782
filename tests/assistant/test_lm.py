"""Choosing the LM from the environment."""

from __future__ import annotations

import dspy

from assistant.lm import DEFAULT_NUM_RETRIES, lm_label, make_lm
from assistant.offline_lm import OFFLINE_LABEL, ExtractiveLM


def test_no_model_configured_means_the_offline_lm() -> None:
    lm = make_lm({})
    assert isinstance(lm, ExtractiveLM)
    assert lm_label(lm) == OFFLINE_LABEL == "offline DummyLM (deterministic extractive)"


def test_blank_model_means_the_offline_lm() -> None:
    assert isinstance(make_lm({"GITOPS_LM": "  "}), ExtractiveLM)


def test_gitops_lm_names_a_litellm_model() -> None:
    env = {
        "GITOPS_LM": "openai/local",
        "GITOPS_LM_API_BASE": "http://127.0.0.1:9/v1",
        "GITOPS_LM_API_KEY": "x",
    }
    lm = make_lm(env)  # constructing makes no request
    assert isinstance(lm, dspy.LM) and not isinstance(lm, ExtractiveLM)
    assert lm.model == "openai/local"
    assert lm.kwargs["api_base"] == "http://127.0.0.1:9/v1"
    assert lm.num_retries == DEFAULT_NUM_RETRIES
    assert lm_label(lm) == "openai/local"


def test_another_variable_can_name_the_model() -> None:
    assert make_lm({"GITOPS_LM_QA": "openai/qa"}, variable="GITOPS_LM_QA").model == "openai/qa"
