"""The client-side deadline: fires only when an armed deadline passes inside its block."""

from __future__ import annotations

import threading
import time

from assistant.memory_watchdog import Watchdog


def test_fires_when_the_block_outlives_its_deadline_and_not_after_it_ends() -> None:
    fired = threading.Event()
    watchdog = Watchdog(fired.set)
    try:
        with watchdog.deadline(0.05):
            assert fired.wait(2.0)
        assert watchdog.fired
        fired.clear()
        for _ in range(200):  # quick blocks: disarmed before their deadline
            with watchdog.deadline(0.05):
                pass
        time.sleep(0.15)
        assert not fired.is_set() and not watchdog.fired
    finally:
        watchdog.close()
