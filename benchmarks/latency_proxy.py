"""A TCP proxy in front of PostgreSQL that adds latency and counts round trips.

Every chunk is held ``delay_ms`` in each direction (so a round trip costs
``2 × delay_ms`` more than direct), in order. Independently of any delay, the
proxy counts round trips by protocol: a round trip is the client sending
something and then waiting for the server's answer. The client's byte stream is
parsed into protocol messages, and each message after which the client waits
(``Q`` simple query, ``S`` sync, ``H`` flush, ``c`` copy done, the start-up
packet) ends one; read from the stream alone, the count does not depend on
timing (counting replies would: asyncpg sends a COPY's rows without waiting for
the server's go-ahead, which may or may not arrive in between).

Each round trip records the type letters of what the client sent (``P`` parse,
``B`` bind, ``D`` describe, ``E`` execute, ``d`` copy data; ``startup``,
``ssl``) and the start of the SQL of the first ``Q``/``P`` (never a bound
parameter): the trace.

The upstream is a TCP ``(host, port)`` or a Unix socket path, so the embedded
server (Unix socket only) can be reached over TCP too. Run alone::

    python benchmarks/latency_proxy.py --upstream /path/.s.PGSQL.5432 --delay-ms 25

Used by ``benchmarks/run.py --rtt-ms`` and ``tests/test_round_trips.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
SQL_SHOWN = 70  # characters of a statement kept in the trace


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """One wait for the server: what the client sent before it."""

    sent: tuple[str, ...]
    sql: str = ""  # start of the first statement sent (Q or P), whitespace folded

    def describe(self) -> str:
        head = "".join(_short(self.sent))
        return f"{head:<8} {self.sql}" if self.sql else head


def _short(types: tuple[str, ...]) -> list[str]:
    # Runs of one type shortened: a COPY's thousand 'd's read as d×1000.
    out: list[str] = []
    i = 0
    while i < len(types):
        j = i
        while j < len(types) and types[j] == types[i]:
            j += 1
        letter = types[i] if len(types[i]) == 1 else f"[{types[i]}]"
        out.append(letter if j - i == 1 else f"{letter}×{j - i}")
        i = j
    return out


class _Parser:
    """Splits the client's bytes into protocol messages (type letters). TLS is
    not readable: ``url`` turns it off (``sslmode=disable``)."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.untyped = True  # a client starts with length-only start-up packets
        self.sql: list[str] = []

    def feed(self, data: bytes) -> list[str]:
        self.buf += data
        types: list[str] = []
        while True:
            if self.untyped:
                if len(self.buf) < 8:
                    return types
                length, code = struct.unpack("!ii", self.buf[:8])
                if len(self.buf) < length:
                    return types
                del self.buf[:length]
                if code in (SSL_REQUEST, GSSENC_REQUEST):
                    types.append("ssl")
                elif code == CANCEL_REQUEST:
                    types.append("cancel")
                else:
                    types.append("startup")
                    self.untyped = False
                continue
            if len(self.buf) < 5:
                return types
            kind = chr(self.buf[0])
            (length,) = struct.unpack("!i", self.buf[1:5])
            if len(self.buf) < 1 + length:
                return types
            body = bytes(self.buf[5 : 1 + length])
            del self.buf[: 1 + length]
            types.append(kind)
            if kind in "QP":
                self.sql.append(_statement(kind, body))


def _statement(kind: str, body: bytes) -> str:
    if kind == "P":  # statement name, then the query
        body = body.split(b"\0", 1)[1] if b"\0" in body else body
    text = body.split(b"\0", 1)[0].decode("utf-8", "replace")
    return " ".join(text.split())[:SQL_SHOWN]


# Client messages after which the client waits for the server: a simple query, a
# Sync, a Flush, the end (or failure) of a COPY's data, the start-up packets.
_WAITS_AFTER = frozenset({"Q", "S", "H", "c", "f", "startup", "ssl", "cancel"})
_COPY_DATA = frozenset({"d", "c", "f"})


@dataclass
class _Connection:
    """Round-trip bookkeeping of one client connection, from the client's stream
    alone (so no timing can change it): each message after which the client
    waits ends a round trip. One exception, also read from the stream: a ``Q``
    followed by COPY data is not waited on (asyncpg streams the rows at once),
    its round trip ends with the ``c``."""

    client: _Parser = field(default_factory=_Parser)
    sent: list[str] = field(default_factory=list)
    sql: list[str] = field(default_factory=list)
    trips: list[RoundTrip] = field(default_factory=list)

    def from_client(self, data: bytes) -> None:
        for kind in self.client.feed(data):
            if (
                kind in _COPY_DATA
                and not self.sent
                and self.trips
                and self.trips[-1].sent[-1:] == ("Q",)
            ):
                reopened = self.trips.pop()
                self.sent, self.sql = list(reopened.sent), [reopened.sql]
            self.sent.append(kind)
            if kind in "QP" and self.client.sql:
                self.sql.append(self.client.sql.pop(0))
            if kind in _WAITS_AFTER:
                self.trips.append(RoundTrip(tuple(self.sent), next(iter(self.sql), "")))
                self.sent, self.sql = [], []

    def from_server(self, data: bytes) -> None:
        """Replies are not counted (see the module docstring)."""


class LatencyProxy:
    """``async with LatencyProxy(upstream, delay_ms) as proxy:`` listens on
    127.0.0.1:``proxy.port``; ``proxy.round_trips`` counts every connection's."""

    def __init__(self, upstream: tuple[str, int] | str, delay_ms: float = 0.0) -> None:
        self.upstream = upstream
        self.delay_s = delay_ms / 1000.0
        self.connections: list[_Connection] = []
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    @property
    def trips(self) -> list[RoundTrip]:
        """Every finished round trip, connection by connection."""
        return [t for conn in self.connections for t in conn.trips]

    @property
    def round_trips(self) -> int:
        return len(self.trips)

    def reset(self) -> None:
        self.connections.clear()

    def url(self, url: str) -> str:
        """``url`` (the upstream server's) pointed at this proxy over TCP, TLS off
        (so the trace can read the protocol; trust authentication)."""
        parts = urlsplit(url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("host", "port", "sslmode")]
        query.append(("sslmode", "disable"))
        user = parts.username or ""
        netloc = f"{user}@127.0.0.1:{self.port}" if user else f"127.0.0.1:{self.port}"
        if parts.password:
            netloc = f"{user}:{parts.password}@127.0.0.1:{self.port}"
        return urlunsplit(
            ("postgresql", netloc, parts.path, "&".join(f"{k}={v}" for k, v in query), "")
        )

    async def __aenter__(self) -> LatencyProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        await self._server.wait_closed()

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if isinstance(self.upstream, str):
            return await asyncio.open_unix_connection(self.upstream)
        return await asyncio.open_connection(*self.upstream)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = _Connection()
        self.connections.append(conn)
        try:
            up_reader, up_writer = await self._open_upstream()
        except OSError:
            writer.close()
            self._tasks.discard(task)
            return
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer, conn.from_client),
                self._pipe(up_reader, writer, conn.from_server),
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for w in (writer, up_writer):
                w.close()
            self._tasks.discard(task)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen) -> None:
        # Chunks are counted as they arrive and delivered delay_s later, in order:
        # a queue per direction, so a slow delivery never reorders the stream.
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    writer.write_eof() if writer.can_write_eof() else None
                    return
                if (wait := due - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()

        delivering = asyncio.ensure_future(deliver())
        try:
            while data := await reader.read(1 << 16):
                seen(data)
                queue.put_nowait((time.monotonic() + self.delay_s, data))
            queue.put_nowait((time.monotonic() + self.delay_s, b""))
            await delivering
        finally:
            delivering.cancel()


class ProxyThread:
    """A ``LatencyProxy`` on its own event loop in a thread, for commands run as
    processes: ``with ProxyThread(upstream, delay_ms) as proxy:`` then
    ``proxy.url(...)``, ``proxy.take()`` (the round trips since the last take)."""

    def __init__(self, upstream: tuple[str, int] | str, delay_ms: float = 0.0) -> None:
        self.proxy = LatencyProxy(upstream, delay_ms)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="latency-proxy", daemon=True
        )

    def __enter__(self) -> ProxyThread:
        self._thread.start()
        self._call(self.proxy.__aenter__())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._call(self.proxy.__aexit__(None, None, None))
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def url(self, url: str) -> str:
        return self.proxy.url(url)

    def take(self) -> list[RoundTrip]:
        """The round trips of every connection since the last ``take`` (read in the
        proxy's own thread: its bookkeeping is never touched from two threads)."""

        async def snapshot() -> list[RoundTrip]:
            trips = self.proxy.trips
            self.proxy.reset()
            return trips

        return self._call(snapshot())


def upstream_of(url: str) -> tuple[str, int] | str:
    """Where ``url`` (postgresql://, TCP or ``?host=/socket/dir``) points."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    host = query.get("host") or (unquote(parts.hostname) if parts.hostname else "")
    port = int(query.get("port") or parts.port or 5432)
    if not host or host.startswith("/"):
        return f"{host or '/tmp'}/.s.PGSQL.{port}"
    return (host, port)


def summarize(trips: list[RoundTrip]) -> Counter[str]:
    """How many round trips of each shape (client message types → reply types)."""
    return Counter("".join(_short(t.sent)) for t in trips)


async def _serve(upstream: tuple[str, int] | str, delay_ms: float, port: int) -> None:
    proxy = LatencyProxy(upstream, delay_ms)
    proxy._server = await asyncio.start_server(proxy._handle, "127.0.0.1", port)
    print(f"listening on 127.0.0.1:{proxy.port}, {delay_ms} ms each way", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        for trip in proxy.trips:
            print(trip.describe())
        print(f"{proxy.round_trips} round trips")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="host:port or a Unix socket path")
    parser.add_argument("--delay-ms", type=float, default=25.0, help="added each way")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    host, _, port = args.upstream.rpartition(":")
    upstream = args.upstream if args.upstream.startswith("/") else (host, int(port))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(upstream, args.delay_ms, args.port))


if __name__ == "__main__":
    main()
