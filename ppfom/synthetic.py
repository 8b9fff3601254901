"""Cartoon faces that move, turn, blink and talk: a video dataset with known landmarks.

Training and its tests need videos of one object category whose motion is
known; this module draws them so that nothing has to be downloaded. Each
identity has fixed colours and proportions; each clip moves it along smooth
random trajectories (translation, roll, scale, yaw, eye and mouth opening).
The five landmarks (eyes, nose tip, mouth corners, as face detectors report
them) are returned in pixel coordinates for evaluation.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

SUPERSAMPLE = 4  # drawn at 4x and shrunk with an area filter: smooth, anti-aliased edges
LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


@dataclass
class Identity:
    """What stays fixed across an identity's clips: colours and proportions."""

    background: np.ndarray
    skin: np.ndarray
    hair: np.ndarray
    iris: np.ndarray
    lips: np.ndarray
    width: float   # head half-width as a fraction of the frame
    height: float  # head half-height as a fraction of the frame
    eye_gap: float


def random_identity(rng: np.random.Generator) -> Identity:
    def colour(lo: int, hi: int) -> np.ndarray:
        return rng.integers(lo, hi, 3).astype(np.float64)

    return Identity(background=colour(0, 256), skin=colour(120, 256), hair=colour(0, 120),
                    iris=colour(0, 200), lips=colour(80, 230),
                    width=rng.uniform(0.22, 0.28), height=rng.uniform(0.28, 0.34),
                    eye_gap=rng.uniform(0.32, 0.42))


def random_motion(rng: np.random.Generator, num_frames: int) -> dict[str, np.ndarray]:
    """Per-frame pose parameters: sums of two sinusoids, so motion is smooth but varied."""
    t = np.arange(num_frames, dtype=np.float64) / max(num_frames - 1, 1)

    def wave(amplitude: float, centre: float = 0.0) -> np.ndarray:
        out = np.full(num_frames, centre)
        for _ in range(2):
            freq, phase = rng.uniform(0.3, 1.5), rng.uniform(0, 2 * np.pi)
            out += amplitude / 2 * np.sin(2 * np.pi * freq * t + phase)
        return out

    blink = np.ones(num_frames)
    for start in rng.integers(0, num_frames, rng.integers(0, 3)):
        blink[start:start + 3] = 0.1
    return {"x": wave(0.16, 0.5 + rng.uniform(-0.05, 0.05)), "y": wave(0.12, 0.5 + rng.uniform(-0.05, 0.05)),
            "roll": wave(0.5), "scale": wave(0.25, 1.0), "yaw": wave(0.9),
            "eyes": np.clip(wave(0.4, 0.8), 0.15, 1.0) * blink, "mouth": np.clip(wave(1.2, 0.35), 0.05, 1.0)}


def _pose(motion: dict[str, np.ndarray], i: int) -> dict[str, float]:
    return {k: float(v[i]) for k, v in motion.items()}


def _to_frame(points: np.ndarray, pose: dict[str, float], size: int) -> np.ndarray:
    """Face-local points (x right, y down, unit = frame size) -> pixel coordinates."""
    c, s = np.cos(pose["roll"]), np.sin(pose["roll"])
    rot = np.array([[c, -s], [s, c]])
    return (points * pose["scale"]) @ rot.T * size + np.array([pose["x"], pose["y"]]) * size


def _local_landmarks(ident: Identity, pose: dict[str, float]) -> np.ndarray:
    """The five landmarks in face-local coordinates; yaw shifts and squeezes the features."""
    yaw = pose["yaw"]
    shift = 0.45 * ident.width * np.sin(yaw)
    squeeze = np.cos(yaw)
    half_gap = ident.eye_gap * ident.width * squeeze
    mouth_half = 0.38 * ident.width * squeeze * (1 - 0.25 * pose["mouth"])
    h = ident.height
    return np.array([[shift - half_gap, -0.2 * h], [shift + half_gap, -0.2 * h],
                     [1.4 * shift, 0.12 * h], [shift - mouth_half, 0.45 * h], [shift + mouth_half, 0.45 * h]])


def landmarks(ident: Identity, pose: dict[str, float], size: int) -> np.ndarray:
    """(5, 2) pixel positions of :data:`LANDMARKS` in a frame of ``size`` x ``size``."""
    return _to_frame(_local_landmarks(ident, pose), pose, size)


def render(ident: Identity, pose: dict[str, float], size: int) -> np.ndarray:
    """One ``size`` x ``size`` RGB uint8 frame of the face in ``pose``."""
    big = size * SUPERSAMPLE
    canvas = np.empty((big, big, 3), np.uint8)
    canvas[:] = ident.background.astype(np.uint8)
    scale = pose["scale"] * big
    angle = np.degrees(pose["roll"])

    def pt(local: np.ndarray) -> tuple[int, int]:
        xy = _to_frame(np.asarray(local, np.float64)[None], pose, big)[0]
        return round(float(xy[0])), round(float(xy[1]))

    def ellipse(centre, axes, colour, rot: float = 0.0) -> None:
        ax = (max(1, int(axes[0] * scale)), max(1, int(axes[1] * scale)))
        cv2.ellipse(canvas, pt(centre), ax, angle + rot, 0, 360, tuple(int(v) for v in colour), -1, cv2.LINE_AA)

    w, h = ident.width, ident.height
    shift = 0.45 * w * np.sin(pose["yaw"])
    ellipse((0.3 * shift, -0.25 * h), (1.08 * w, 0.85 * h), ident.hair)        # hair behind the head
    ellipse((0.0, 0.0), (w, h), ident.skin)                                    # head
    ellipse((shift * 0.3 + np.sign(shift) * -0.9 * w, 0.0), (0.12 * w, 0.22 * h), ident.skin * 0.85)  # ear
    marks = _local_landmarks(ident, pose)
    squeeze = np.cos(pose["yaw"])
    for eye in marks[:2]:
        ellipse(eye, (0.2 * w * squeeze, 0.14 * h * pose["eyes"] + 0.01), (250, 250, 250))
        ellipse(eye, (0.09 * w * squeeze, 0.09 * h * pose["eyes"] + 0.005), ident.iris)
    ellipse(marks[2], (0.07 * w, 0.05 * h), ident.skin * 0.7)                   # nose tip
    mouth = (marks[3] + marks[4]) / 2
    half = (marks[4, 0] - marks[3, 0]) / 2
    ellipse(mouth, (half, 0.03 * h + 0.14 * h * pose["mouth"]), ident.lips)
    ellipse(mouth, (half * 0.8, 0.12 * h * pose["mouth"] + 0.005), (60, 20, 30))
    return cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)


def make_clip(ident: Identity, rng: np.random.Generator, num_frames: int,
              size: int) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T, size, size, 3) uint8 and landmarks (T, 5, 2) float32 of one random clip."""
    motion = random_motion(rng, num_frames)
    poses = [_pose(motion, i) for i in range(num_frames)]
    frames = np.stack([render(ident, p, size) for p in poses])
    marks = np.stack([landmarks(ident, p, size) for p in poses]).astype(np.float32)
    return frames, marks


def write_clip(frames: np.ndarray, path: str, layout: str, fps: float = 25.0) -> str:
    """Write a clip in one of the layouts FOM datasets use; returns the path written.

    ``folder``: ``path/0000000.png`` ...; ``png``: one horizontal strip ``path.png``;
    ``mp4`` / ``gif`` / ``mov``: a video file ``path.<layout>``.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if layout == "folder":
        os.makedirs(path, exist_ok=True)
        for i, frame in enumerate(frames):
            Image.fromarray(frame).save(os.path.join(path, f"{i:07d}.png"))
        return path
    if layout == "png":
        target = path + ".png"
        Image.fromarray(np.concatenate(list(frames), axis=1)).save(target)
        return target
    if layout in ("mp4", "mov", "gif"):
        import imageio.v2 as imageio

        target = f"{path}.{layout}"
        if layout == "gif":
            imageio.mimsave(target, list(frames), duration=1000 / fps, loop=0)
        else:
            # Nearly lossless: training data should not teach the model codec artefacts.
            with imageio.get_writer(target, fps=fps, codec="libx264", quality=None,
                                    output_params=["-crf", "12"], macro_block_size=1) as writer:
                for frame in frames:
                    writer.append_data(frame)
        return target
    raise ValueError(f"unknown layout {layout!r}")


def make_dataset(root: str, size: int = 64, identities: tuple[int, int] = (24, 6), clips_per_identity: int = 3,
                 num_frames: int = 32, layout: str = "folder", seed: int = 0) -> dict[str, list[str]]:
    """Write ``root/train`` and ``root/test`` with VoxCeleb-style names ``idNNN#clipMM``.

    Test identities are never seen in training. Landmarks go to
    ``root/landmarks/<phase>/<name>.npy`` as (T, 5, 2) pixel coordinates,
    outside the video folders so readers never mistake them for videos.
    """
    rng = np.random.default_rng(seed)
    written: dict[str, list[str]] = {"train": [], "test": []}
    number = 0
    for phase, count in zip(("train", "test"), identities):
        os.makedirs(os.path.join(root, "landmarks", phase), exist_ok=True)
        for _ in range(count):
            ident = random_identity(rng)
            for clip in range(clips_per_identity):
                name = f"id{number:03d}#clip{clip:02d}"
                frames, marks = make_clip(ident, rng, num_frames, size)
                written[phase].append(write_clip(frames, os.path.join(root, phase, name), layout))
                np.save(os.path.join(root, "landmarks", phase, name + ".npy"), marks)
            number += 1
    return written


def make_demo_inputs(folder: str, size: int = 64, num_frames: int = 64, seed: int = 1234) -> tuple[str, str]:
    """A source photo and a driving video of two different cartoon identities."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    source_ident, driving_ident = random_identity(rng), random_identity(rng)
    still = {"x": 0.5, "y": 0.5, "roll": 0.0, "scale": 1.0, "yaw": 0.0, "eyes": 0.9, "mouth": 0.3}
    source = os.path.join(folder, "cartoon_source.png")
    Image.fromarray(render(source_ident, still, size)).save(source)
    frames, _ = make_clip(driving_ident, rng, num_frames, size)
    driving = write_clip(frames, os.path.join(folder, "cartoon_driving"), "mp4")
    return source, driving
