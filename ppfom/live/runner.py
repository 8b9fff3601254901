"""The worker thread of a live stream: newest frame -> animated frame, controls in between.

Frames are offered with :meth:`LiveRunner.submit` (never blocks; a frame still
waiting is replaced, see :mod:`.slot`). Controls (a new photo, model, reference
pose) are callables run by the same thread between two frames, so the session is
never changed mid-frame and needs no lock. Results and errors go to callbacks,
called from the worker thread.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import PpfomError
from .codec import decode_image
from .session import LiveSession
from .slot import LatestSlot

log = logging.getLogger("ppfom.live")


@dataclass
class Result:
    """One animated frame: ``tag`` is the caller's label of the camera frame it came from."""

    tag: Any
    image: np.ndarray
    arrived: float  # time.monotonic() when the camera frame was submitted
    done: float

    @property
    def latency(self) -> float:
        return self.done - self.arrived


class LiveRunner:
    """``session`` may be None until a control sets ``runner.session`` (e.g. after loading a model)."""

    def __init__(self, session: LiveSession | None, on_result: Callable[[Result], None],
                 on_error: Callable[[str], None] | None = None):
        self.session = session
        self.on_result = on_result
        self.on_error = on_error or (lambda message: log.warning("%s", message))
        self.slot: LatestSlot[tuple[Any, Any, float]] = LatestSlot()
        self._controls: deque[Callable[[LiveRunner], None]] = deque()
        self.animated = 0
        self.errors = 0
        self._thread = threading.Thread(target=self._work, name="ppfom-live", daemon=True)
        self._thread.start()

    def submit(self, frame: np.ndarray | bytes, tag: Any = None, arrived: float | None = None) -> bool:
        """Offer a camera frame (RGB array, or JPEG/PNG bytes decoded by the worker); True if it
        replaced a waiting frame, which is then dropped."""
        return self.slot.put((frame, tag, time.monotonic() if arrived is None else arrived))

    def control(self, change: Callable[[LiveRunner], None]) -> None:
        """Run ``change(runner)`` on the worker before the next frame."""
        self._controls.append(change)
        self.slot.wake()

    @property
    def dropped(self) -> int:
        return self.slot.dropped

    @property
    def received(self) -> int:
        return self.slot.put_count

    def close(self, timeout: float = 10.0) -> None:
        """Stop after the current frame."""
        self.slot.close()
        self._thread.join(timeout)

    def _work(self) -> None:
        while not self.slot.closed:
            while self._controls:
                self._guard(self._controls.popleft(), self)
            item = self.slot.take(timeout=0.5)
            if item is not None:
                self._guard(self._frame, *item)

    def _frame(self, frame: np.ndarray | bytes, tag: Any, arrived: float) -> None:
        if self.session is None:
            raise PpfomError("no model loaded yet")
        if isinstance(frame, (bytes, bytearray, memoryview)):
            frame = decode_image(bytes(frame))
        image = self.session.animate(frame)
        self.animated += 1
        self.on_result(Result(tag, image, arrived, time.monotonic()))

    def _guard(self, work: Callable[..., None], *args: Any) -> None:
        """User errors go to ``on_error`` as one line; bugs to the log too; the worker goes on."""
        try:
            work(*args)
        except PpfomError as err:
            self.errors += 1
            self.on_error(str(err))
        except Exception:  # a live stream survives a bad frame
            self.errors += 1
            log.exception("live frame failed")
            self.on_error("internal error while animating: see the server's log")
