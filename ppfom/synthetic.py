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
    look: Look | None = None  # the varied style's extras; None draws the plain cartoon


@dataclass
class Look:
    """The varied style: a still background pattern, face shape, hair style and accessories.

    The background never moves with the head, so the model must warp the face over it
    (and fill in what the head uncovers) rather than copy the frame.
    """

    background: str        # plain | gradient | stripes | blobs
    background2: np.ndarray  # colour offset of the pattern from the plain background
    pattern: tuple          # angle, period / blob seed: how the background is laid out
    chin: float             # 0 round ... 1 pointed
    hair: str               # cap | fringe | long | bald | side
    brows: bool
    glasses: np.ndarray | None
    hat: np.ndarray | None
    earrings: np.ndarray | None
    cheeks: np.ndarray | None
    clothes: np.ndarray | None = None  # the portrait style: neck, shoulders and eye/nose details


STYLES = ("plain", "varied", "portrait")
EYE_FRAMES = ".eyes.npy"  # suffix of the eye-frame files next to a clip's landmarks
SKIN_TONES = np.array([[255, 224, 196], [241, 194, 125], [224, 172, 105], [198, 134, 66], [141, 85, 36],
                       [255, 205, 178], [120, 72, 40]], np.float64)


def random_identity(rng: np.random.Generator, style: str = "plain") -> Identity:
    """Colours and proportions of one identity; ``varied`` also draws a :class:`Look`; ``portrait``
    is a varied face made for face detectors (:func:`_make_portrait`).

    ``plain`` draws exactly what earlier versions drew, so existing seeds keep their faces.
    """
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}: use one of {STYLES}")

    def colour(lo: int, hi: int) -> np.ndarray:
        return rng.integers(lo, hi, 3).astype(np.float64)

    ident = Identity(background=colour(0, 256), skin=colour(120, 256), hair=colour(0, 120),
                     iris=colour(0, 200), lips=colour(80, 230),
                     width=rng.uniform(0.22, 0.28), height=rng.uniform(0.28, 0.34),
                     eye_gap=rng.uniform(0.32, 0.42))
    if style != "plain":
        ident.width, ident.height = rng.uniform(0.2, 0.29), rng.uniform(0.26, 0.36)
        if rng.random() < 0.5:  # a human skin tone, a little off
            ident.skin = np.clip(SKIN_TONES[rng.integers(len(SKIN_TONES))] + rng.normal(0, 12, 3), 0, 255)
        ident.look = _random_look(rng)
    if style == "portrait":
        _make_portrait(ident, rng)
    return ident


def _make_portrait(ident: Identity, rng: np.random.Generator) -> None:
    """Turn a varied identity into one RetinaFace can see: human skin, dark hair and eyes, brows,
    a neck and shoulders, no glasses or hat (the face pipeline's offline demo needs detections)."""
    ident.skin = np.clip(SKIN_TONES[rng.integers(len(SKIN_TONES))] + rng.normal(0, 8, 3), 0, 255)
    ident.hair = rng.integers(10, 90, 3).astype(np.float64)
    ident.iris = rng.integers(20, 110, 3).astype(np.float64)
    ident.lips = np.clip(ident.skin * [0.85, 0.55, 0.55], 0, 255)
    look = ident.look
    look.brows, look.glasses, look.hat = True, None, None
    look.hair = str(rng.choice(["cap", "fringe", "side"]))  # long hair hides the neck: fewer detections
    look.clothes = rng.integers(0, 256, 3).astype(np.float64)


def _random_look(rng: np.random.Generator) -> Look:
    def colour(lo: int = 0, hi: int = 256) -> np.ndarray:
        return rng.integers(lo, hi, 3).astype(np.float64)

    def maybe(p: float, value):
        return value if rng.random() < p else None

    kind = str(rng.choice(["plain", "gradient", "stripes", "blobs"], p=[0.25, 0.3, 0.2, 0.25]))
    # Stripes and blobs stay low-contrast: what the moving head uncovers must be guessable.
    contrast = 255 if kind == "gradient" else 60
    return Look(background=kind, background2=rng.uniform(-contrast, contrast, 3), pattern=(float(rng.uniform(0, np.pi)), float(rng.uniform(0.15, 0.4)),
                                               int(rng.integers(1 << 30))),
                chin=float(rng.uniform(0, 1)), hair=str(rng.choice(["cap", "fringe", "long", "bald", "side"])),
                brows=bool(rng.random() < 0.7), glasses=maybe(0.3, colour(0, 160)), hat=maybe(0.2, colour()),
                earrings=maybe(0.25, colour(150, 256)), cheeks=maybe(0.3, colour(180, 256)))


def random_motion(rng: np.random.Generator, num_frames: int, roll: float = 0.5) -> dict[str, np.ndarray]:
    """Per-frame pose parameters: sums of two sinusoids, so motion is smooth but varied.

    ``roll`` is the head tilt's amplitude in radians.
    """
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
            "roll": wave(roll), "scale": wave(0.25, 1.0), "yaw": wave(0.9),
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


def background(ident: Identity, size: int) -> np.ndarray:
    """The still ``size`` x ``size`` backdrop of an identity (float64 RGB)."""
    base = np.broadcast_to(ident.background, (size, size, 3)).astype(np.float64)
    look = ident.look
    if look is None or look.background == "plain":
        return base
    angle, period, seed = look.pattern
    yy, xx = np.mgrid[0:size, 0:size] / size
    along = np.cos(angle) * xx + np.sin(angle) * yy
    if look.background == "gradient":
        mix = np.clip(along / max(abs(np.cos(angle)) + abs(np.sin(angle)), 1e-6), 0, 1)
    elif look.background == "stripes":  # soft stripes, a few across the frame
        mix = 0.5 + 0.5 * np.sin(2 * np.pi * along / period)
    else:  # a few large soft blobs
        rng = np.random.default_rng(seed)
        mix = np.zeros((size, size))
        for cx, cy, r in zip(rng.uniform(0, 1, 4), rng.uniform(0, 1, 4), rng.uniform(0.1, 0.25, 4)):
            mix = np.maximum(mix, np.clip(1.5 - np.hypot(xx - cx, yy - cy) / r, 0, 1))
    return base + look.background2 * mix[..., None]


def render(ident: Identity, pose: dict[str, float], size: int) -> np.ndarray:
    """One ``size`` x ``size`` RGB uint8 frame of the face in ``pose``."""
    big = size * SUPERSAMPLE
    if ident.look is None:
        canvas = np.empty((big, big, 3), np.uint8)
        canvas[:] = ident.background.astype(np.uint8)
    else:
        canvas = np.ascontiguousarray(np.clip(background(ident, big), 0, 255).astype(np.uint8))
    _Painter(canvas, ident, pose).face()
    return cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)


class _Painter:
    """Draws one face on a supersampled canvas, in face-local coordinates."""

    def __init__(self, canvas: np.ndarray, ident: Identity, pose: dict[str, float]):
        self.canvas, self.ident, self.pose = canvas, ident, pose
        self.big = canvas.shape[0]
        self.scale = pose["scale"] * self.big
        self.angle = np.degrees(pose["roll"])
        self.shift = 0.45 * ident.width * np.sin(pose["yaw"])
        self.squeeze = np.cos(pose["yaw"])

    def pt(self, local) -> tuple[int, int]:
        xy = _to_frame(np.asarray(local, np.float64)[None], self.pose, self.big)[0]
        return round(float(xy[0])), round(float(xy[1]))

    def ellipse(self, centre, axes, colour, rot: float = 0.0, arc=(0, 360), thickness: int = -1) -> None:
        ax = (max(1, int(axes[0] * self.scale)), max(1, int(axes[1] * self.scale)))
        if thickness > 0:
            thickness = max(1, int(thickness * self.scale / 100))
        cv2.ellipse(self.canvas, self.pt(centre), ax, self.angle + rot, arc[0], arc[1],
                    tuple(int(v) for v in colour), thickness, cv2.LINE_AA)

    def face(self) -> None:
        ident, look = self.ident, self.ident.look
        w, h, shift = ident.width, ident.height, self.shift
        if look is not None and look.clothes is not None:
            self.ellipse((0.0, 2.0 * h), (1.7 * w, 0.9 * h), look.clothes)                # shoulders
            self.ellipse((0.0, 0.9 * h), (0.45 * w, 0.6 * h), ident.skin * 0.8)             # neck
        if look is not None and look.hair == "long":
            self.ellipse((0.3 * shift, 0.15 * h), (1.2 * w, 1.05 * h), ident.hair)
        if look is None or look.hair not in ("bald", "side"):
            self.ellipse((0.3 * shift, -0.25 * h), (1.08 * w, 0.85 * h), ident.hair)   # hair behind the head
        if look is not None and look.hair == "side":
            for side in (-1, 1):
                self.ellipse((0.3 * shift + side * 0.95 * w, -0.1 * h), (0.2 * w, 0.5 * h), ident.hair)
        self.ellipse((0.0, 0.0), (w, h), ident.skin)                                    # head
        ear = (shift * 0.3 + np.sign(shift) * -0.9 * w, 0.0)
        self.ellipse(ear, (0.12 * w, 0.22 * h), ident.skin * 0.85)                       # ear
        if look is not None:
            self.extras(look, ear)
        marks = _local_landmarks(ident, self.pose)
        self.features(marks)
        if look is not None and look.clothes is not None:
            self.details(marks)
        if look is not None and look.glasses is not None:
            self.glasses(marks, look.glasses)

    def extras(self, look: Look, ear) -> None:
        """Chin, fringe, hat, cheeks and earrings: what the plain cartoon lacks."""
        ident, w, h, shift = self.ident, self.ident.width, self.ident.height, self.shift
        if look.chin > 0.3:
            self.ellipse((0.4 * shift, 0.55 * h), ((1.0 - 0.4 * look.chin) * w, 0.5 * h), ident.skin)
        if look.hair == "fringe":
            self.ellipse((0.5 * shift, -0.75 * h), (0.95 * w, 0.35 * h), ident.hair)
        if look.hat is not None:
            self.ellipse((0.3 * shift, -0.85 * h), (1.25 * w, 0.16 * h), look.hat * 0.8)
            self.ellipse((0.3 * shift, -1.05 * h), (0.8 * w, 0.35 * h), look.hat)
        if look.cheeks is not None:
            for side in (-1, 1):
                self.ellipse((shift + side * 0.55 * w * self.squeeze, 0.2 * h), (0.14 * w, 0.09 * h),
                             (ident.skin + look.cheeks) / 2)
        if look.earrings is not None:
            self.ellipse((ear[0], ear[1] + 0.3 * h), (0.06 * w, 0.06 * w), look.earrings)

    def features(self, marks: np.ndarray) -> None:
        ident, pose, look = self.ident, self.pose, self.ident.look
        w, h, squeeze = ident.width, ident.height, self.squeeze
        for eye in marks[:2]:
            self.ellipse(eye, (0.2 * w * squeeze, 0.14 * h * pose["eyes"] + 0.01), (250, 250, 250))
            self.ellipse(eye, (0.09 * w * squeeze, 0.09 * h * pose["eyes"] + 0.005), ident.iris)
            if look is not None and look.brows:
                lift = 0.2 * h + 0.06 * h * pose["eyes"]
                self.ellipse((eye[0], eye[1] - lift), (0.22 * w * squeeze, 0.05 * h), ident.hair * 0.8)
        self.ellipse(marks[2], (0.07 * w, 0.05 * h), ident.skin * 0.7)                   # nose tip
        mouth = (marks[3] + marks[4]) / 2
        half = (marks[4, 0] - marks[3, 0]) / 2
        self.ellipse(mouth, (half, 0.03 * h + 0.14 * h * pose["mouth"]), ident.lips)
        self.ellipse(mouth, (half * 0.8, 0.12 * h * pose["mouth"] + 0.005), (60, 20, 30))

    def details(self, marks: np.ndarray) -> None:
        """Pupils, upper lids and nostrils: what makes a face detector take the cartoon for a face."""
        w, h, squeeze, eyes = self.ident.width, self.ident.height, self.squeeze, self.pose["eyes"]
        for eye in marks[:2]:
            self.ellipse(eye, (0.04 * w, 0.04 * h * eyes + 0.003), (10, 10, 10))
            self.ellipse(eye, (0.21 * w * squeeze, 0.15 * h * eyes + 0.012), (40, 30, 30), arc=(180, 360),
                         thickness=2)
        for side in (-1, 1):
            self.ellipse((marks[2][0] + side * 0.06 * w, marks[2][1] + 0.02 * h), (0.03 * w, 0.02 * h),
                         self.ident.skin * 0.45)

    def glasses(self, marks: np.ndarray, colour: np.ndarray) -> None:
        w, h, squeeze = self.ident.width, self.ident.height, self.squeeze
        for eye in marks[:2]:
            self.ellipse(eye, (0.3 * w * squeeze, 0.24 * h), colour, thickness=3)
        left, right = marks[0] + [0.3 * w * squeeze, 0], marks[1] - [0.3 * w * squeeze, 0]
        cv2.line(self.canvas, self.pt(left), self.pt(right), tuple(int(v) for v in colour),
                 max(1, int(3 * self.scale / 100)), cv2.LINE_AA)


def clip_poses(rng: np.random.Generator, num_frames: int, roll: float = 0.5) -> list[dict[str, float]]:
    """The per-frame poses of one random clip (:func:`random_motion`)."""
    motion = random_motion(rng, num_frames, roll)
    return [_pose(motion, i) for i in range(num_frames)]


def render_clip(ident: Identity, poses: list[dict[str, float]], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T, size, size, 3) uint8 and landmarks (T, 5, 2) float32 of ``ident`` in ``poses``."""
    frames = np.stack([render(ident, p, size) for p in poses])
    marks = np.stack([landmarks(ident, p, size) for p in poses]).astype(np.float32)
    return frames, marks


def make_clip(ident: Identity, rng: np.random.Generator, num_frames: int,
              size: int, roll: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T, size, size, 3) uint8 and landmarks (T, 5, 2) float32 of one random clip."""
    return render_clip(ident, clip_poses(rng, num_frames, roll), size)


def eye_frame(ident: Identity, pose: dict[str, float]) -> np.ndarray:
    """(2, 2) the eye white's half-axes in the frame (columns: across, up-down; frame-size units).

    How an eye moves between two frames, its local affine map, is ``A_b @ inv(A_a)``: a blink
    is the second column shrinking. What keypoint jacobians placed on the eyes should follow
    (``loss_weights.eye_jacobian``).
    """
    c, s = np.cos(pose["roll"]), np.sin(pose["roll"])
    axes = np.diag([0.2 * ident.width * np.cos(pose["yaw"]), 0.14 * ident.height * pose["eyes"] + 0.01])
    return pose["scale"] * np.array([[c, -s], [s, c]]) @ axes


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
                 num_frames: int = 32, layout: str = "folder", seed: int = 0,
                 style: str = "plain") -> dict[str, list[str]]:
    """Write ``root/train`` and ``root/test`` with VoxCeleb-style names ``idNNN#clipMM``.

    Test identities are never seen in training; ``style`` is one of :data:`STYLES`
    (see :func:`random_identity`). Landmarks go to
    ``root/landmarks/<phase>/<name>.npy`` as (T, 5, 2) pixel coordinates,
    outside the video folders so readers never mistake them for videos, and the eyes'
    local frames (:func:`eye_frame`) to ``<name>.eyes.npy`` next to them, (T, 2, 2).
    """
    rng = np.random.default_rng(seed)
    written: dict[str, list[str]] = {"train": [], "test": []}
    number = 0
    for phase, count in zip(("train", "test"), identities):
        os.makedirs(os.path.join(root, "landmarks", phase), exist_ok=True)
        for _ in range(count):
            ident = random_identity(rng, style)
            for clip in range(clips_per_identity):
                name = f"id{number:03d}#clip{clip:02d}"
                poses = clip_poses(rng, num_frames)
                frames, marks = render_clip(ident, poses, size)
                written[phase].append(write_clip(frames, os.path.join(root, phase, name), layout))
                np.save(os.path.join(root, "landmarks", phase, name + ".npy"), marks)
                eyes = np.stack([eye_frame(ident, p) for p in poses]).astype(np.float32)
                np.save(os.path.join(root, "landmarks", phase, name + EYE_FRAMES), eyes)
            number += 1
    return written


# The demo source's pose: facing the camera, eyes open, lips just apart.
STILL_POSE = {"x": 0.5, "y": 0.5, "roll": 0.0, "scale": 1.0, "yaw": 0.0, "eyes": 0.9, "mouth": 0.3}


def make_demo_inputs(folder: str, size: int = 64, num_frames: int = 64, seed: int = 1234,
                     style: str = "plain") -> tuple[str, str]:
    """A source photo and a driving video of two different cartoon identities."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    source_ident, driving_ident = random_identity(rng, style), random_identity(rng, style)
    source = os.path.join(folder, "cartoon_source.png")
    Image.fromarray(render(source_ident, STILL_POSE, size)).save(source)
    frames, _ = make_clip(driving_ident, rng, num_frames, size)
    driving = write_clip(frames, os.path.join(folder, "cartoon_driving"), "mp4")
    return source, driving


def make_group_inputs(folder: str, faces: int = 3, size: int = 128, num_frames: int = 64,
                      seed: int = 1234) -> tuple[str, str]:
    """A photo of ``faces`` portrait cartoons side by side (``size`` high, ``faces * size`` wide) and a
    driving video of another, tilting gently: offline inputs for ``--multi_person`` that RetinaFace sees."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    people = [random_identity(rng, "portrait") for _ in range(faces)]
    tiles = []
    for person in people:  # one plain backdrop behind everybody, so the tiles join without a seam
        person.background, person.look.background = people[0].background, "plain"
        pose = {"x": 0.5, "y": 0.45, "roll": 0.0, "scale": float(rng.uniform(0.8, 0.95)), "yaw": 0.0,
                "eyes": 0.9, "mouth": 0.2}
        tiles.append(render(person, pose, size))
    source = os.path.join(folder, "cartoon_group.png")
    Image.fromarray(np.concatenate(tiles, axis=1)).save(source)
    frames, _ = make_clip(random_identity(rng, "portrait"), rng, num_frames, size, roll=0.2)
    driving = write_clip(frames, os.path.join(folder, "cartoon_portrait"), "mp4")
    return source, driving
