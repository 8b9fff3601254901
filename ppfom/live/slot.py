"""A one-place mailbox where the newest item wins.

A live stream must not queue: if frames arrive faster than they are animated,
a queue grows and so does the delay between a movement and its picture. Here a
frame that arrives while another still waits replaces it (the older one is
dropped and counted), so the worker always takes the newest frame and the delay
stays under two frame times.
"""
from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestSlot(Generic[T]):
    """Thread-safe: ``put`` never blocks; ``take`` waits for an item, or for ``close``."""

    def __init__(self):
        self._item: T | None = None
        self._full = False
        self._closed = False
        self._poked = False
        self._cond = threading.Condition()
        self.put_count = 0
        self.dropped = 0

    def put(self, item: T) -> bool:
        """Offer ``item``; returns True when it replaced a waiting one (which is dropped)."""
        with self._cond:
            replaced = self._full
            self.dropped += replaced
            self.put_count += 1
            self._item, self._full = item, True
            self._cond.notify()
            return replaced

    def take(self, timeout: float | None = None) -> T | None:
        """The newest item (removing it), or None after ``timeout`` seconds or once closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._full or self._closed or self._poked, timeout)
            self._poked = False
            if not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            return item

    def wake(self) -> None:
        """Make a waiting ``take`` return None now (the worker has other work, e.g. a control)."""
        with self._cond:
            self._poked = True
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed
