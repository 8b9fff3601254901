"""FirstOrderPredictor: a photo and a driving video in, an animated video out.

The path a video takes is a short chain, each step its own function:
read frames (stream) -> detect and crop the source's faces -> animate each
crop per batch (keypoints once per source crop) -> enhance -> paste back ->
write with the driving audio. Face tools live in :mod:`ppfom.faces`.
Decoding runs a batch ahead in a reader thread and paste-back + encoding a batch
behind in a writer thread, beside the networks (:mod:`ppfom.pipeline`).
"""
from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator

import numpy as np
import paddle
from tqdm import tqdm

from . import frames
from .animator import BACKENDS, Animator, create_animator, open_exported, resolve_backend
from .checkpoint import PUBLISHED_WEIGHTS, download
from .config import RELEASED, config_dir, load_config, released_model
from .errors import PpfomError, PpfomWarning
from .exported.cache import GRAPHS, exported_folder_of_file
from .faces.best_frame import find_best_frames, frame_at
from .faces.crop import Crop, centre_square, choose_crops, cut
from .faces.detector import FaceDetector, create_detector
from .faces.driving_crop import check_mode, choose_driving_box, describe
from .faces.paste import Paster
from .faces.retinaface import RetinaFaceDetector
from .image import read_image
from .pipeline import Behind, Prefetch
from .timing import Timings, stage, timed_iter
from .video import VideoReader, VideoWriter
from .weights import load_networks


def _check_face_options(best_frame, ratio: float) -> None:
    """Face options that cannot work fail now, not after minutes of work."""
    if best_frame is not None and int(best_frame) < 0:
        raise PpfomError(f"--best_frame {best_frame} is negative: give a driving frame index from 0")
    if not ratio > 0:
        raise PpfomError(f"--ratio {ratio} must be positive (with several faces, 0.4-0.5 pastes back each face only)")


Progress = Callable[[int, int | None], None]  # frames done, total (None: unknown)
QUEUED_BATCHES = 1  # batches waiting between the threads, each way: enough to overlap, memory stays flat


class FirstOrderPredictor:
    """PaddleGAN's predictor API: the same constructor arguments, ``run`` returns the video's path."""

    _timings: Timings | None = None  # set during a timed run
    overlap = True  # False: decode, paste and encode in the calling thread, between network calls (benchmarks)

    def __init__(self, output: str = "output", weight_path: str | None = None,
                 config: str | dict | None = None, relative: bool = False, adapt_scale: bool = False,
                 find_best_frame: bool = False, best_frame: int | None = None, ratio: float = 1.0,
                 filename: str = "result.mp4", face_detector: str | None = None,
                 multi_person: bool = False, image_size: int = 256, face_enhancement: bool = False,
                 batch_size: int = 1, mobile_net: bool = False, backend: str = "auto",
                 precision: str = "auto", face_detector_weights: str | None = None,
                 face_enhancement_weights: str | None = None, crop_driving: str = "auto"):
        _check_face_options(best_frame, ratio)
        self.crop_driving = check_mode(crop_driving)
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
        self._nets = None if self._exported_folder() else self._networks()  # a bad checkpoint fails now
        self.multi_person = multi_person
        self.find_best_frame = find_best_frame
        self.best_frame = None if best_frame is None else int(best_frame)
        self.detector = create_detector(face_detector, face_detector_weights)
        self.enhancer = None
        if face_enhancement:
            from .faces.enhancer import FaceEnhancer
            self.enhancer = FaceEnhancer(face_enhancement_weights, batch_size=self.batch_size)

    def _config(self, config: str | dict | None) -> dict:
        if config is not None:
            return load_config(config)
        return load_config(config_dir() / RELEASED[released_model(self.image_size, self.mobile_net)])

    def _published_weights(self) -> str:
        return download(PUBLISHED_WEIGHTS[released_model(self.image_size, self.mobile_net)])

    def _networks(self):
        return load_networks(self.cfg, self.weight_path, inference=True)

    @property
    def kp_detector(self):
        return self._loaded()[0]

    @property
    def generator(self):
        return self._loaded()[1]

    def _loaded(self):
        """The dygraph networks, loaded on first need: a warm start with cached graphs needs none."""
        if self._nets is None:
            self._nets = self._networks()
        return self._nets

    def _exported_folder(self) -> str | None:
        """The cached graphs of this checkpoint for the chosen backend, if they exist already."""
        device = paddle.get_device()
        backend = resolve_backend(self.backend, device, self.precision)
        if backend not in GRAPHS:
            return None
        return exported_folder_of_file(self.weight_path, self.cfg, (self.image_size,) * 2, self.batch_size, backend)

    @property
    def output_path(self) -> str:
        return os.path.join(self.output, self.filename)

    def run(self, source_image: str, driving_video: str, progress: Progress | None = None,
            timings: Timings | None = None) -> str:
        """Animate ``source_image`` with ``driving_video``; returns the written video's path.

        ``progress(frames_done, total_or_None)`` is called after each batch (the web page's bar);
        ``timings`` collects the seconds of each stage (benchmarks/bench_pipeline.py).
        """
        self._timings = timings
        try:
            return self._run(source_image, driving_video, progress)
        finally:
            self._timings = None

    def _run(self, source_image: str, driving_video: str, progress: Progress | None) -> str:
        with self._stage("start: read source"):
            source = read_source(source_image)
        with VideoReader(driving_video) as video, \
                VideoWriter(self.output_path, video.fps, audio_from=driving_video) as writer:
            with self._stage("start: driving crop pass"):
                reader = self.driving_view(video)  # after the inputs and the output are known to be usable
            with self._stage("start: source faces"):
                crops = self.find_crops(source)
                faces = [cut(source, crop, self.image_size) for crop in crops]
                paster = Paster(source, crops, self.ratio)
            with self._stage("start: reference frames"):
                references = self.reference_frames(reader, faces)
            with self._stage("start: animators"):
                animators = [self.make_animator(face, ref) for face, ref in zip(faces, references)]
            with self._stage("loop"):
                self._animate(reader, animators, paster, writer, progress)
            with self._stage("finish: encode and mux"):
                writer.close()
        return self.output_path

    def _animate(self, reader: VideoReader, animators: list[Animator], paster: Paster, writer: VideoWriter,
                 progress: Progress | None) -> None:
        """The per-frame work: decode, animate every face, paste back, encode; with ``overlap``,
        decoding and pasting + encoding run in their own threads beside the networks."""
        depth = QUEUED_BATCHES if self.overlap else 0
        with Prefetch(self._driving_batches(reader), depth) as inputs, \
                Behind(lambda animated: self._finish(paster, writer, animated), depth) as outputs:
            waited = timed_iter(inputs, self._timings, "wait: decode")
            for batch, driving in _progress(waited, reader.num_frames, progress):
                kp = self._shared_keypoints(animators, driving)
                animated = [self.enhance(self.animate_batch(a, batch, driving, kp)) for a in animators]
                with self._stage("wait: encode"):
                    outputs.put(animated)

    def _driving_batches(self, reader: VideoReader) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Decoded batches and their network input (both made in the reader thread)."""
        with contextlib.closing(timed_iter(reader.batches(self.batch_size), self._timings, "decode")) as batches:
            for batch in batches:
                with self._stage("driving input"):
                    driving = self.driving_input(batch)  # once per batch, shared by every face
                yield batch, driving

    def _finish(self, paster: Paster, writer: VideoWriter, animated: list[np.ndarray]) -> None:
        """Paste a batch's animated crops back and encode it (in the writer thread)."""
        with self._stage("paste"):
            pasted = paster(animated)
        with self._stage("encode"):
            writer.write(pasted)

    def _shared_keypoints(self, animators: list[Animator], driving: np.ndarray) -> dict | None:
        """The driving keypoints once for every face (None: one face finds its own)."""
        if len(animators) == 1:
            return None
        with self._stage("networks"):
            return animators[0].keypoints(driving)

    def _stage(self, name: str) -> contextlib.AbstractContextManager:
        return stage(self._timings, name)

    def find_crops(self, source: np.ndarray) -> list[Crop]:
        """Regions of the source to animate: the largest face, or every face with --multi_person;
        the centre square, with a warning, when there is no face."""
        crops = choose_crops(self.detector.detect(source), source.shape, self.multi_person)
        if not crops:
            warnings.warn("no face found in the source image: animating its centre square instead "
                          "(crop the photo around the face for good results)", PpfomWarning, stacklevel=4)
            crops = [Crop(centre_square(source.shape))]
        return crops

    def driving_view(self, video: VideoReader) -> VideoReader:
        """The driving video as the networks should see it: through one square box around its
        face (``--crop_driving auto``), or whole."""
        choice = choose_driving_box(video, self._track_detector(), self.crop_driving)
        if self.crop_driving != "off":
            print(describe(choice, video.frame_size))
        return video.view(crop=choice.box)

    def _track_detector(self) -> FaceDetector:
        """The packaged detector follows the driving face (fast, and works offline)."""
        if isinstance(self.detector, RetinaFaceDetector):
            return self.detector
        return create_detector("retinaface")

    def reference_frames(self, reader: VideoReader, faces: list[np.ndarray]) -> list[np.ndarray | None]:
        """Per face, the driving frame relative motion starts from (None: the first frame).

        Costs one extra decode of the video (up to the best frame, or whole for the search).
        """
        if self.best_frame is None and not self.find_best_frame:
            return [None] * len(faces)
        stream = iter(reader)
        try:
            if self.best_frame is not None:
                return [frame_at(stream, self.best_frame)] * len(faces)
            found = find_best_frames(self._landmark_detector(), faces, stream, self.image_size)
        finally:
            stream.close()
        print("best frame: " + ", ".join(str(index) for index, _ in found))
        return [frame for _, frame in found]

    def _landmark_detector(self) -> FaceDetector:
        return self.detector if self.detector.has_landmarks else create_detector("retinaface")

    def make_animator(self, face: np.ndarray, reference: np.ndarray | None = None) -> Animator:
        """An animator for one source crop; a ``reference`` frame becomes the start of relative motion."""
        device, folder = paddle.get_device(), self._exported_folder()
        if folder is not None:
            backend = resolve_backend(self.backend, device, self.precision)
            animator = open_exported(folder, backend, self.relative, self.adapt_scale, precision=self.precision,
                                     device=device)
        else:
            animator = create_animator(self.backend, self.kp_detector, self.generator, self.relative,
                                       self.adapt_scale, cfg=self.cfg, image_size=(self.image_size,) * 2,
                                       batch_size=self.batch_size, precision=self.precision, device=device,
                                       weight_file=self.weight_path)
        animator.set_source(frames.to_nchw(face))
        if reference is not None:
            self.animate_batch(animator, reference[None])  # the first frame seen is the reference
        return animator

    def enhance(self, faces: np.ndarray) -> np.ndarray:
        """GPEN on animated crops when --face_enhancement is on: (N, S, S, 3) -> (N, 512, 512, 3)."""
        if self.enhancer is None:
            return faces
        with self._stage("face enhancement"):
            return self.enhancer(faces)

    def driving_input(self, batch: np.ndarray) -> np.ndarray:
        """Driving frames (N, H, W, 3) uint8 -> the networks' input (N, 3, S, S) float32."""
        size = (self.image_size, self.image_size)
        return frames.to_nchw(np.stack([frames.resize(frame, size) for frame in batch]))

    def animate_batch(self, animator: Animator, batch: np.ndarray, driving: np.ndarray | None = None,
                      kp_driving: dict | None = None) -> np.ndarray:
        """Driving frames (N, H, W, 3) uint8 -> animated crops (N, S, S, 3) uint8.

        ``driving`` is :meth:`driving_input` of ``batch`` and ``kp_driving`` its keypoints, when the
        caller already made them (every face of a frame shares both).
        """
        driving = self.driving_input(batch) if driving is None else driving
        with self._stage("networks"):
            animated = animator(driving, kp_driving)
        with self._stage("to_uint8"):
            return frames.to_uint8(animated)


MIN_SOURCE_SIDE = 32  # below this there is no face to animate, only upscaling noise


def read_source(path: str) -> np.ndarray:
    """The source photo as RGB uint8, refusing images too small to hold a face."""
    source = read_image(path)
    h, w = source.shape[:2]
    if min(h, w) < MIN_SOURCE_SIDE:
        raise PpfomError(f"source image '{path}' is {w}x{h} pixels: use a photo at least "
                         f"{MIN_SOURCE_SIDE} pixels on each side")
    return source


def _progress(items: Iterator[tuple[np.ndarray, ...]], total: int | None,
              callback: Progress | None = None) -> Iterator[tuple[np.ndarray, ...]]:
    """``items`` (a batch of frames first) with a progress bar counted in frames (and told to ``callback``)."""
    with tqdm(total=total, unit="frame", desc="animating", dynamic_ncols=True) as bar:
        for item in items:
            yield item
            bar.update(len(item[0]))
            if callback is not None:
                callback(bar.n, total)


def set_device(cpu: bool) -> str:
    """``cpu=True`` forces the CPU; otherwise a GPU build uses its first GPU."""
    if cpu or not paddle.device.is_compiled_with_cuda():
        return paddle.set_device("cpu")
    return paddle.set_device("gpu")
