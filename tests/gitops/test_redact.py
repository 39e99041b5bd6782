"""gitops/redact.py: every secret shape GitHub posts could leak is masked; ordinary text is not."""
from __future__ import annotations

import pytest

from gitops.redact import MASK, Redactor, redact

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
