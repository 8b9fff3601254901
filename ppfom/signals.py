"""Holding Ctrl-C and SIGTERM back while Paddle traces a graph.

Raised inside Paddle's tracer, a KeyboardInterrupt comes out as an unrelated
RuntimeError or SystemError (seen while exporting on first use), which the
``--backend auto`` fallback would take for a tracer failure and carry on. The
signal is recorded instead and delivered, through the handler that was in
place, once the block ends: a few seconds late, never lost.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread receives signals (the web server exports in a worker)
        return
    received: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: received.append(signum)) for s in SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if received:
            _deliver(received[0], previous[received[0]])


def _deliver(signum: int, handler) -> None:
    if callable(handler):
        handler(signum, None)  # Python's Ctrl-C handler or the demo's SIGTERM one: raises
    elif handler == signal.SIG_DFL:
        signal.raise_signal(signum)
