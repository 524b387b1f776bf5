"""Group commit: callers that arrive while a batch is being written wait for the next batch, so a
burst shares one transaction and one fsync, and each caller returns only after the commit holding its item."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommitter(Generic[T, R]):
    def __init__(self, write_many: Callable[[list[T]], list[R | Exception]], *, max_batch: int = 64) -> None:
        """`write_many` runs in a worker thread, returns one outcome per item, and raises only when
        the whole batch failed (then every caller in it gets that exception)."""
        self._write_many = write_many
        self.max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            try:
                outcomes: list[R | Exception] = await asyncio.to_thread(
                    self._write_many, [item for item, _ in batch]
                )
            except Exception as exc:
                outcomes = [exc] * len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():  # the caller gave up (its deadline passed)
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
