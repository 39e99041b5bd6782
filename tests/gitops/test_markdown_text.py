"""gitops/markdown_text.py: text from outside cannot break out of the Markdown context it is put in."""
from __future__ import annotations

from gitops.markdown_text import ZWSP, cell, close_open_fence, code_block, html_text, inline, mermaid_label

STDERR = "ok\n```\n# Pwned\n![x](https://evil.example/p.png) @octocat\n````\nend"


def test_a_code_block_fence_is_longer_than_any_backtick_run_inside():
    assert code_block(STDERR) == "`````text\n" + STDERR + "\n`````"
    assert code_block("plain") == "```text\nplain\n```"


def test_a_cell_is_one_line_with_pipes_escaped_and_no_html_image_or_mention():
    assert cell("a | b\n</details> ![i](u) @ada\\|") == "a \\| b &lt;/details&gt; !\\\\[i](u) @" + ZWSP + "ada\\\\\\|"


def test_a_cell_is_capped():
    assert cell("x" * 400, limit=10) == "x" * 9 + "…"


def test_inline_text_keeps_code_spans_and_links_but_not_html_images_or_mentions():
    assert inline("Fix `a` for @team/x <img src=x> ![p](u) [doc](u) me@example.com") == (
        "Fix `a` for @" + ZWSP + "team/x &lt;img src=x&gt; !\\[p](u) [doc](u) me@example.com")


def test_html_text_cannot_close_its_element():
    assert html_text('</summary></details><b>"x"</b> @ada') == (
        "&lt;/summary&gt;&lt;/details&gt;&lt;b&gt;&quot;x&quot;&lt;/b&gt; @" + ZWSP + "ada")


def test_a_mermaid_label_uses_entity_codes():
    assert mermaid_label('Say "hi" ``` <b> #1 & [x]\nnext') == "Say #quot;hi#quot; #96;#96;#96; #60;b#62; #35;1 #38; [x] next"


def test_a_fence_a_cut_leaves_open_is_closed_with_its_own_fence():
    assert close_open_fence("a\n````text\nb") == "a\n````text\nb\n````"
    assert close_open_fence("a\n````text\n```\nb") == "a\n````text\n```\nb\n````"  # ``` does not close ````
    assert close_open_fence("```text\nb\n```\nafter") == "```text\nb\n```\nafter"
    assert close_open_fence("inline ``` is no fence") == "inline ``` is no fence"
