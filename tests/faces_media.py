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
