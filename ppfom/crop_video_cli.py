"""``tools/crop_video.py``: write the driving video as the animation reads it.

The original FOMM ``crop-video.py`` only prints ffmpeg commands; this writes
the cropped clip itself (square, ``--image_size`` pixels, same frame count,
frame rate and audio), so the crop can be checked and reused, and prints the
box. The box is chosen exactly as ``--crop_driving auto`` chooses it.
"""
from __future__ import annotations

import argparse

from .cli import guarded
from .errors import PpfomError
from .faces.driving_crop import choose_driving_box, describe
from .video import VideoReader, VideoWriter


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crop_video.py",
                                description="Crop a driving video around its face, as the animation reads it.")
    p.add_argument("input", help="driving video")
    p.add_argument("output", help="cropped video to write (.mp4, .mov, .mkv, ...)")
    p.add_argument("--image_size", type=int, default=256, help="side of the square output frames")
    return p


def crop_video(source: str, target: str, image_size: int = 256) -> str:
    """Write ``source`` cut to its face box (whole frames if it has no face) at ``image_size``."""
    if image_size < 16:
        raise PpfomError(f"--image_size {image_size} is too small: use 256 or 512")
    with VideoReader(source, label="input video", option="the input path") as video, \
            VideoWriter(target, video.fps, audio_from=source, label="cropped video",
                        option="output file name") as writer:
        choice = choose_driving_box(video, label="input video")
        print(describe(choice, video.frame_size, label="input video"))
        for batch in video.view(crop=choice.box, size=(image_size, image_size)).batches(16):
            writer.write(batch)
    return target


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return guarded(lambda: crop_video(args.input, args.output, args.image_size))
