"""Overlap the work on one chunk with the reading and writing of others, in bounded memory."""

from __future__ import annotations

import contextlib
import queue
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable, Iterator

T = TypeVar("T")
R = TypeVar("R")


def overlapped(fn: Callable[[T], R], items: Iterable[T]) -> Generator[R, None, None]:
    """
    ``fn(item)`` for each item, in order, with ``fn`` on the next item running in a worker thread
    while the caller takes the next item and handles the current result.

    Prediction (mostly native code that releases the GIL) then overlaps the reads and writes.
    At most one result waits and one item is queued behind the one being worked on.
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="automl-work") as pool:
        pending = None
        try:
            for item in items:
                current = pool.submit(fn, item)
                if pending is not None:
                    yield pending.result()
                pending = current
            if pending is not None:
                yield pending.result()
        finally:
            if pending is not None:
                pending.cancel()


@contextlib.contextmanager
def read_ahead(items: Callable[[], Iterator[T]], depth: int = 2, name: str = "automl-reader") -> Iterator[Iterator[T]]:
    """
    Run ``items()`` in a thread of its own, up to ``depth`` items ahead of the caller: the database
    reads the next chunk while the caller works on the last (both let go of the GIL). The
    iterator, and the connection it reads from, live in that thread only; its errors are raised to
    the caller, and leaving the block stops and joins the thread.
    """
    ahead: queue.Queue[Any] = queue.Queue(depth)
    stop = threading.Event()
    done = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items():
                if not put(item):
                    return  # the caller stopped early: leaving the loop closes the cursor here
            put(done)
        except BaseException as err:  # handed to the caller, raised there
            put(_Failure(err))

    def consume() -> Iterator[T]:
        while (item := ahead.get()) is not done:
            if isinstance(item, _Failure):
                raise item.error
            yield item

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        yield consume()
    finally:
        stop.set()
        thread.join()


@dataclass(frozen=True)
class _Failure:
    error: BaseException
