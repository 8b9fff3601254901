"""FOM training data in the layouts its users have, sampled reproducibly.

A dataset root holds ``train/`` and ``test/`` (or just videos, then split
4:1 by name). A video is any of: a folder of numbered frames, an
``.mp4``/``.gif``/``.mov`` (``.avi``, ``.mkv``) file, or a ``.png``/``.jpg``
strip of frames side by side. VoxCeleb-style names ``id10001#clip#0001``
group clips by identity for ``id_sampling``.

Samples are addressed by *keys* (see :class:`EpochSampler`), and all
randomness of a key comes from ``np.random.default_rng((seed, key))``: the
same key gives the same pair of frames with the same augmentation in any
worker process, which makes resumed training repeat an uninterrupted one.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence

import numpy as np
from PIL import Image

from .. import frames as fr
from ..errors import PpfomError
from .regions import MissingLandmarks, eye_motion, load_eye_frames, load_landmarks, region_mask
from .transforms import Compose

log = logging.getLogger("ppfom.training")

VIDEO_EXTENSIONS = (".mp4", ".gif", ".mov", ".avi", ".mkv", ".webm")
STRIP_EXTENSIONS = (".png", ".jpg", ".jpeg")
FRAME_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")


def list_videos(folder: str) -> list[str]:
    """Every entry of ``folder`` that is a video in one of the supported layouts, sorted."""
    out = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if os.path.isdir(path) or name.lower().endswith(VIDEO_EXTENSIONS + STRIP_EXTENSIONS):
            out.append(path)
    return out


def identity_of(path: str) -> str:
    """VoxCeleb's identity prefix: ``id10001#abc#0001.mp4`` -> ``id10001``."""
    return os.path.basename(path).split("#")[0]


def _imread(path: str) -> np.ndarray:
    """Decoded with PIL, whose errors name the problem (cv2.imread only returns None)."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, ValueError) as err:
        raise PpfomError(f"frame '{path}' is not a readable image ({err}): re-export it or remove it") from None


def _frame_files(folder: str) -> list[str]:
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(FRAME_EXTENSIONS))
    return [os.path.join(folder, n) for n in names]


def _split_strip(image: np.ndarray, frame_shape: Sequence[int]) -> list[np.ndarray]:
    """A strip of frames laid side by side; each frame has the frame shape's aspect ratio."""
    h = image.shape[0]
    w = round(h * frame_shape[1] / frame_shape[0])
    if w == 0 or image.shape[1] % w:
        raise PpfomError(f"strip of width {image.shape[1]} is not a whole number of {w}-pixel frames")
    return [image[:, i:i + w] for i in range(0, image.shape[1], w)]


def read_video(path: str, frame_shape: Sequence[int], indices: Sequence[int] | None = None) -> list[np.ndarray]:
    """Frames of a video in any layout (all, or those at ``indices``), resized to ``frame_shape``.

    A folder of frames reads only the frames asked for; files are decoded whole.
    Raises :class:`PpfomError` naming the path when the video cannot be read.
    """
    size = (int(frame_shape[1]), int(frame_shape[0]))
    if os.path.isdir(path):
        files = _frame_files(path)
        if not files:
            raise PpfomError(f"video folder '{path}' holds no frames (.png/.jpg): remove it")
        chosen = files if indices is None else [files[i] for i in indices]
        return [fr.resize(_imread(f), size) for f in chosen]
    if path.lower().endswith(STRIP_EXTENSIONS):
        frames = _split_strip(_imread(path), frame_shape)
    else:
        from ..video import VideoReader

        with VideoReader(path, label="training video", option="dataset.train.dataroot") as reader:
            frames = list(reader)
    if indices is not None:
        frames = [frames[i] for i in indices]
    return [fr.resize(f, size) for f in frames]


def native_width(path: str, frame_shape: Sequence[int]) -> int:
    """A video's frame width before resizing (landmark files are in those pixels)."""
    if os.path.isdir(path):
        with Image.open(_frame_files(path)[0]) as im:
            return im.size[0]
    if path.lower().endswith(STRIP_EXTENSIONS):
        with Image.open(path) as im:
            return round(im.size[1] * frame_shape[1] / frame_shape[0])  # as _split_strip cuts it
    from ..video import VideoReader

    with VideoReader(path, label="training video", option="dataset.train.dataroot") as reader:
        return next(iter(reader)).shape[1]


def count_frames(path: str, frame_shape: Sequence[int]) -> int:
    if os.path.isdir(path):
        return len(_frame_files(path))
    return len(read_video(path, frame_shape))


MIRROR_PROBE = np.array([[0, 255]], np.uint8)


class FramesDataset:
    """Pairs (source, driving) of frames of one video, as FOM trains on them.

    ``dataset[key]`` returns ``{'source': CHW, 'driving': CHW}`` float32 in [0, 1];
    with ``face_regions`` also ``'regions'``, a 1xHxW mask of the driving frame's
    eyes and mouth (:mod:`.regions`); with ``eye_frames`` also ``'eye_motion'`` (2x2), the
    eyes' true local map from source to driving (synthetic data only). Other arguments are
    PaddleGAN's ``dataset.train`` keys. An unreadable video is logged with its path and never
    sampled again; the sample comes from another.
    """

    def __init__(self, dataroot: str, frame_shape: Sequence[int] = (256, 256, 3), phase: str = "train",
                 id_sampling: bool = False, num_repeats: int = 1, time_flip: bool = False,
                 transforms: Sequence[dict] | None = None, seed: int = 0, face_regions: bool = False,
                 eye_frames: bool = False, **unused):
        self.root = str(dataroot)
        self.frame_shape = tuple(int(v) for v in frame_shape)
        self.phase = phase
        self.videos = find_split(self.root, phase)
        self.id_sampling = bool(id_sampling) and phase == "train"
        self.groups = self._groups()
        self.num_repeats = int(num_repeats) if phase == "train" else 1
        self.time_flip = bool(time_flip)
        self.transform = Compose(transforms)
        self.seed = int(seed)
        self.face_regions = bool(face_regions)
        self.eye_frames = bool(eye_frames)
        self._eyes: dict[str, np.ndarray] = {}
        self.bad: set[str] = set()
        self._landmarks: dict[str, tuple[np.ndarray, float]] = {}

    def _groups(self) -> list[list[str]]:
        if not self.id_sampling:
            return [[v] for v in self.videos]
        by_id: dict[str, list[str]] = {}
        for video in self.videos:
            by_id.setdefault(identity_of(video), []).append(video)
        return [by_id[k] for k in sorted(by_id)]

    def __len__(self) -> int:
        return len(self.groups) * self.num_repeats

    def __getitem__(self, key: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng((self.seed, int(key)))
        group = self.groups[int(key) % len(self.groups)]
        for _ in range(len(self.videos) + 1):
            candidates = [v for v in group if v not in self.bad] or self._readable()
            video = candidates[rng.integers(len(candidates))]
            try:
                pair = self._pair(video, rng)
            except MissingLandmarks:
                raise
            except (PpfomError, OSError, ValueError) as err:
                log.warning("skipping unreadable video '%s': %s", video, err)
                self.bad.add(video)
                continue
            return pair
        raise PpfomError(f"no readable video left in '{self.root}': check the dataset")

    def _readable(self) -> list[str]:
        left = [v for v in self.videos if v not in self.bad]
        if not left:
            raise PpfomError(f"no readable video left in '{self.root}': check the dataset")
        return left

    def _pair(self, video: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
        n = count_frames(video, self.frame_shape)
        if n < 1:
            raise PpfomError(f"video '{video}' has no frames")
        indices = np.sort(rng.choice(n, size=2, replace=n < 2))
        pair = read_video(video, self.frame_shape, [int(i) for i in indices])
        if self.time_flip and rng.random() < 0.5:
            pair, indices = pair[::-1], indices[::-1]
        masks = [self._regions(video, int(indices[1]))] if self.face_regions else []
        # a left-right probe moved with the frames tells whether they were mirrored
        out = self.transform(list(pair), rng, masks + [MIRROR_PROBE] * self.eye_frames)
        source, driving = fr.to_nchw(np.stack(out[:2]))
        item = {"source": source, "driving": driving}
        if masks:
            item["regions"] = (out[2][None] > 127).astype(np.float32)
        if self.eye_frames:
            mirrored = bool(out[-1][0, 0] > out[-1][0, 1])
            item["eye_motion"] = eye_motion(*self._eye_frames(video, [int(i) for i in indices]), mirrored)
        return item

    def _eye_frames(self, video: str, indices: list[int]) -> tuple[np.ndarray, np.ndarray]:
        if video not in self._eyes:
            self._eyes[video] = load_eye_frames(self.root, self.phase, video)
        eyes = self._eyes[video]
        if max(indices) >= len(eyes):
            raise MissingLandmarks(f"the eye-frame file of '{video}' has {len(eyes)} frames, the video more: "
                                   "remake it")
        return eyes[indices[0]], eyes[indices[1]]

    def _video_landmarks(self, video: str) -> tuple[np.ndarray, float]:
        """A video's landmarks and their scale to ``frame_shape``, read once (a width may cost a decode)."""
        if video not in self._landmarks:
            marks = load_landmarks(self.root, self.phase, video)
            self._landmarks[video] = marks, self.frame_shape[1] / native_width(video, self.frame_shape)
        return self._landmarks[video]

    def _regions(self, video: str, index: int) -> np.ndarray:
        marks, scale = self._video_landmarks(video)
        if index >= len(marks):
            raise MissingLandmarks(f"the landmark file of '{video}' has {len(marks)} frames, the video more: "
                                   "remake it")
        return region_mask(marks[index], self.frame_shape[:2], scale)


def find_split(root: str, phase: str) -> list[str]:
    """The videos of ``root/phase``; without split folders, every fifth video is a test video."""
    if not os.path.isdir(root):
        raise PpfomError(f"dataset folder '{root}' does not exist: set dataset.{phase}.dataroot")
    folder = os.path.join(root, phase)
    if os.path.isdir(os.path.join(root, "train")) or os.path.isdir(os.path.join(root, "test")):
        if not os.path.isdir(folder):
            raise PpfomError(f"dataset folder '{root}' has no {phase}/ subfolder: add it or point dataroot elsewhere")
        videos = list_videos(folder)
    else:
        every = list_videos(root)
        videos = [v for i, v in enumerate(every) if (i % 5 == 4) == (phase == "test")]
    if not videos:
        raise PpfomError(f"dataset folder '{folder}' holds no videos (folders of frames, .mp4, .gif, .mov "
                         "or .png strips): check dataset.{phase}.dataroot")
    return videos


class EpochSampler:
    """Batches of sample keys: a fresh permutation per epoch, sharded across processes.

    Key ``epoch * len(dataset) + i`` names sample ``i`` of that epoch, so that
    ``dataset[key]`` draws new frames every epoch yet repeats exactly on resume.
    ``start`` skips the batches a resumed run has already trained on.
    """

    def __init__(self, size: int, batch_size: int, seed: int = 0, rank: int = 0, world: int = 1,
                 start_iter: int = 0):
        self.size, self.batch_size, self.seed = size, int(batch_size), int(seed)
        self.rank, self.world = rank, world
        self.per_rank = size // world
        self.iters_per_epoch = max(1, self.per_rank // self.batch_size)
        self.start_iter = start_iter

    def __len__(self) -> int:
        return self.iters_per_epoch

    def batches(self, epoch: int) -> list[list[int]]:
        order = np.random.default_rng((self.seed, epoch)).permutation(self.size)
        mine = order[self.rank::self.world][:self.per_rank]
        if len(mine) < self.batch_size:  # tiny datasets: repeat to fill one batch
            mine = np.resize(mine, self.batch_size)
        keys = [int(epoch * self.size + i) for i in mine]
        return [keys[b * self.batch_size:(b + 1) * self.batch_size] for b in range(self.iters_per_epoch)]

    def __iter__(self) -> Iterator[list[int]]:
        """Endless batches from ``start_iter`` on (the trainer decides when to stop)."""
        it = self.start_iter
        while True:
            epoch, pos = divmod(it, self.iters_per_epoch)
            yield from self.batches(epoch)[pos:]
            it = (epoch + 1) * self.iters_per_epoch
