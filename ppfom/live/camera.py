"""Camera frames for ``tools/live.py`` and the benchmark: a device, or a video file standing in for one.

A file plays at its own frame rate, as a camera would deliver it: a frame is
handed out no earlier than its time, and frames whose time has already passed
(the reader fell behind) are skipped, so that the stream stays real time.
"""
from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np

from ..errors import PpfomError
from ..video import VideoReader


class FileCamera:
    """``for frame in FileCamera(path)``: RGB frames at the file's rate; ``loop`` replays it."""

    def __init__(self, path: str, loop: bool = False, limit: int | None = None):
        self.path = path
        self.loop = loop
        self.limit = limit
        with VideoReader(path, label="driving video", option="--driving_video") as video:
            self.fps = float(video.fps or 25.0)
            self.frame_size = video.frame_size
        self.skipped = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        start, index, handed = time.monotonic(), 0, 0
        while True:
            with VideoReader(self.path, label="driving video", option="--driving_video") as video:
                for frame in video:
                    due = start + index / self.fps
                    index += 1
                    now = time.monotonic()
                    if now > due + 1.0 / self.fps:
                        self.skipped += 1  # its time is over: a camera would not have kept it
                        continue
                    time.sleep(max(0.0, due - now))
                    yield frame
                    handed += 1
                    if self.limit is not None and handed >= self.limit:
                        return
            if not self.loop:
                return


class DeviceCamera:
    """An OpenCV camera (``--camera N``): RGB frames as the device delivers them."""

    def __init__(self, index: int):
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # our one-line error says it
        self.capture = cv2.VideoCapture(index)
        if not self.capture.isOpened():
            raise PpfomError(f"camera {index} cannot be opened: check --camera, or use --driving_video FILE")
        self.fps = float(self.capture.get(cv2.CAP_PROP_FPS) or 30.0)
        self.skipped = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        import cv2

        try:
            while True:
                ok, frame = self.capture.read()
                if not ok:
                    return
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        finally:
            self.capture.release()
