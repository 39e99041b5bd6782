"""Inline text clean-up shared by the task-list readers: emoji, bold markers, checkboxes."""
from __future__ import annotations

import re
import unicodedata

_EMPHASIS_RE = re.compile(r"(\*\*|__)(.+?)\1")
# `- [x] text` items (`[✅]` is done too): the mark, then the text
CHECKBOX_RE = re.compile(r"\[([ xX✅]?)\]\s*(.*)", re.S)


def strip_emoji(text: str) -> str:
    """Drop emoji and collapse whitespace: "🛑 Pause After" -> "Pause After"."""
    kept = "".join(ch for ch in text if not is_emoji(ch))
    return " ".join(kept.split())


def is_emoji(ch: str) -> bool:
    # "So" covers pictographs; the rest are the joiners and modifiers emoji sequences use.
    return (unicodedata.category(ch) == "So" or ch in "\ufe0e\ufe0f\u200d\u20e3"
            or "\U0001f3fb" <= ch <= "\U0001f3ff")


def unbold(text: str) -> str:
    """Drop `**bold**` and `__bold__` markers."""
    return _EMPHASIS_RE.sub(r"\2", text)


def unmark(text: str) -> str:
    """Drop bold markers and one level of surrounding backticks from a field value."""
    text = unbold(text).strip()
    if len(text) > 1 and text[0] == text[-1] == "`":
        text = text.strip("`").strip()
    return text
