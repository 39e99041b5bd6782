"""A TCP proxy that adds latency, and can cut its connections: the network of Tasks 4.1 and 4.2.

netem needs privileges this machine's runners do not have, so the round-trip time of a
database in the same cloud region (0.5-5 ms) is made here: every chunk read from one side is
written to the other `rtt / 2` seconds later, in order, without holding back the chunks that
follow (latency, not a bandwidth limit). `cut` aborts every connection at once (a network
failure mid-query); `rtt` can change while traffic flows (a latency spike).

It runs as its own process (`ProxyProcess`), so its work never competes with the measured
client for the GIL, and is driven over stdin with one-line commands: `rtt <ms>`, `cut`,
`stats`, `quit`; each answers one JSON line.

asyncio's default selector (epoll) rounds every wait up to a whole millisecond
(selectors.EpollSelector.select), which would turn 0.25 ms into 1 ms; `select()` takes
microseconds, so the proxy's loop uses SelectSelector (fine for its few dozen sockets).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import selectors
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

CHUNK = 1 << 16


class LatencyProxy:
    """Forward 127.0.0.1:<port> to `target`, each direction delayed by `rtt / 2` seconds."""

    def __init__(self, target_host: str, target_port: int, rtt: float = 0.0) -> None:
        self.target = (target_host, target_port)
        self.rtt = rtt
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self.connections = 0
        self.cuts = 0
        self.bytes = 0
        self.port = 0

    async def start(self) -> int:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(server.sockets[0].getsockname()[1])
        return self.port

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:  # the server is down: the client sees its connection refused-like close
            client_writer.transport.abort()
            return
        link = (client_writer, server_writer)
        self._links.add(link)
        self.connections += 1
        try:
            await asyncio.gather(self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer),
                                 return_exceptions=True)
        except asyncio.CancelledError:  # the proxy is shutting down: nothing to report
            pass
        finally:
            self._links.discard(link)
            for writer in link:
                writer.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def send() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    return
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(send())
        try:
            while data := await reader.read(CHUNK):
                self.bytes += len(data)
                queue.put_nowait((loop.time() + self.rtt / 2, data))
        finally:
            queue.put_nowait((0.0, b""))
            try:
                await sender
            finally:
                writer.transport.abort()  # one side closed or failed: end the other side too

    def cut(self) -> int:
        """Abort every open connection, as a network failure would; how many were cut."""
        links = list(self._links)
        for link in links:
            for writer in link:
                writer.transport.abort()
        self.cuts += len(links)
        return len(links)

    def stats(self) -> dict[str, Any]:
        return {"port": self.port, "rtt_ms": round(self.rtt * 1000, 3), "open": len(self._links),
                "connections": self.connections, "cuts": self.cuts, "bytes": self.bytes}


def command(proxy: LatencyProxy, line: str) -> dict[str, Any]:
    """Carry out one control line; what it answers."""
    verb, *args = line.split() or [""]
    if verb == "rtt" and len(args) == 1:
        proxy.rtt = float(args[0]) / 1000
    elif verb == "cut":
        return {"cut": proxy.cut(), **proxy.stats()}
    elif verb not in ("stats", "quit"):
        return {"error": f"unknown command {line!r}: rtt <ms> | cut | stats | quit"}
    return proxy.stats()


async def serve(target_host: str, target_port: int, rtt: float) -> None:
    proxy = LatencyProxy(target_host, target_port, rtt)
    print(json.dumps(proxy.stats() | {"port": await proxy.start()}), flush=True)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def answer(line: str) -> None:
        print(json.dumps(command(proxy, line)), flush=True)
        if line.strip() in ("quit", ""):
            done.set()

    def read_stdin() -> None:  # a thread: stdin may be a pipe, which the select loop can't always watch
        for line in sys.stdin:
            loop.call_soon_threadsafe(answer, line.strip() or "stats")
        loop.call_soon_threadsafe(answer, "")  # stdin closed: the owner is gone

    threading.Thread(target=read_stdin, daemon=True).start()
    await done.wait()
    proxy.cut()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m migration.memory.latency_proxy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", required=True, help="host:port of the server")
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="round-trip time to add, in ms")
    args = parser.parse_args(argv)
    host, _, port = args.target.rpartition(":")
    runner = asyncio.Runner(loop_factory=lambda: asyncio.SelectorEventLoop(selectors.SelectSelector()))
    with runner:
        runner.run(serve(host, int(port), args.rtt_ms / 1000))
    return 0


class ProxyProcess:
    """A LatencyProxy in a child process, driven line by line; use as a context manager."""

    def __init__(self, target_host: str, target_port: int, rtt_ms: float = 0.0) -> None:
        root = Path(__file__).resolve().parents[2]
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "migration.memory.latency_proxy", "--target", f"{target_host}:{target_port}",
             "--rtt-ms", str(rtt_ms)], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self._lock = threading.Lock()
        self.port = int(self._reply()["port"])

    def _reply(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the latency proxy exited (status {self._proc.poll()})")
        return json.loads(line)

    def send(self, line: str) -> dict[str, Any]:
        """Send one command; its JSON answer. Thread-safe."""
        with self._lock:
            assert self._proc.stdin is not None
            self._proc.stdin.write(line + "\n")
            self._proc.stdin.flush()
            return self._reply()

    def set_rtt(self, ms: float) -> dict[str, Any]:
        return self.send(f"rtt {ms}")

    def cut(self) -> int:
        return int(self.send("cut")["cut"])

    def stats(self) -> dict[str, Any]:
        return self.send("stats")

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                self.send("quit")
            except (OSError, RuntimeError):
                pass
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def __enter__(self) -> ProxyProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


if __name__ == "__main__":
    sys.exit(main())
