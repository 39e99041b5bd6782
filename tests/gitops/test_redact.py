"""gitops/redact.py: every secret shape GitHub posts could leak is masked; ordinary text is not."""
from __future__ import annotations

import io

import pytest

from gitops.redact import MASK, Redactor, redact
from tests.gitops.secret_samples import ENV_SECRET, ENVIRON, PEM_BODY, SAMPLES, hostile_stderr, leaks

CLASSIC = "ghp_" + "A1b2C3d4" * 5
FINE_GRAINED = "github_pat_11ABCDEFG0" + "x" * 60


@pytest.mark.parametrize(
    "text, secret",
    [
        (f"git push https://x:{CLASSIC}@github.com/o/r", CLASSIC),
        (f"token {CLASSIC} expired", CLASSIC),
        (f"GH_PAT={FINE_GRAINED}", FINE_GRAINED),
        ("oauth gho_" + "z" * 36, "gho_" + "z" * 36),
        ("installation ghs_" + "9" * 36, "ghs_" + "9" * 36),
        ("curl -H 'Authorization: Bearer eyJhbGciOi.JIUzI1.NiJ9abc' https://api", "eyJhbGciOi.JIUzI1.NiJ9abc"),
        ("Authorization: token s3cr3t-value", "s3cr3t-value"),
        ("sent bearer abcdefghij1234567890", "abcdefghij1234567890"),
        ("key id AKIAIOSFODNN7EXAMPLE in use", "AKIAIOSFODNN7EXAMPLE"),
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCY"),
        ("clone https://deploy:hunter2hunter2@git.example.com/r.git", "hunter2hunter2"),
        ("postgres://app:pa55word@db:5432/x", "pa55word"),
        ("export OPENAI_API_KEY=sk-proj-abcdef123456", "sk-proj-abcdef123456"),
        ("DB_PASSWORD=correct-horse", "correct-horse"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----", "MIIEow"),
    ],
)
def test_known_secret_shapes_are_masked(text, secret):
    out = redact(text)
    assert secret not in out
    assert MASK in out


def test_the_values_of_secret_named_variables_are_masked_wherever_they_appear():
    environ = {"GITHUB_TOKEN": "plain-looking-value", "MY_SECRET": "opensesame", "DEPLOY_KEY": "k3y-material",
               "DB_PASSWORD": "pw-1234", "HOME": "/home/ada", "FLAG_TOKEN": "true", "SHORT_KEY": "ab"}
    text = "used plain-looking-value, opensesame and k3y-material and pw-1234 at /home/ada: true ab"
    assert Redactor.from_environ(environ).redact(text) == "used ***, *** and *** and *** at /home/ada: true ab"


def test_a_secret_that_contains_another_is_masked_whole():
    environ = {"A_TOKEN": "abcd", "B_TOKEN": "abcdefgh"}
    assert Redactor.from_environ(environ).redact("x abcdefgh y abcd") == "x *** y ***"


@pytest.mark.parametrize(
    "text",
    [
        "Task 2.1 failed: 3 of 5 checks passed (see https://github.com/o/r/actions/runs/1)",
        "the key insight: the bearer of the token is the reviewer",
        "| Criterion | Result |\n|---|---|\n| tests pass | failed |",
        "ssh://git@github.com/o/r.git",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert redact(text) == text


@pytest.mark.parametrize("text, secret", SAMPLES, ids=[f"sample-{i}" for i in range(len(SAMPLES))])
def test_every_secret_shape_of_issue_12_is_masked(text, secret):
    out = Redactor.from_environ(ENVIRON).redact(text)
    assert secret not in out and secret[-12:] not in out, out


def test_all_samples_at_once_leave_nothing():
    out = Redactor.from_environ(ENVIRON).redact(hostile_stderr())
    assert leaks(out) == [], out


def test_a_private_key_whose_begin_line_was_cut_is_masked_from_its_body_to_its_end_line():
    tail = "\n".join(PEM_BODY[1:]) + "\n-----END RSA PRIVATE KEY-----\nexit status 1"
    assert redact(tail) == "***\nexit status 1"


def test_a_short_keyword_value_is_masked_where_it_stands_and_nowhere_else():
    assert redact("password: x\nx marks the spot") == "password: ***\nx marks the spot"


def test_on_github_each_value_masked_is_registered_with_add_mask():
    out = io.StringIO()
    redactor = Redactor.from_environ({"GITHUB_ACTIONS": "true", **ENVIRON}, stream=out)
    assert redactor.redact(f"used {ENV_SECRET} and api_key: registered-once") == "used *** and api_key: ***"
    redactor.redact(f"again {ENV_SECRET} and registered-once")
    assert out.getvalue() == f"::add-mask::registered-once\n::add-mask::{ENV_SECRET}\n"


def test_a_value_found_in_context_is_masked_by_value_from_then_on():
    redactor = Redactor()
    key = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(PEM_BODY) + "\n-----END RSA PRIVATE KEY-----"
    assert redactor.redact(key) == "***"
    assert redactor.redact(f"line 2 was {PEM_BODY[1]}") == "line 2 was ***"
    assert Redactor().redact_value(["-----BEGIN RSA PRIVATE KEY-----", *PEM_BODY]) == ["***", "***", "***", "***"]


def test_off_github_nothing_is_printed(capsys):
    Redactor.from_environ(ENVIRON).redact(f"used {ENV_SECRET}")
    assert capsys.readouterr().out == ""


def test_json_like_values_are_redacted_but_for_the_keys_kept():
    redactor = Redactor.from_environ(ENVIRON)
    value = {"criterion": f"uses {ENV_SECRET}", "evidence": [f"saw {ENV_SECRET}", 3], "n": 1.5}
    assert redactor.redact_value(value, keep=frozenset({"criterion"})) == {
        "criterion": f"uses {ENV_SECRET}", "evidence": ["saw ***", 3], "n": 1.5}
