"""The latency proxy: it delays each direction by half the round trip, cuts on command, and says what it did."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from migration.memory.latency_proxy import LatencyProxy, ProxyProcess, command


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A TCP server that echoes every connection's bytes back until it closes."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    def echo(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()


def round_trip(port: int, payload: bytes = b"ping") -> float:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        began = time.perf_counter()
        conn.sendall(payload)
        assert conn.recv(4096) == payload
        return time.perf_counter() - began


def test_the_proxy_forwards_and_adds_at_least_its_round_trip(echo_port: int) -> None:
    with ProxyProcess("127.0.0.1", echo_port, rtt_ms=30) as proxy:
        assert round_trip(proxy.port) >= 0.030  # a delay can only make it slower: a lower bound cannot flake
        assert proxy.set_rtt(0)["rtt_ms"] == 0.0
        round_trip(proxy.port, b"again")
        stats = proxy.stats()
        assert stats["connections"] == 2 and stats["bytes"] == 2 * len(b"ping") + 2 * len(b"again")


def test_cut_aborts_every_open_connection(echo_port: int) -> None:
    with ProxyProcess("127.0.0.1", echo_port) as proxy:
        conn = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
        conn.sendall(b"hello")
        assert conn.recv(16) == b"hello"
        assert proxy.cut() == 1
        with pytest.raises((ConnectionResetError, AssertionError)):
            assert conn.recv(16)  # b"" (closed) or a reset: either way the connection is gone
        conn.close()


def test_a_server_that_is_down_gets_the_client_disconnected() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    with ProxyProcess("127.0.0.1", dead) as proxy, socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as conn:
        with pytest.raises((ConnectionResetError, AssertionError)):
            assert conn.recv(16)


def test_an_unknown_command_says_which_ones_exist() -> None:
    proxy = LatencyProxy("127.0.0.1", 1)
    assert command(proxy, "slower please") == {"error": "unknown command 'slower please': rtt <ms> | cut | stats | quit"}
    assert command(proxy, "rtt 2.5")["rtt_ms"] == 2.5
