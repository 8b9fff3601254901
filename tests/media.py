"""Small synthetic photos and videos for tests, made on the spot (nothing downloaded)."""
from __future__ import annotations

import os
import subprocess
import time

import imageio_ffmpeg
import numpy as np


def moving_square_frames(n: int, size: tuple[int, int] = (96, 80)) -> np.ndarray:
    """(n, H, W, 3) uint8: a white square sliding right over a background that brightens."""
    w, h = size
    frames = np.zeros((n, h, w, 3), np.uint8)
    for i in range(n):
        frames[i, :, :, 0] = (i * 7) % 256
        x = (i * 2) % max(1, w - 20)
        frames[i, h // 4:h // 4 + 20, x:x + 20] = 255
    return frames


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float = 12.5,
                audio_seconds: float | None = None) -> str:
    """Encode frames as H.264 mp4; with ``audio_seconds``, add a 440 Hz AAC track."""
    path = os.fspath(path)
    h, w = frames.shape[1:3]
    silent = path if audio_seconds is None else path + ".silent.mp4"
    writer = imageio_ffmpeg.write_frames(silent, (w, h), fps=fps, macro_block_size=1)
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(frame))
    writer.close()
    if audio_seconds is not None:
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", silent,
                        "-f", "lavfi", "-i", f"sine=frequency=440:duration={audio_seconds}",
                        "-c:v", "copy", "-c:a", "aac", path], check=True)
        os.remove(silent)
    return path


def has_audio(path: str | os.PathLike) -> bool:
    """Whether ffmpeg sees an audio stream in the file."""
    out = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", os.fspath(path)],
                         check=False, capture_output=True, text=True)
    return "Audio:" in out.stderr


def read_video(path: str | os.PathLike) -> tuple[np.ndarray, float]:
    """All frames (n, H, W, 3) and the frame rate, for checking small outputs."""
    reader = imageio_ffmpeg.read_frames(os.fspath(path))
    meta = reader.__next__()
    w, h = meta["size"]
    frames = [np.frombuffer(buf, np.uint8).reshape(h, w, 3) for buf in reader]
    return np.stack(frames), float(meta["fps"])


def children() -> list[int]:
    """Live child processes of this test process (Linux /proc)."""
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == os.getpid() and fields[0] != "Z":
                kids.append(int(entry))
    return kids


def children_gone(before: set, seconds: float = 15.0) -> bool:
    """A killed child can take a moment to exit on a busy machine: wait for it, briefly."""
    end = time.monotonic() + seconds
    while set(children()) - before:
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True
