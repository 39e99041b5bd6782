"""Text from outside (a task's stderr, a title, evidence) placed safely in GitHub Markdown.

What is posted mixes our Markdown with text nobody checked: a task's output that holds ```
closes the code block it is in and the rest renders as Markdown (images, headings, @mentions
that notify people); `|` in a title splits a table row; `</details>` closes the evidence early;
a backtick run ends a fence. Each function here escapes for one context (GitHub Flavored
Markdown: https://github.github.com/gfm/):

- `code_block`: fenced code (a fence longer than any backtick run inside: GFM 4.5);
- `cell`: a table cell (one line, `|` escaped: GFM 4.10), inline-safe;
- `inline`: a run of text in a paragraph or heading: HTML, images and @mentions neutralised;
- `html_text`: inside an HTML element (`<summary>`): HTML-escaped;
- `mermaid_label`: a quoted Mermaid label, with Mermaid's entity codes
  (https://mermaid.js.org/syntax/flowchart.html#entity-codes-to-escape-characters).
"""
from __future__ import annotations

import html
import re

# A zero-width space after `@` keeps the text readable and stops GitHub linking (and notifying)
# the user or team: https://docs.github.com/en/get-started/writing-on-github/getting-started-with-writing-and-formatting-on-github/basic-writing-and-formatting-syntax#mentioning-people-and-teams
ZWSP = "\u200b"
MENTION = re.compile(r"(?<![\w`])@(?=[A-Za-z0-9])")
BACKTICKS = re.compile(r"`+")
# `![alt](url)` loads the url when the page is shown (a tracking pixel); a link stays a link.
IMAGE = re.compile(r"!\[")
# Characters Mermaid reads inside a quoted label, as its numeric entity codes.
MERMAID_CODES = {"#": "#35;", '"': "#quot;", "`": "#96;", "<": "#60;", ">": "#62;", "&": "#38;"}


def mentions(text: str) -> str:
    """`@name` shown as it is but not linked: nobody is notified by a task's output."""
    return MENTION.sub("@" + ZWSP, text)


def code_block(text: str, info: str = "text") -> str:
    """A fenced code block that no backtick run inside can close (its fence is longer)."""
    longest = max((len(run) for run in BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def inline(text: str) -> str:
    """Text inside a paragraph, heading or list item: on one line; no HTML, image or @mention."""
    text = " ".join(str(text).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return mentions(IMAGE.sub(r"!\\[", text))


def cell(text: str, limit: int = 300) -> str:
    """A table cell: `inline` text, capped, with `|` escaped so it cannot start another cell."""
    flat = " ".join(str(text).split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    # A backslash before our `\|` would pair with it (GFM 4.10 scans `\\` as one escape): doubled first.
    return inline(flat).replace("\\", "\\\\").replace("|", "\\|")


def html_text(text: str) -> str:
    """Text inside an HTML element (`<summary>…</summary>`): escaped, so no tag can close it."""
    return mentions(html.escape(" ".join(str(text).split()), quote=True))


def mermaid_label(text: str) -> str:
    """The inside of a quoted Mermaid label (`id["…"]`): one line, entity codes for `"`, `#`, `` ` ``, `<`, `>`, `&`."""
    flat = " ".join(str(text).split())
    return "".join(MERMAID_CODES.get(char, char) for char in flat)


def mermaid_block(text: str) -> str:
    """A Mermaid diagram as a fenced block (labels must already be `mermaid_label`s)."""
    return code_block(text, "mermaid")


FENCE_LINE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def close_open_fence(text: str) -> str:
    """The text with a fence it leaves open (a cut in the middle of a code block) closed.

    GFM 4.5: a fence closes with a line of the same character, at least as long, and nothing else.
    """
    opened: str | None = None
    for line in text.split("\n"):
        found = FENCE_LINE.match(line)
        if not found:
            continue
        fence, rest = found.groups()
        if opened is None:
            if not (fence[0] == "`" and "`" in rest):  # a backtick fence's info string has no backtick
                opened = fence
        elif fence[0] == opened[0] and len(fence) >= len(opened) and not rest.strip():
            opened = None
    return text if opened is None else f"{text}\n{opened}"
