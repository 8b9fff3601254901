"""Decoding and encoding beside the networks: one thread each, bounded queues.

ffmpeg's pipes are I/O and numpy, OpenCV and onnxruntime release the GIL, so a
reader thread can decode the next batch and a writer thread paste and encode the
last one while the networks run. The queues hold at most ``depth`` batches, so
memory stays flat however long the video. Order is kept (one producer, one
consumer, FIFO). An exception in a thread, Ctrl-C included, is raised in the
caller at the point its batch would have arrived or gone; and when the caller
stops early the threads stop too, so the ffmpeg processes can be killed and the
output discarded as without threads. ``depth=0`` runs everything inline.
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Self

POLL = 0.1  # seconds between checks of the other side while waiting (keeps Ctrl-C prompt everywhere)
STOP_WAIT = 10.0  # seconds a stopping thread gets to finish the batch in its hands
_END = object()


class _Failure:
    """An exception travelling through a queue to be raised on the other side."""

    def __init__(self, error: BaseException):
        self.error = error


class _Worker:
    """A daemon thread, a bounded queue and a stop flag, shared by both directions."""

    def __init__(self, depth: int, name: str, target: Callable[[], None]):
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=target, name=name, daemon=True)

    def _put(self, item: Any) -> bool:
        """Queue ``item`` unless told to stop first; False when stopped."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=POLL)
                return True
            except queue.Full:
                continue
        return False

    def _stop_thread(self) -> None:
        """Stop the thread and wait for it: it finishes the item in hand (one batch's decode or
        write), then sees the flag. A second Ctrl-C meanwhile is raised once the thread is gone,
        so that ffmpeg is never killed under a thread still using its pipe; after STOP_WAIT
        seconds (a hung ffmpeg) the thread is left behind."""
        self._stop.set()
        interrupted, deadline = None, time.monotonic() + STOP_WAIT
        while self._thread.is_alive() and time.monotonic() < deadline:
            try:
                self._drain()
                self._thread.join(POLL)
            except KeyboardInterrupt as err:
                interrupted = err
        self._drain()
        if interrupted is not None:
            raise interrupted

    def _drain(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return


class Prefetch(_Worker):
    """``items`` iterated in a thread up to ``depth`` ahead; use as a context manager.

    The thread closes ``items`` when it ends, so a generator's clean-up (killing its
    ffmpeg) runs there and never while it is executing.
    """

    def __init__(self, items: Iterable, depth: int = 1, name: str = "ppfom-read"):
        super().__init__(max(depth, 1), name, self._fill)
        self._items, self._inline = items, depth == 0

    def __enter__(self) -> Self:
        if not self._inline:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._inline:
            _close(self._items)
        else:
            self._stop_thread()

    def __iter__(self) -> Iterator:
        if self._inline:
            yield from self._items
            return
        while (item := self._get()) is not _END:
            yield item

    def _get(self) -> Any:
        while True:
            try:
                item = self._queue.get(timeout=POLL)
                break
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    raise RuntimeError(f"thread {self._thread.name} ended without a word") from None
        if isinstance(item, _Failure):
            raise item.error
        return item

    def _fill(self) -> None:
        try:
            for item in self._items:
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as error:  # noqa: BLE001 - re-raised in the consuming thread
            self._put(_Failure(error))
        finally:
            _close(self._items)


class Behind(_Worker):
    """``work(item)`` called in a thread for every :meth:`put` item, in order, up to ``depth`` behind.

    Use as a context manager: a clean exit waits for the last item and raises the
    thread's error if it had one; an exit on an exception drops what is queued.
    """

    def __init__(self, work: Callable[[Any], None], depth: int = 1, name: str = "ppfom-write"):
        super().__init__(max(depth, 1), name, self._drain_into_work)
        self._work, self._inline = work, depth == 0
        self._error: BaseException | None = None

    def __enter__(self) -> Self:
        if not self._inline:
            self._thread.start()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._inline:
            return
        if exc_type is not None:
            self._stop_thread()
            return
        self._send(_END)
        self._thread.join()
        self._raise_error()

    def put(self, item: Any) -> None:
        """Hand ``item`` to the thread (waits while ``depth`` items are queued)."""
        if self._inline:
            self._work(item)
        else:
            self._send(item)

    def _send(self, item: Any) -> None:
        while True:
            self._raise_error()
            if not self._thread.is_alive():
                raise RuntimeError(f"thread {self._thread.name} ended without a word")
            try:
                self._queue.put(item, timeout=POLL)
                return
            except queue.Full:
                continue

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            self._stop.set()
            raise error

    def _drain_into_work(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=POLL)
            except queue.Empty:
                continue
            if item is _END:
                return
            try:
                self._work(item)
            except BaseException as error:  # noqa: BLE001 - re-raised in the producing thread
                self._error = error
                self._stop.set()
                return


def _close(items: Iterable) -> None:
    close = getattr(items, "close", None)
    if close is not None:
        close()
