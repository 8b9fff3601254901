"""Follow the face through a driving video and choose the one square box to read it through.

FOM was trained on square clips cropped tightly around a face; a wide shot
with a small face gives nonsense motion. One pass over the video (frames
shrunk to at most ``DETECT_SIDE`` pixels, a detection every few frames) links
detections into tracks; the chosen track (the longest seen, then the largest)
gets a single box for the whole clip, because the head's translation inside
the box is motion to transfer, not something to cancel. The box is the union
of the track's face boxes, enlarged as the original FOMM ``crop-video.py``
does (each side by ``increase`` of the face's size, the shorter one more so
that the box is square) but no smaller than ``FACE_SHARE`` face sides, the framing of
the source crop, then moved inside the frame. Only the detections are kept, so
memory does not grow with the video.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .detector import FaceDetector

Box = tuple[float, float, float, float]

DETECT_SIDE = 640  # frames are shrunk to this longer side for detection, as the original crop script
DETECTIONS_PER_SECOND = 5.0
INCREASE = 0.1  # the original crop-video.py's default --increase
# The box is at least this many face sides: PaddleGAN's crop of the source photo is 2 face sides high, and
# relative motion, measured as a share of the frame, moves the source's face as much as the driving one's
# only when both faces fill the same share of their frames.
FACE_SHARE = 2.0
# A box that keeps this share of both the frame's width and height changes too little to be worth it.
FILLS_FRAME = 0.75
LINK_DISTANCE = 0.7  # a detection joins a track whose last box's centre is within this many box sides
RELINK_DISTANCE = 2.0  # ... or this many, for a face coming back after it was not seen
LINK_SCALE = 2.0  # ... and whose last box's side differs from its own by less than this factor


@dataclass
class Track:
    """One face followed over time: the sampled frame indices and boxes where it was seen."""

    frames: list[int] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)

    def add(self, index: int, box: Box) -> None:
        self.frames.append(index)
        self.boxes.append(tuple(float(v) for v in box))

    @property
    def last(self) -> Box:
        return self.boxes[-1]

    @property
    def face_side(self) -> float:
        """The face's typical size: the median of its boxes' longer sides."""
        return float(np.median([max(b[2] - b[0], b[3] - b[1]) for b in self.boxes]))

    @property
    def mean_area(self) -> float:
        return float(np.mean([(b[2] - b[0]) * (b[3] - b[1]) for b in self.boxes]))

    def union(self) -> Box:
        """The smallest box holding every detection of the track (and so every interpolated box)."""
        boxes = np.asarray(self.boxes)
        return (boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max())

    def box_at(self, index: int) -> Box | None:
        """The face box at any frame inside the track's span, linearly interpolated between
        detections; None outside the span."""
        if not self.frames or not self.frames[0] <= index <= self.frames[-1]:
            return None
        boxes = np.asarray(self.boxes)
        return tuple(float(np.interp(index, self.frames, boxes[:, k])) for k in range(4))


def _side(box: Box) -> float:
    return math.sqrt(max(1e-6, (box[2] - box[0]) * (box[3] - box[1])))


def _centre(box: Box) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


def _link_cost(track: Track, box: Box, lost: bool) -> float | None:
    """How far ``box`` is from the track's last box in box sides; None if it cannot be the same face.
    A ``lost`` track (missed at the previous sample) may have moved further while out of sight."""
    last = track.last
    scale = _side(box) / _side(last)
    if not 1 / LINK_SCALE < scale < LINK_SCALE:
        return None
    distance = float(np.linalg.norm(_centre(box) - _centre(last))) / max(_side(box), _side(last))
    return distance if distance <= (RELINK_DISTANCE if lost else LINK_DISTANCE) else None


def link(detections: Iterable[tuple[int, list[Box]]]) -> list[Track]:
    """Tracks from (frame index, face boxes) samples: each box joins the nearest compatible track
    (each track takes at most one box per frame), else starts a new one."""
    tracks: list[Track] = []
    previous = None
    for index, boxes in detections:
        pairs = sorted((cost, t, b) for t, track in enumerate(tracks) for b, box in enumerate(boxes)
                       if (cost := _link_cost(track, box, track.frames[-1] != previous)) is not None)
        used_tracks, used_boxes = set(), set()
        for _, t, b in pairs:
            if t not in used_tracks and b not in used_boxes:
                tracks[t].add(index, boxes[b])
                used_tracks.add(t)
                used_boxes.add(b)
        for b, box in enumerate(boxes):
            if b not in used_boxes:
                tracks.append(Track())
                tracks[-1].add(index, box)
        previous = index
    return tracks


def main_track(tracks: list[Track]) -> Track | None:
    """The face to follow: the one seen in the most samples; among those seen nearly as often
    (80%), the largest."""
    if not tracks:
        return None
    longest = max(len(t.frames) for t in tracks)
    return max((t for t in tracks if len(t.frames) >= 0.8 * longest), key=lambda t: t.mean_area)


def square_box(face: Box, frame_size: tuple[int, int], increase: float = INCREASE,
               min_side: float = 0.0) -> tuple[int, int, int, int]:
    """The original crop's enlargement of ``face`` (x1, y1, x2, y2), made square, at least
    ``min_side``, and moved (not cut) to fit inside the (w, h) frame; a square larger than the
    frame's shorter side shrinks to it."""
    width, height = frame_size
    x1, y1, x2, y2 = face
    side = max((1 + 2 * increase) * max(x2 - x1, y2 - y1), min_side)
    side = round(min(side, width, height))
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left = round(min(max(cx - side / 2, 0), width - side))
    top = round(min(max(cy - side / 2, 0), height - side))
    return (left, top, left + side, top + side)


def fills_frame(box: tuple[int, int, int, int], frame_size: tuple[int, int]) -> bool:
    """Whether cropping to ``box`` would keep most of the frame (then the crop is not worth doing)."""
    width, height = frame_size
    side = box[2] - box[0]
    return side >= FILLS_FRAME * width and side >= FILLS_FRAME * height


def detect_every(fps: float) -> int:
    """Frames between two detections: about ``DETECTIONS_PER_SECOND`` a second."""
    return max(1, round(fps / DETECTIONS_PER_SECOND))


def sample_faces(frames: Iterable[np.ndarray], detector: FaceDetector, every: int,
                 scale: float = 1.0) -> Iterable[tuple[int, list[Box]]]:
    """(index, face boxes in full-frame pixels) for every ``every``-th frame and the last one;
    ``scale`` is the full frame's size over the given frames' size."""
    frame = None
    index = -1
    for index, frame in enumerate(frames):
        if index % every == 0:
            yield index, [tuple(v * scale for v in f.box) for f in detector.detect(frame)]
    if frame is not None and index % every:
        yield index, [tuple(v * scale for v in f.box) for f in detector.detect(frame)]


@dataclass
class FaceTrack:
    """What the pass over a driving video found: the chosen track, all tracks and the frame count."""

    track: Track | None
    tracks: list[Track]
    num_frames: int
    every: int

    def unseen(self) -> list[int]:
        """Sampled frames, within or after the span of the chosen track, where its face was not seen."""
        if self.track is None:
            return []
        seen = set(self.track.frames)
        sampled = list(range(0, self.num_frames, self.every))
        if self.num_frames and sampled[-1] != self.num_frames - 1:
            sampled.append(self.num_frames - 1)
        return [i for i in sampled if i not in seen]


def follow(frames: Iterable[np.ndarray], detector: FaceDetector, every: int, scale: float = 1.0) -> FaceTrack:
    """Detect faces on every ``every``-th frame, link them into tracks and choose the one to follow."""
    samples = []

    def counted():
        for index, boxes in sample_faces(frames, detector, every, scale):
            samples.append(index)
            yield index, boxes

    tracks = link(counted())
    num_frames = samples[-1] + 1 if samples else 0
    return FaceTrack(main_track(tracks), tracks, num_frames, every)
