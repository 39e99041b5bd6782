"""Traffic: the devset's questions replayed through the proxy at a steady rate, and what clients saw.

Open model: a request leaves every 1/rate seconds whether or not the previous ones have come back
(a slow release does not slow the clients down, as with real users). Each request is a new
connection, as from many independent users: a keep-alive connection that sits idle while nginx
reloads is closed by the old worker, and a request sent on it in that instant fails before nginx
reads it (a client-side race every HTTP/1.1 client must retry, RFC 9112 section 9.3.1), which would
be counted here as a dropped request although nginx never received it. Every answer is recorded:
when, which question, the HTTP status (0: no answer, with the error), the latency seen by the
client, the release that served it (X-Release) and the answer text.

With a `reference` URL the generator alternates: each question goes to the main URL and then to
the reference, so both paths see the same questions under the same machine load at the same time
(Task 6.2 judges production's latency against a reference measured beside it, not minutes apart).
`reference_headers` go with the reference's requests only: a reference reached through the same
proxy by name (render.RELEASE_HEADER) on a production seen only through its URL.
"""
from __future__ import annotations

import http.client
import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

DEVSET = Path(__file__).resolve().parents[2] / "assistant" / "data" / "devset.jsonl"
WORKERS = 16


@dataclass(frozen=True)
class Record:
    at: float  # seconds since the generator started
    question: str
    status: int  # 0: no HTTP answer at all (connection refused or reset)
    latency: float
    release: str
    answer: str
    error: str = ""
    target: str = "production"  # which URL it went to: "production" (the main one) or "reference"


def devset_questions(path: Path = DEVSET) -> list[str]:
    """The questions of the assistant's devset (both splits), in file order."""
    return [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class LoadGenerator:
    """Sends `questions` round-robin to `url`/ask at `rate` requests a second until stopped.

    With `reference`, every second request goes there instead (the same question as the request
    before it); set `reference` to None to send everything to `url` from then on.
    """

    def __init__(self, url: str, questions: Sequence[str], rate: float, clock: Callable[[], float] = time.monotonic,
                 reference: str | None = None, reference_headers: Mapping[str, str] | None = None) -> None:
        self.url, self.reference, self.reference_headers = url, reference, dict(reference_headers or {})
        self.questions, self.rate, self.clock = list(questions), rate, clock
        self.records: list[Record] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.began = 0.0

    def __enter__(self) -> LoadGenerator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.began = self.clock()
        self._thread = threading.Thread(target=self._run, name="loadgen", daemon=True)
        self._thread.start()

    def stop(self) -> list[Record]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.since(0.0)

    def now(self) -> float:
        """Seconds since start, on the records' clock."""
        return self.clock() - self.began

    def since(self, at: float) -> list[Record]:
        with self._lock:
            return [r for r in self.records if r.at >= at]

    def _run(self) -> None:
        with ThreadPoolExecutor(WORKERS, thread_name_prefix="loadgen") as pool:
            sent, asked = 0, 0
            while not self._stop.is_set():
                due = sent / self.rate
                wait = due - self.now()
                if wait > 0 and self._stop.wait(wait):
                    break
                reference = self.reference
                if reference is not None and sent % 2 == 1:
                    pool.submit(self._ask, self.questions[(asked - 1) % len(self.questions)], reference, "reference",
                                self.reference_headers)
                else:
                    pool.submit(self._ask, self.questions[asked % len(self.questions)], self.url, "production")
                    asked += 1
                sent += 1

    def _ask(self, question: str, url: str, target: str, headers: Mapping[str, str] | None = None) -> None:
        at = self.now()
        body = json.dumps({"question": question})
        status, release, answer, error = 0, "", "", ""
        host, _, port = url.removeprefix("http://").rstrip("/").partition(":")
        began = self.clock()
        conn = http.client.HTTPConnection(host, int(port or 80), timeout=10)
        try:
            conn.request("POST", "/ask", body, {"Content-Type": "application/json", **(headers or {})})
            response = conn.getresponse()
            data = response.read()
            status, release = response.status, response.getheader("X-Release", "")
            if status == 200:
                answer = json.loads(data)["answer"]
        except (OSError, http.client.HTTPException, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()
        latency = self.clock() - began
        with self._lock:
            self.records.append(Record(at, question, status, latency, release, answer, error, target))


def quantile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (nearest rank) of `values`, None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summarize(records: Iterable[Record]) -> dict[str, float | int | dict[str, int] | None]:
    """What the clients saw: counts, failures, latency quantiles, and who served them."""
    records = list(records)
    failed = [r for r in records if r.status != 200]
    latencies = [r.latency for r in records if r.status == 200]
    served: dict[str, int] = {}
    for record in records:
        served[record.release or "none"] = served.get(record.release or "none", 0) + 1
    return {"requests": len(records), "failed": len(failed),
            "error_rate": round(len(failed) / len(records), 4) if records else None,
            "p50_ms": _ms(quantile(latencies, 0.5)), "p95_ms": _ms(quantile(latencies, 0.95)),
            "p99_ms": _ms(quantile(latencies, 0.99)), "served_by": dict(sorted(served.items()))}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def agreement(records: Iterable[Record], reference: dict[str, str], release: str) -> tuple[float | None, int]:
    """Share of `release`'s answers equal to the reference (stable) answer to the same question, and how many."""
    compared = [r for r in records if r.release == release and r.status == 200 and r.question in reference]
    if not compared:
        return None, 0
    same = sum(r.answer == reference[r.question] for r in compared)
    return same / len(compared), len(compared)


def save(records: Iterable[Record], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(asdict(r)) + "\n" for r in records), encoding="utf-8")
