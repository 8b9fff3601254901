"""Where a run's time goes, stage by stage, for benchmarks.

The predictor takes an optional :class:`Timings`; without one every stage is
timed by :func:`stage` as a shared no-op, so the demo pays nothing for it.
Stages may run in several threads at once, so their sums can exceed the wall
time: that overlap is what the benchmark wants to see.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

_UNTIMED = contextlib.nullcontext()


class Timings:
    """Seconds and call counts summed per stage name; safe to add to from any thread."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            self.seconds[name] = self.seconds.get(name, 0.0) + seconds
            self.calls[name] = self.calls.get(name, 0) + 1

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)


def stage(timings: Timings | None, name: str) -> contextlib.AbstractContextManager:
    """``timings(name)``, or a no-op when nothing is being measured."""
    return _UNTIMED if timings is None else timings(name)


def timed_iter(items: Iterator, timings: Timings | None, name: str) -> Iterator:
    """``items``, with the time each one takes to arrive added to ``name``."""
    if timings is None:
        yield from items
        return
    items = iter(items)
    try:
        while True:
            with timings(name):
                item = next(items, _END)
            if item is _END:
                return
            yield item
    finally:
        if hasattr(items, "close"):
            items.close()  # stop the source's work (an ffmpeg decode) as soon as the consumer stops


_END = object()
