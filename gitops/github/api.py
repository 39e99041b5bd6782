"""Talking to the GitHub REST API: settings from the Actions variables, a bounded PyGithub client,
and PyGithub/requests exceptions turned into messages a person can act on.

PyGithub is imported inside functions only: `gitops status` and `gitops lint` never pay for it.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from gitops.errors import BadInput, GitopsError
from gitops.extras import require
from gitops.github.run_url import run_url

if TYPE_CHECKING:
    from github import Github

# Tuning without code: a slow GitHub Enterprise, or a test against a local stand-in.
TUNING = {"GITOPS_GITHUB_TIMEOUT": ("timeout", int), "GITOPS_GITHUB_RETRIES": ("retries", int),
          "GITOPS_GITHUB_BACKOFF": ("backoff", float), "GITOPS_GITHUB_MAX_WAIT": ("max_wait", float),
          "GITOPS_GITHUB_PACE": ("seconds_between_writes", float)}
LIMIT = 65_536  # GitHub rejects issue, PR and comment bodies longer than this
MAX_BODY = LIMIT - 1_000  # room for the hidden marker and the truncation notice


class GitHubError(GitopsError):
    """A GitHub API call failed; the message says what was being done and what to do next."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class GitHubSettings:
    """Where the repository is, who we are, and how patient to be with the API."""

    repository: str  # owner/name
    token: str
    api_url: str = "https://api.github.com"
    server_url: str = "https://github.com"
    run_id: int | None = None
    timeout: int = 15  # seconds per request (PyGithub takes whole seconds)
    retries: int = 3  # for 5xx, rate limits and refused connections (never for a read timeout)
    backoff: float = 1.0  # urllib3 backoff factor between 5xx retries
    max_wait: float = 300.0  # longest rate-limit wait we accept (Retry-After, X-RateLimit-Reset)
    seconds_between_requests: float = 0.25
    seconds_between_writes: float = 1.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], **transport: Any) -> GitHubSettings:
        """Read GITHUB_REPOSITORY, GITHUB_TOKEN, GITHUB_API_URL, GITHUB_SERVER_URL and GITHUB_RUN_ID."""
        # Every command that talks to the API starts here: say which extra is missing before
        # asking for a token that could not be used anyway.
        require("github", "the GitHub forge", otherwise="use --forge local")
        repository = environ.get("GITHUB_REPOSITORY", "").strip()
        if not repository:
            raise BadInput(
                "GITHUB_REPOSITORY is not set: set it to owner/name of the repository "
                "(GitHub Actions sets it), or use --forge local."
            )
        if repository.count("/") != 1 or not all(repository.split("/")):
            raise BadInput(f"GITHUB_REPOSITORY is {repository!r}: set it to owner/name, e.g. octo/pipeline.")
        token = environ.get("GITHUB_TOKEN", "").strip()
        if not token:
            raise BadInput(
                "GITHUB_TOKEN is not set: set it to a token that may write issues and pull requests "
                "(in a workflow: `env: GITHUB_TOKEN: ${{ github.token }}`; on a laptop: "
                "`export GITHUB_TOKEN=$(gh auth token)`), or use --forge local."
            )
        run_id = environ.get("GITHUB_RUN_ID", "").strip()
        if run_id and not run_id.isdigit():
            raise BadInput(f"GITHUB_RUN_ID is {run_id!r}: it must be the number of a workflow run.")
        settings = cls(
            repository=repository,
            token=token,
            api_url=(environ.get("GITHUB_API_URL") or cls.api_url).rstrip("/"),
            server_url=(environ.get("GITHUB_SERVER_URL") or cls.server_url).rstrip("/"),
            run_id=int(run_id) if run_id else None,
        )
        return replace(settings, **{**_tuning(environ), **transport})

    @property
    def owner(self) -> str:
        return self.repository.split("/")[0]

    def run_url(self, run_id: int | None = None) -> str | None:
        """The web page of a workflow run (this job's run by default)."""
        number = run_id or self.run_id
        return run_url(self.server_url, self.repository, number) if number else None


def _tuning(environ: Mapping[str, str]) -> dict[str, Any]:
    """Transport settings from GITOPS_GITHUB_* variables; a bad value is an error that names it."""
    found: dict[str, Any] = {}
    for name, (key, kind) in TUNING.items():
        if environ.get(name, "").strip():
            try:
                found[key] = kind(environ[name])
            except ValueError:
                raise BadInput(f"{name} is {environ[name]!r}: it must be a {kind.__name__}.") from None
    if "seconds_between_writes" in found:  # one knob for pacing: reads at a quarter of the writes' pace
        found["seconds_between_requests"] = found["seconds_between_writes"] / 4
    return found


def connect(settings: GitHubSettings) -> Github:
    """A PyGithub client with bounded retries, rate-limit waits and timeouts."""
    from github import Auth, Github
    from github.GithubRetry import GithubRetry

    class WriteSafeRetry(GithubRetry):
        """Never resends a POST after a 5xx: it may have landed, and a second one is a duplicate issue.

        The next gitops command finds a landed write by its marker instead. Rate-limited POSTs
        (403/429) were not carried out, so they are retried.
        """

        def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
            if method == "POST" and status_code >= 500:
                return False
            return super().is_retry(method, status_code, has_retry_after)

    retry = WriteSafeRetry(
        total=settings.retries,
        connect=settings.retries,
        status=settings.retries,
        read=False,  # a timed-out POST may have been applied: never send it twice
        backoff_factor=settings.backoff,
        status_forcelist=[429, *range(500, 600)],  # GithubRetry adds 403 (rate limits only)
        # Our PATCHes set whole values (title, body, state, labels): sending one twice is harmless.
        allowed_methods={"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "POST", "PATCH"},
        max_rate_limit_wait=settings.max_wait,
        secondary_rate_wait=min(60.0, settings.max_wait),
        retry_after_max=int(settings.max_wait),
    )
    return Github(
        base_url=settings.api_url,
        auth=Auth.Token(settings.token),
        timeout=settings.timeout,
        retry=retry,
        per_page=100,
        seconds_between_requests=settings.seconds_between_requests,
        seconds_between_writes=settings.seconds_between_writes,
    )


@contextmanager
def translated(doing: str, settings: GitHubSettings, hint: str = "") -> Iterator[None]:
    """Turn PyGithub and requests exceptions raised inside into one GitHubError about `doing`."""
    import requests
    from github import GithubException
    from github.GithubException import RateLimitExceededExceedsMaxWait

    try:
        yield
    except GitHubError:
        raise
    except RateLimitExceededExceedsMaxWait as exc:
        raise GitHubError(
            f"GitHub's rate limit asks for a wait of {exc.wait:.0f} s while {doing}, longer than the "
            f"{settings.max_wait:.0f} s we accept; run the command again later.", exc.status
        ) from exc
    except GithubException as exc:
        raise GitHubError(_http_message(exc, doing, settings, hint), exc.status) from exc
    except requests.exceptions.RetryError as exc:
        reason = _innermost(exc)
        raise GitHubError(
            f"GitHub kept failing while {doing} ({reason}; gave up after {settings.retries} retries). "
            "Nothing is lost: the next gitops command tries again.", None
        ) from exc
    except requests.exceptions.Timeout as exc:
        raise GitHubError(
            f"GitHub did not answer within {settings.timeout:g} s while {doing}. "
            "Nothing is lost: the next gitops command tries again (writes are idempotent).", None
        ) from exc
    except requests.exceptions.ConnectionError as exc:
        raise GitHubError(
            f"Cannot reach the GitHub API at {settings.api_url} while {doing} ({_innermost(exc)}). "
            "Check GITHUB_API_URL and the network; the next gitops command tries again.", None
        ) from exc


def _http_message(exc: Any, doing: str, settings: GitHubSettings, hint: str) -> str:
    data = exc.data if isinstance(exc.data, dict) else {"message": str(exc.data or "")}
    detail = str(data.get("message") or "").strip()
    errors = [e.get("message") or f"{e.get('field')} {e.get('code')}" if isinstance(e, dict) else str(e)
              for e in data.get("errors") or []]
    if errors:
        detail = f"{detail}: {'; '.join(str(e) for e in errors)}" if detail else "; ".join(map(str, errors))
    said = f"HTTP {exc.status}" + (f" {detail}" if detail else "")
    if exc.status == 401:
        advice = "GITHUB_TOKEN is not a valid token: set a current one."
    elif exc.status == 404 and not hint:
        advice = (f"Check that GITHUB_REPOSITORY ({settings.repository}) is right and that the token "
                  "can see it.")
    elif exc.status == 403 and "rate limit" in detail.lower():
        advice = "The rate limit is used up: run the command again later."
    elif exc.status == 403:
        advice = "The token lacks a permission this needs (issues, pull-requests or administration: write)."
    else:
        advice = ""
    if exc.status >= 500:
        return (f"GitHub failed while {doing} ({said}). Nothing is lost: the next gitops command tries again "
                "(writes are idempotent).")
    parts = [f"GitHub refused {doing} ({said})."]
    parts += [text for text in (hint, advice) if text]
    return " ".join(parts)


def _innermost(exc: BaseException) -> str:
    """The deepest reason in a requests/urllib3 exception chain, without the long pool prefix."""
    reason: Any = exc
    while True:
        inner = getattr(reason, "reason", None) or (reason.args[0] if getattr(reason, "args", None) else None)
        if not isinstance(inner, BaseException) or inner is reason:
            break
        reason = inner
    return str(reason)
