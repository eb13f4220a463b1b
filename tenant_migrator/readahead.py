"""The stream's batches read ahead in a thread, so that waiting for the pool's
workers (and unpacking what they send) overlaps with planning and with the
database's work in the event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tenant_migrator.results import TenantResult


class ReadAhead:
    """The stream's batches, each next one read in a thread while the caller works
    on the current one (waiting for the pool's workers, and unpacking what they
    send, then overlap with planning and with the database's work)."""

    _END: Any = object()

    def __init__(self, batches: Iterable[list[TenantResult]]) -> None:
        self._batches: Iterator[list[TenantResult]] = iter(batches)
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="tenant-migrator-reader")
        self._upcoming: asyncio.Future[Any] | None = None
        self._started = False

    def __aiter__(self) -> ReadAhead:
        return self

    async def __anext__(self) -> list[TenantResult]:
        if not self._started:
            # The first batch in this thread: that starts the pool, and the workers
            # are forked from the thread that holds no lock mid-way.
            self._started = True
            batch = next(self._batches, self._END)
        else:
            assert self._upcoming is not None
            batch = await self._upcoming
        if batch is self._END:
            self._upcoming = None
            raise StopAsyncIteration
        loop = asyncio.get_running_loop()
        self._upcoming = loop.run_in_executor(self._reader, next, self._batches, self._END)
        return batch

    async def __aenter__(self) -> ReadAhead:
        return self

    async def __aexit__(self, *exc: object) -> None:
        # On an error: let the read in progress finish (a batch at most), then stop
        # the pool (closing the generator cancels the batches still queued).
        if self._upcoming is not None:
            with contextlib.suppress(BaseException):
                await self._upcoming
        # On Ctrl-C the wait above is cancelled at once while the reader thread is
        # still inside the generator (closing it then raises "generator already
        # executing"): the thread must be out of it first.
        self._reader.shutdown(wait=True)
        close = getattr(self._batches, "close", None)
        if close is not None:
            close()
