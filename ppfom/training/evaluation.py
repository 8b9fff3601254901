"""Held-out evaluation as in the FOM paper: reconstruction L1 and average keypoint distance.

Each test video is reconstructed from its own first frame (source = frame 0,
driving = every frame, absolute keypoints), and compared with the real
frames: mean absolute pixel difference in [0, 1] (L1), and the mean distance
in pixels between landmarks detected on generated and on real frames (AKD).
The no-motion baseline copies the source frame; a model must beat it.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import paddle

from .. import frames as fr
from .. import weights
from .dataset import find_split, read_video
from .regions import landmark_file

LandmarkFn = Callable[[np.ndarray], np.ndarray]  # NCHW [0, 1] -> (N, K, 2) pixels


@dataclass
class Scores:
    """Sums over frames; ``summary()`` turns them into means."""

    frames: int = 0
    with_landmarks: bool = False
    l1: float = 0.0
    l1_baseline: float = 0.0
    gradient: float = 0.0       # mean gradient magnitude of the generated frames ...
    gradient_real: float = 0.0  # ... and of the real ones: their ratio says how sharp the output is
    akd: float = 0.0
    akd_baseline: float = 0.0
    akd_frames: int = 0  # frames where the detector found landmarks on both images
    akd_baseline_frames: int = 0
    detector_error: list = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        n = max(self.frames, 1)
        out = {"frames": self.frames, "l1": self.l1 / n, "l1_no_motion": self.l1_baseline / n,
               "sharpness": self.gradient / max(self.gradient_real, 1e-12)}
        if self.with_landmarks:
            out.update(akd=self.akd / max(self.akd_frames, 1),
                       akd_no_motion=self.akd_baseline / max(self.akd_baseline_frames, 1),
                       missing_landmarks=1 - self.akd_frames / n)
        if self.detector_error:
            out["landmark_detector_error"] = float(np.mean(self.detector_error))
        return out


def gradient_magnitude(frames: np.ndarray) -> np.ndarray:
    """Per-frame mean |grad| of NCHW frames (forward differences, every channel).

    A blurred reconstruction can score a fair L1 while losing eyes and mouth; its
    gradients shrink, so generated / real gradient magnitude measures that loss.
    """
    gx = np.diff(frames, axis=3)[:, :, :-1, :]
    gy = np.diff(frames, axis=2)[:, :, :, :-1]
    return np.sqrt(gx * gx + gy * gy).mean(axis=(1, 2, 3))


def load_networks(cfg: dict, weight_path: str):
    """Keypoint detector and training-mode generator (no inference border fix), in eval mode."""
    return weights.load_networks(cfg, weight_path, inference=False)


@paddle.no_grad()
def reconstruct(kp_detector, generator, video: np.ndarray, batch_size: int = 8) -> np.ndarray:
    """Frames (T, 3, H, W) in [0, 1] regenerated from frame 0 by each frame's keypoints."""
    source = paddle.to_tensor(video[:1])
    kp_source = kp_detector(source)
    features = generator.encode(source)
    out = []
    for start in range(0, len(video), batch_size):
        driving = paddle.to_tensor(video[start:start + batch_size])
        kp_driving = kp_detector(driving)
        result = generator.animate(source, features, kp_driving, kp_source, full_output=False)
        out.append(result["prediction"].numpy())
    return np.concatenate(out)


def evaluate(cfg: dict, weight_path: str, dataroot: str | None = None, landmarks: LandmarkFn | None = None,
             max_videos: int | None = None, phase: str = "test") -> dict[str, float]:
    """Scores of a checkpoint on ``dataroot``'s test videos (default: the config's test dataroot)."""
    spec = cfg["dataset"].get("test") or cfg["dataset"]["train"]
    root = dataroot or spec["dataroot"]
    frame_shape = spec.get("frame_shape", cfg["dataset"]["train"]["frame_shape"])
    kp_detector, generator = load_networks(cfg, weight_path)
    scores = Scores(with_landmarks=landmarks is not None)
    for path in find_split(root, phase)[:max_videos]:
        video = fr.to_nchw(np.stack(read_video(path, frame_shape)))
        generated = reconstruct(kp_detector, generator, video)
        scores.frames += len(video)
        scores.l1 += float(np.abs(generated - video).mean(axis=(1, 2, 3)).sum())
        scores.l1_baseline += float(np.abs(video[:1] - video).mean(axis=(1, 2, 3)).sum())
        scores.gradient += float(gradient_magnitude(generated).sum())
        scores.gradient_real += float(gradient_magnitude(video).sum())
        if landmarks is not None:
            real = landmarks(video)
            scores.akd, scores.akd_frames = _add_distances(scores.akd, scores.akd_frames, landmarks(generated), real)
            scores.akd_baseline, scores.akd_baseline_frames = _add_distances(
                scores.akd_baseline, scores.akd_baseline_frames, np.repeat(real[:1], len(real), 0), real)
            truth = _true_landmarks(root, phase, path)
            if truth is not None and truth.shape == real.shape:
                scores.detector_error.append(float(np.linalg.norm(real - truth, axis=-1).mean()))
    return scores.summary()


def _add_distances(total: float, count: int, a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """Add per-frame mean landmark distances; frames where either side found no face (NaN) are skipped."""
    per_frame = np.linalg.norm(a - b, axis=-1).mean(-1)
    found = ~np.isnan(per_frame)
    return total + float(per_frame[found].sum()), count + int(found.sum())


def _true_landmarks(root: str, phase: str, video: str) -> np.ndarray | None:
    """Landmarks written by :mod:`ppfom.synthetic` beside the dataset, if any."""
    path = landmark_file(root, phase, video)
    return np.load(path) if os.path.isfile(path) else None


def cartoon_landmarks() -> LandmarkFn:
    """The packaged landmark detector for :mod:`ppfom.synthetic`'s cartoon faces."""
    from . import cartoon_landmarks as cl

    net = cl.load()
    return lambda images: cl.detect(net, images)


def face_landmarks() -> LandmarkFn:
    """Five landmarks of the largest face from ppfom's packaged RetinaFace (NaN where none is found)."""
    from ..faces.detector import create_detector

    detector = create_detector("retinaface")

    def detect(images: np.ndarray) -> np.ndarray:
        out = np.full((len(images), 5, 2), np.nan, np.float32)
        for i, frame in enumerate(fr.to_uint8(images)):
            faces = [f for f in detector.detect(frame) if f.landmarks is not None]
            if faces:
                out[i] = max(faces, key=lambda f: f.area).landmarks
        return out

    return detect


def self_reenactment(predictor, clips: list[np.ndarray]) -> dict[str, float]:
    """L1 and sharpness of the demo's own path reconstructing each clip from its first frame.

    ``predictor`` is a :class:`ppfom.predictor.FirstOrderPredictor` (its networks, relative motion,
    uint8 output); ``clips`` are (T, H, W, 3) uint8 videos at the predictor's image size. The
    video codec is left out: it would blur a 64-pixel frame more than the model does.
    """
    l1, gradient, gradient_real, count = 0.0, 0.0, 0.0, 0
    for clip in clips:
        animator = predictor.make_animator(clip[0])
        generated = fr.to_nchw(predictor.animate_batch(animator, clip))
        real = fr.to_nchw(clip)
        l1 += float(np.abs(generated - real).mean(axis=(1, 2, 3)).sum())
        gradient += float(gradient_magnitude(generated).sum())
        gradient_real += float(gradient_magnitude(real).sum())
        count += len(clip)
    return {"frames": count, "l1": l1 / max(count, 1), "sharpness": gradient / max(gradient_real, 1e-12)}
