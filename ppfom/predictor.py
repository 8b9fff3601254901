"""FirstOrderPredictor: a photo and a driving video in, an animated video out.

The path a video takes is a short chain, each step its own function:
read frames (stream) -> crop the source -> animate per batch -> paste back ->
write with the driving audio. Faces (detection, several people, enhancement,
best frame) come in a later step; until then the whole source is animated.
"""
from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import paddle
from tqdm import tqdm

from . import frames
from .animator import BACKENDS, Animator, create_animator
from .checkpoint import PUBLISHED_WEIGHTS, download, load_state, read_checkpoint
from .config import RELEASED, build_generator, build_kp_detector, config_dir, load_config, released_model
from .errors import PpfomError
from .image import read_image
from .video import VideoReader, VideoWriter

NOT_YET = "is not available yet in ppfom (face support is the next milestone): drop {flag}"


def _check_pending(find_best_frame: bool, best_frame, face_detector, multi_person: bool,
                   face_enhancement: bool) -> None:
    """Arguments whose features do not exist yet fail now, not after minutes of work."""
    pending = {"--find_best_frame": find_best_frame, "--best_frame": best_frame is not None,
               "--face_detector": face_detector is not None, "--multi_person": multi_person,
               "--face_enhancement": face_enhancement}
    for flag, used in pending.items():
        if used:
            raise PpfomError(f"{flag} " + NOT_YET.format(flag=flag))


class FirstOrderPredictor:
    """PaddleGAN's predictor API: the same constructor arguments, ``run`` returns the video's path."""

    def __init__(self, output: str = "output", weight_path: str | None = None,
                 config: str | dict | None = None, relative: bool = False, adapt_scale: bool = False,
                 find_best_frame: bool = False, best_frame: int | None = None, ratio: float = 1.0,
                 filename: str = "result.mp4", face_detector: str | None = None,
                 multi_person: bool = False, image_size: int = 256, face_enhancement: bool = False,
                 batch_size: int = 1, mobile_net: bool = False, backend: str = "auto",
                 precision: str = "fp32"):
        _check_pending(find_best_frame, best_frame, face_detector, multi_person, face_enhancement)
        if int(batch_size) < 1:
            raise PpfomError(f"--batch_size {batch_size} must be at least 1")
        if int(image_size) < 64 or int(image_size) % 64:
            raise PpfomError(f"--image_size {image_size} must be a multiple of 64 (256 or 512 for the released models)")
        self.output = output
        self.filename = filename
        self.relative = relative
        self.adapt_scale = adapt_scale
        self.ratio = ratio
        self.image_size = int(image_size)
        self.batch_size = int(batch_size)
        self.mobile_net = mobile_net
        if backend not in BACKENDS:
            raise PpfomError(f"--backend {backend} is not one of {', '.join(BACKENDS)}")
        self.backend = backend
        self.precision = precision
        self.cfg = self._config(config)
        self.weight_path = weight_path or self._published_weights()
        self.kp_detector, self.generator = self._networks()

    def _config(self, config: str | dict | None) -> dict:
        if config is not None:
            return load_config(config)
        return load_config(config_dir() / RELEASED[released_model(self.image_size, self.mobile_net)])

    def _published_weights(self) -> str:
        return download(PUBLISHED_WEIGHTS[released_model(self.image_size, self.mobile_net)])

    def _networks(self):
        checkpoint = read_checkpoint(self.weight_path)
        kp_detector = build_kp_detector(self.cfg)
        generator = build_generator(self.cfg, inference=True)
        for net, name in ((kp_detector, "kp_detector"), (generator, "generator")):
            load_state(net, checkpoint[name], name, source=self.weight_path)
            net.eval()
        return kp_detector, generator

    @property
    def output_path(self) -> str:
        return os.path.join(self.output, self.filename)

    def run(self, source_image: str, driving_video: str) -> str:
        """Animate ``source_image`` with ``driving_video``; returns the written video's path."""
        source = read_source(source_image)
        crop = frames.resize(source, (self.image_size, self.image_size))
        animator = create_animator(self.backend, self.kp_detector, self.generator, self.relative,
                                   self.adapt_scale, cfg=self.cfg, image_size=(self.image_size,) * 2,
                                   batch_size=self.batch_size, precision=self.precision,
                                   device=paddle.get_device())
        animator.set_source(frames.to_nchw(crop))
        with VideoReader(driving_video) as reader, \
                VideoWriter(self.output_path, reader.fps, audio_from=driving_video) as writer:
            for batch in _progress(reader, self.batch_size):
                animated = self.animate_batch(animator, batch)
                writer.write(paste_back(source, animated))
        return self.output_path

    def animate_batch(self, animator: Animator, batch: np.ndarray) -> np.ndarray:
        """Driving frames (N, H, W, 3) uint8 -> animated crops (N, S, S, 3) uint8."""
        size = (self.image_size, self.image_size)
        driving = np.stack([frames.resize(frame, size) for frame in batch])
        return frames.to_uint8(animator(frames.to_nchw(driving)))


MIN_SOURCE_SIDE = 32  # below this there is no face to animate, only upscaling noise


def read_source(path: str) -> np.ndarray:
    """The source photo as RGB uint8, refusing images too small to hold a face."""
    source = read_image(path)
    h, w = source.shape[:2]
    if min(h, w) < MIN_SOURCE_SIDE:
        raise PpfomError(f"source image '{path}' is {w}x{h} pixels: use a photo at least "
                         f"{MIN_SOURCE_SIDE} pixels on each side")
    return source


def paste_back(source: np.ndarray, animated: np.ndarray) -> np.ndarray:
    """Animated whole-image crops back at the source's size (N, H, W, 3)."""
    h, w = source.shape[:2]
    return np.stack([frames.resize(frame, (w, h)) for frame in animated])


def _progress(reader: VideoReader, batch_size: int) -> Iterator[np.ndarray]:
    """Batches of driving frames with a progress bar counted in frames."""
    with tqdm(total=reader.num_frames, unit="frame", desc="animating", dynamic_ncols=True) as bar:
        for batch in reader.batches(batch_size):
            yield batch
            bar.update(len(batch))


def set_device(cpu: bool) -> str:
    """``cpu=True`` forces the CPU; otherwise a GPU build uses its first GPU."""
    if cpu or not paddle.device.is_compiled_with_cuda():
        return paddle.set_device("cpu")
    return paddle.set_device("gpu")
