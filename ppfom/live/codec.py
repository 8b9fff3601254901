"""Camera frames and photos as bytes: decoded with their size checked first, encoded as JPEG.

A few kilobytes of JPEG can declare a 60000x60000 image; the header is read
(Pillow, lazily) before any pixel is, so such a frame costs nothing.
"""
from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import PpfomError

MAX_PIXELS = 4096 * 4096


def decode_image(data: bytes, what: str = "frame", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """JPEG/PNG/WebP bytes -> HxWx3 RGB uint8, or a one-line PpfomError."""
    try:
        with Image.open(io.BytesIO(data)) as header:
            width, height = header.size
    except (UnidentifiedImageError, OSError, ValueError):
        raise PpfomError(f"the {what} is not a JPEG, PNG or WebP image") from None
    if width * height > max_pixels:
        raise PpfomError(f"the {what} is {width}x{height} pixels: send at most {max_pixels // 10**6} megapixels")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise PpfomError(f"the {what} could not be decoded: send a JPEG, PNG or WebP image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def encode_jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    """HxWx3 RGB uint8 -> JPEG bytes."""
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return data.tobytes()
