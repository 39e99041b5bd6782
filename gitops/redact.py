"""Secrets out of everything the pipeline posts: issues, comments, job summaries, error messages.

GitHub masks the secrets it knows about in job logs, but not in what a job writes through the
API, and a task's stderr can hold tokens the runner never registered. So every text that leaves
the machine goes through `Redactor.redact` first.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

MASK = "***"
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|KEY", re.IGNORECASE)
# Values too short or too common to be a secret: masking them would shred ordinary text.
MIN_SECRET_LENGTH = 4
NOT_SECRETS = frozenset({"true", "false", "none", "null", "yes", "no", "0", "1"})

PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM private keys, whole block.
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL), MASK),
    # GitHub tokens: classic and fine-grained PATs, OAuth, user-to-server, server-to-server, refresh.
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"), MASK),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), MASK),
    # HTTP credentials: the header value, and bare bearer tokens.
    (re.compile(r"(?i)(\bauthorization\s*[:=]\s*)(?:(?:bearer|token|basic)\s+)?[^\s'\"]+"), r"\1" + MASK),
    (re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9\-._~+/]{8,}=*"), r"\1" + MASK),
    # AWS access key ids and secret keys written as assignments.
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16}\b"), MASK),
    (re.compile(r"(?i)(aws_secret_access_key\s*[:=]\s*['\"]?)[A-Za-z0-9/+=]{20,}"), r"\1" + MASK),
    # Passwords in URLs: scheme://user:password@host.
    (re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@"), r"\1" + MASK + "@"),
    # NAME=value assignments whose name says secret (shell exports, .env lines, logs).
    (re.compile(r"(?i)(\b[A-Z0-9_]*(?:TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY)[A-Z0-9_]*\s*=\s*)[^\s'\"]+"),
     r"\1" + MASK),
)


@dataclass(frozen=True)
class Redactor:
    """Masks known token shapes and the values of secret-named environment variables."""

    values: tuple[str, ...] = field(default=())

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Redactor:
        """A redactor that also masks the values of variables named like TOKEN/SECRET/PASSWORD/KEY."""
        found = {
            value
            for name, value in environ.items()
            if SECRET_NAME.search(name) and len(value) >= MIN_SECRET_LENGTH and value.lower() not in NOT_SECRETS
        }
        # Longest first, so a secret that contains another is masked whole.
        return cls(tuple(sorted(found, key=lambda v: (-len(v), v))))

    def redact(self, text: str) -> str:
        """The text with every secret replaced by ***."""
        for value in self.values:
            text = text.replace(value, MASK)
        for pattern, replacement in PATTERNS:
            text = pattern.sub(replacement, text)
        return text


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    """Shortcut: redact with the patterns and, when given, the environment's secret values."""
    return Redactor.from_environ(environ or {}).redact(text)
