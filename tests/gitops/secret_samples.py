"""One sample of each secret shape a task's output may hold, for the redaction tests of every outlet.

Each sample is (the text as a tool prints it, the secret in it). None is a real credential: the
tokens are built here from repeated characters of the right alphabet and length.
"""
from __future__ import annotations

import base64
import json


def _b64url(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


ALNUM = "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv"  # 32 characters
OPENAI_LEGACY = "sk-" + ALNUM[:20] + "T3BlbkFJ" + ALNUM[-20:]
OPENAI_PROJECT = "sk-proj-" + (ALNUM * 3)[:74] + "T3BlbkFJ" + ALNUM[:20]
ANTHROPIC = "sk-ant-api03-" + (ALNUM * 3)[:93] + "AA"
SLACK_BOT = "xoxb-1234567890123-1234567890123-" + ALNUM[:24]
STRIPE = "sk_live_" + ALNUM + "zz"  # longer than detect-secrets' 24 characters: the tail is masked too
GOOGLE = "AIza" + (ALNUM * 2)[:35]
NPM = "npm_" + (ALNUM.lower() * 2)[:36]
JWT = ".".join([_b64url({"alg": "HS256", "typ": "JWT"}), _b64url({"sub": "ci-bot", "exp": 1900000000}),
                "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"])
GITHUB = "ghp_" + ALNUM + "Wx9z"
AWS = "AKIAIOSFODNN7SAMPLE1"
PEM_BODY = ["MIIEowIBAAKCAQEA7bq98fSAMPLEkeyLINEone00000000000000000000000000000",
            "b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABBSAMPLE",
            "QyNTUxOQAAACBSAMPLEtwoLINESofBASE64thatAREaKEYbody1234567890abcdef"]
ENV_SECRET = "value-of-a-secret-variable"
ENVIRON = {"DEPLOY_SERVICE_TOKEN": ENV_SECRET}

SAMPLES: list[tuple[str, str]] = [
    (f"OPENAI_KEY used: {OPENAI_LEGACY}", OPENAI_LEGACY),
    (f"client = OpenAI(api={OPENAI_PROJECT})", OPENAI_PROJECT),
    (f"anthropic rejected {ANTHROPIC} (401)", ANTHROPIC),
    (f"posting to slack with {SLACK_BOT}", SLACK_BOT),
    (f"stripe.api = {STRIPE}", STRIPE),
    (f"maps?key={GOOGLE}&q=x", GOOGLE),
    (f"//registry.npmjs.org/:_authToken={NPM}", NPM),
    (f"npm token {NPM.replace('a', 'b')} revoked", NPM.replace("a", "b")),
    (f"cookie jwt {JWT} expired", JWT),
    ("db password: hunter2-colon", "hunter2-colon"),
    ('config {"password": "hunter2-json", "user": "ci"}', "hunter2-json"),
    ("mysql --password hunter2-flag -u ci", "hunter2-flag"),
    ("PASSWORD='hunter2 quoted'", "hunter2 quoted"),
    ("api_key: apikey-value-123", "apikey-value-123"),
    ("clone https://deploy:pa/ss@wo:rd@git.example.com/r.git failed", "pa/ss@wo:rd"),
    (f"push https://x-access-token:{GITHUB}@github.com/o/r", GITHUB),
    (f"aws key {AWS} denied", AWS),
    ("curl -H 'Authorization: Bearer abcdefghijklmnop0123456789' https://api", "abcdefghijklmnop0123456789"),
    ("curl -H 'Authorization: Basic ZGVwbG95Omh1bnRlcjI=' https://api", "ZGVwbG95Omh1bnRlcjI="),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(PEM_BODY) + "\n-----END OPENSSH PRIVATE KEY-----",
     PEM_BODY[1]),
    # The last lines of a long key: the BEGIN line was cut off with the head of the log.
    ("\n".join(PEM_BODY[1:]) + "\n-----END RSA PRIVATE KEY-----\nexit status 1", PEM_BODY[2]),
    (f"deploying with {ENV_SECRET}", ENV_SECRET),
]


def leaks(text: str) -> list[str]:
    """The samples' secrets (or their last 12 characters) that are still in `text`."""
    return [secret for _, secret in SAMPLES if secret in text or secret[-12:] in text]


def hostile_stderr() -> str:
    """Every sample, one per line: what a failing task might print."""
    return "\n".join(text for text, _ in SAMPLES)
