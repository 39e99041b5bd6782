"""Secrets out of everything the pipeline posts: issues, comments, job summaries, state, MLflow.

GitHub masks the secrets it knows about in job logs, but not in what a job writes through the
API, and a task's stderr can hold tokens the runner never registered. So every text that leaves
the machine goes through `Redactor.redact` first. Four sources of rules, in this order:

1. the values of the process environment's secret-named variables (`*TOKEN*`, `*KEY*`, ...), by value;
2. private keys, whole blocks and the body of one whose BEGIN line was cut off (a log tail);
3. detect-secrets' detectors (https://github.com/Yelp/detect-secrets/tree/master/detect_secrets/plugins),
   every regex-based plugin and the keyword plugin's assignment rules, applied line by line as
   detect-secrets applies them; imported lazily (~0.1 s), on the first text redacted;
4. gitleaks' rules for the token shapes detect-secrets lacks (`RULES` below, each cited), and the
   hand-written `PATTERNS` this module had before (header values, `NAME=value`, URL passwords).

On GitHub Actions every value masked is also registered with `::add-mask::`, so the job log
hides it too (https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands#masking-a-value-in-a-log).
"""
from __future__ import annotations

import functools
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Pattern, TextIO

MASK = "***"
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL", re.IGNORECASE)
# Values too short or too common to be a secret: masking them would shred ordinary text.
MIN_SECRET_LENGTH = 4
NOT_SECRETS = frozenset({"true", "false", "none", "null", "yes", "no", "0", "1"})
# A detector's match is widened over the token characters that follow it: detect-secrets' rules
# match a fixed length (Stripe: 24 characters, a JWT's signature lazily), and masking only the
# matched part would post the rest of the token.
TOKEN_TAIL = re.compile(r"[A-Za-z0-9_\-+/=.]*")
# A value a rule masked is masked by value from then on when at least this long (shorter ones,
# `password: x`, would shred ordinary words).
MIN_LEARNED_LENGTH = 8
# A capture group shorter than this is a rule's prefix (GitHub's `(ghp|gho|...)`), not the value.
MIN_CAPTURED_VALUE = 8

PEM_LABEL = r"(?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?"
BASE64_LINE = r"[ \t]*[A-Za-z0-9+/=]{16,}[ \t]*\r?\n"
PEM_RULES: tuple[Pattern[str], ...] = (
    # A whole block: BEGIN, body, END.
    re.compile(rf"-----BEGIN {PEM_LABEL}-----.*?-----END {PEM_LABEL}-----", re.DOTALL),
    # The tail of a block whose BEGIN line was cut (a capped stderr keeps the last lines).
    re.compile(rf"(?m)(?:^{BASE64_LINE})+[ \t]*-----END {PEM_LABEL}-----"),
    # The head of a block whose END line was cut (a capped text keeps the first characters).
    re.compile(rf"-----BEGIN {PEM_LABEL}-----(?:\r?\n[A-Za-z0-9+/=]*)*"),
)

# Token shapes detect-secrets 1.5 has no plugin for, ported from gitleaks' rule set
# (https://github.com/gitleaks/gitleaks/tree/master/cmd/generate/config/rules). gitleaks matches
# exact lengths (and OpenAI's `T3BlbkFJ` marker) to keep false positives out of repository scans;
# here a false positive costs one masked word in a report and a miss costs a key, so each rule
# keeps the prefix and asks for a minimum length instead.
RULES: tuple[tuple[str, Pattern[str]], ...] = (
    # anthropic.go: anthropic-api-key `sk-ant-api03-…{93}AA`, -admin01-, -oat01-, -ort01-.
    ("anthropic", re.compile(r"\bsk-ant-[a-z]+\d*-[A-Za-z0-9_\-]{20,}")),
    # openai.go: openai-api-key, `sk-(?:proj|svcacct|admin)-…T3BlbkFJ…` and the legacy `sk-…`.
    ("openai", re.compile(r"\bsk-(?:(?:proj|svcacct|admin|None)-)?[A-Za-z0-9_\-]{20,}")),
    # gcp.go: gcp-api-key `AIza[\w-]{35}`.
    ("gcp-api-key", re.compile(r"\bAIza[\w\-]{30,}")),
    # npm.go: npm-access-token `npm_[a-z0-9]{36}` (case-insensitive).
    ("npm-access-token", re.compile(r"\bnpm_[A-Za-z0-9]{30,}")),
    # slack.go: slack-bot-token `xoxb-[0-9]{10,13}-[0-9]{10,13}[a-zA-Z0-9-]*` and the other xox? kinds.
    ("slack", re.compile(r"\bxox[abeoprs]-[A-Za-z0-9\-]{10,}")),
    # stripe.go: stripe-access-token `(?:sk|rk)_(?:test|live|prod)_[a-zA-Z0-9]{10,99}`.
    ("stripe", re.compile(r"\b(?:sk|rk)_(?:test|live|prod)_[A-Za-z0-9]{10,}")),
    # jwt.go: jwt `ey[a-zA-Z0-9]{17,}\.ey[a-zA-Z0-9\/\\_-]{17,}\.(?:[a-zA-Z0-9\/\\_-]{10,}={0,2})?`.
    ("jwt", re.compile(r"\bey[A-Za-z0-9_\-]{10,}\.ey[A-Za-z0-9/_\-]{10,}\.[A-Za-z0-9/_\-]*={0,2}")),
)

# The hand-written rules this module started with; kept for what neither detector covers
# (HTTP header values, `NAME=value` with TOKEN in the name, command-line flags).
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # GitHub tokens: classic and fine-grained PATs, OAuth, user-to-server, server-to-server, refresh.
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"), MASK),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), MASK),
    # HTTP credentials: the header value, and bare bearer tokens.
    (re.compile(r"(?i)(\bauthorization\s*[:=]\s*)(?:(?:bearer|token|basic)\s+)?[^\s'\"]+"), r"\1" + MASK),
    (re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9\-._~+/]{8,}=*"), r"\1" + MASK),
    # AWS access key ids and secret keys written as assignments.
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16}\b"), MASK),
    (re.compile(r"(?i)(aws_secret_access_key\s*[:=]\s*['\"]?)[A-Za-z0-9/+=]{20,}"), r"\1" + MASK),
    # Passwords in URLs: scheme://user:password@host; the password may hold `/`, `:` or `@`
    # (it ends at the last `@` of the URL).
    (re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:)\S+@(?=[^\s@]*(?:\s|$))"), r"\1" + MASK + "@"),
    # NAME=value assignments whose name says secret (shell exports, .env lines, logs), quoted or not.
    (re.compile(r"(?i)(\b[A-Z0-9_]*(?:TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY)[A-Z0-9_]*\s*=\s*)"
                r"(?:'[^'\n]*'|\"[^\"\n]*\"|[^\s'\"]+)"), r"\1" + MASK),
    # Command-line flags: --password x, --api-key=x, --token x.
    (re.compile(r"(?i)(--[a-z0-9-]*(?:password|passwd|token|secret|api-?key)[a-z0-9-]*(?:=|\s+))"
                r"(?:'[^'\n]*'|\"[^\"\n]*\"|[^\s'\"-][^\s'\"]*)"), r"\1" + MASK),
)


@dataclass(frozen=True)
class Redactor:
    """Masks known token shapes and the values of secret-named environment variables."""

    values: tuple[str, ...] = field(default=())
    # Called with each value masked (GitHub Actions: print `::add-mask::`); None: nobody is told.
    found: Callable[[str], None] | None = field(default=None, compare=False)
    # The lines of every value a rule masked: masked by value from then on, as GitHub does with
    # `::add-mask::`, so a secret found in context (a key's body between its BEGIN and END
    # lines) stays masked where it appears without it (the same lines listed one by one).
    learned: set[str] = field(default_factory=set, compare=False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], stream: TextIO | None = None) -> Redactor:
        """A redactor that also masks the values of variables named like TOKEN/SECRET/PASSWORD/KEY.

        In a GitHub Actions job (GITHUB_ACTIONS=true) each value it masks is registered with
        `::add-mask::` on `stream` (stdout by default, where the runner reads workflow commands).
        """
        found = {
            value
            for name, value in environ.items()
            if SECRET_NAME.search(name) and len(value) >= MIN_SECRET_LENGTH and value.lower() not in NOT_SECRETS
        }
        announce = functools.partial(add_mask, stream=stream) if environ.get("GITHUB_ACTIONS") == "true" else None
        # Longest first, so a secret that contains another is masked whole.
        return cls(tuple(sorted(found, key=lambda v: (-len(v), v))), announce)

    def redact(self, text: str) -> str:
        """The text with every secret replaced by ***."""
        masked: list[str] = []
        for value in sorted({*self.values, *self.learned}, key=lambda v: (-len(v), v)):
            if value in text:
                masked.append(value)
                text = text.replace(value, MASK)
        for pattern in PEM_RULES:
            text = _mask_spans(text, [m.span() for m in pattern.finditer(text)], masked)
        # Line by line, as detect-secrets scans (its keyword rules would run on across line breaks).
        text = "".join(_redact_line(line[: len(line.rstrip("\r\n"))], masked) + line[len(line.rstrip("\r\n")):]
                       for line in text.splitlines(keepends=True))
        lines = {line for value in masked for line in _secret_lines(value)}
        if self.found is not None:
            for line in sorted(lines - self.learned):
                self.found(line)
        self.learned.update(lines)
        return text

    def redact_value(self, value: Any, keep: frozenset[str] = frozenset()) -> Any:
        """Every string in a JSON-like value redacted; the values of the `keep` keys are left as they are."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {k: v if k in keep else self.redact_value(v, keep) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            if value and all(isinstance(v, str) for v in value):
                self.redact("\n".join(value))  # learn what only the lines together reveal
            return [self.redact_value(v, keep) for v in value]
        return value


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    """Shortcut: redact with the rules and, when given, the environment's secret values."""
    return Redactor.from_environ(environ or {}).redact(text)


def add_mask(value: str, stream: TextIO | None = None) -> None:
    """Register one line with GitHub Actions' log masking (GitHub masks a multi-line value line by line)."""
    escaped = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    print(f"::add-mask::{escaped}", file=stream or sys.stdout)


def _secret_lines(value: str) -> list[str]:
    """The lines of a masked value worth masking by value: not a mask, a key's END line or a short word."""
    lines = (line.strip() for line in value.splitlines())
    return [line for line in lines if len(line) >= MIN_LEARNED_LENGTH and MASK not in line and not line.startswith("-----")]


def _redact_line(line: str, masked: list[str]) -> str:
    """One line through detect-secrets' rules, gitleaks' rules and the hand-written patterns."""
    spans = list(_detector_spans(line))
    spans += [m.span() for _, rule in RULES for m in rule.finditer(line)]
    line = _mask_spans(line, spans, masked)
    for pattern, replacement in PATTERNS:
        line = pattern.sub(lambda m: _replaced(m, replacement, masked), line)
    return line


def _replaced(match: re.Match[str], replacement: str, masked: list[str]) -> str:
    kept = match.group(1) if replacement.startswith(r"\1") else ""
    masked.append(match.group(0)[len(kept):].rstrip("@"))
    return match.expand(replacement)


def _mask_spans(text: str, spans: list[tuple[int, int]], masked: list[str]) -> str:
    """Each span (merged where they overlap) replaced by ***."""
    merged: list[list[int]] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in reversed(merged):
        if text[start:end] != MASK:
            masked.append(text[start:end])
            text = text[:start] + MASK + text[end:]
    return text


def _detector_spans(line: str) -> Iterator[tuple[int, int]]:
    """Where detect-secrets' rules find a secret in one line: the value, widened to its token's end."""
    for pattern, group in _detector_rules():
        for match in pattern.finditer(line):
            if group is None:  # a token rule: its capture groups are prefixes or the whole token
                captured = match.group(1) if pattern.groups else None
                group_used = 1 if captured and len(captured) >= MIN_CAPTURED_VALUE else 0
            else:
                group_used = group
            start, end = match.span(group_used)
            if start < 0:
                continue
            tail = TOKEN_TAIL.match(line, end)
            yield start, tail.end() if tail and group is None else end


@functools.cache
def _detector_rules() -> tuple[tuple[Pattern[str], int | None], ...]:
    """detect-secrets' rules as (regex, the group holding the secret; None: a token rule)."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins import keyword
    from detect_secrets.plugins.base import RegexBasedDetector

    # Not secrets in a report (public IPs) or masked whole above (private keys).
    skipped = {"Public IP (ipv4)", "Private Key"}
    rules: list[tuple[Pattern[str], int | None]] = []
    for secret_type, plugin in sorted(get_mapping_from_secret_type_to_class().items()):
        if secret_type in skipped or not issubclass(plugin, RegexBasedDetector):
            continue
        rules += [(pattern, None) for pattern in plugin().denylist]
    # The keyword plugin picks its rules by file type; a log is every type at once: the rules for
    # config files (`password: x`, `password = x`), quoted code (`{"password": "x"}`) and Go (`:=`).
    for table in (keyword.CONFIG_DENYLIST_REGEX_TO_GROUP, keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP,
                  keyword.GOLANG_DENYLIST_REGEX_TO_GROUP):
        rules += [(pattern, group) for pattern, group in table.items() if (pattern, group) not in rules]
    return tuple(rules)
