"""Overlap the work on one chunk with the reading and writing of others, in bounded memory."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable

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
