"""Read a still image as HxWx3 uint8 RGB, whatever the file stores.

Users hand us phone photos, scans and PNG exports: grayscale, alpha, 16-bit or
float data are converted instead of rejected, and files that cannot be decoded
fail with a one-line :class:`PpfomError` instead of an OpenCV traceback.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import Iterator

import cv2
import numpy as np
from PIL import Image

from ppfom.errors import PpfomError, require_file

# Refused before decoding: a tiny file can declare a huge canvas (decompression
# bomb) and 8192x8192 is already far beyond what the model needs.
MAX_PIXELS = 8192 * 8192

# EXIF orientation tag -> how to turn the stored pixels upright (PIL semantics).
_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],
    8: lambda a: np.rot90(a, 1),
}


def read_image(
    path: str | os.PathLike,
    *,
    label: str = "source image",
    option: str = "--source_image",
) -> np.ndarray:
    """Return the image at ``path`` as a contiguous HxWx3 uint8 RGB array.

    ``label`` and ``option`` only word the error message (which input, which flag).
    EXIF orientation is applied so phone photos come out upright.
    """
    name = os.fspath(path)
    require_file(name, label, option, "an image file")
    orientation, fmt = _check_header(name, label)
    data, bgr = _decode(name, label)
    rgb = _to_rgb_uint8(data, bgr, name, label)
    if orientation in _ORIENT and not (bgr and fmt == "TIFF"):  # OpenCV turns TIFFs itself
        rgb = _ORIENT[orientation](rgb)
    return np.ascontiguousarray(rgb)




def _check_header(name: str, label: str) -> tuple[int, str | None]:
    """Refuse oversized images from the header alone; return EXIF orientation and format.

    Formats Pillow cannot identify pass through (OpenCV still caps at 2**30 pixels).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(name) as im:
                width, height = im.size
                if width * height > MAX_PIXELS:
                    raise _too_big(name, label, f"{width}x{height} pixels")
                return _orientation(im), im.format
    except Image.DecompressionBombError as err:
        found = re.search(r"\((\d+) pixels\)", str(err))
        size = f"{found.group(1)} pixels" if found else "too many pixels"
        raise _too_big(name, label, size) from None
    except PpfomError:
        raise
    except Exception:  # noqa: BLE001 - unknown to Pillow: let the decoders decide
        return 1, None


def _orientation(im: Image.Image) -> int:
    """EXIF orientation from the header only (Pillow's PNG getexif would decode
    the whole image to look for it)."""
    if im.format == "TIFF":
        exif = im.getexif()
    elif im.info.get("exif"):
        exif = Image.Exif()
        exif.load(im.info["exif"])
    else:
        return 1
    return int(exif.get(0x0112, 1) or 1)


def _too_big(name: str, label: str, size: str) -> PpfomError:
    limit = f"{MAX_PIXELS} pixels"
    return PpfomError(
        f"{label} '{name}' is {size}, over the limit of {limit}: downscale it first"
    )


def _decode(name: str, label: str) -> tuple[np.ndarray, bool]:
    """Decode with OpenCV (bytes via numpy so non-ASCII paths work), else imageio.

    Returns the pixels and whether their channel order is BGR (OpenCV) or RGB.
    """
    try:
        raw = np.fromfile(name, dtype=np.uint8)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise PpfomError(f"{label} '{name}' cannot be read ({reason}): check its permissions") from None
    data = _cv2_decode(raw)
    if data is not None:
        return data, True
    try:
        import imageio.v3 as iio

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # plugin deprecation chatter while probing
            return np.asarray(iio.imread(name, index=0)), False
    except Exception:  # noqa: BLE001 - any decoder failure means the same to the user
        raise PpfomError(
            f"{label} '{name}' is not a readable image (corrupt, truncated or not an image):"
            " use a valid png/jpg/bmp/webp/tiff file"
        ) from None


def _cv2_decode(raw: np.ndarray) -> np.ndarray | None:
    with _quiet_opencv():  # we raise our own one-line error instead of OpenCV's warnings
        try:
            return cv2.imdecode(raw, cv2.IMREAD_UNCHANGED)
        except cv2.error:
            return None


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's log where the build exposes it (some 4.x wheels have no ``cv2.utils.logging``)."""
    log = getattr(getattr(cv2, "utils", None), "logging", None)
    if log is None:
        yield
        return
    level = log.getLogLevel()
    log.setLogLevel(log.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        log.setLogLevel(level)


def _to_rgb_uint8(data: np.ndarray, bgr: bool, name: str, label: str) -> np.ndarray:
    """Map any channel layout and sample type onto uint8 RGB."""
    if data.ndim == 2:
        data = data[:, :, None]
    if data.ndim != 3 or data.shape[2] not in (1, 2, 3, 4):
        raise PpfomError(
            f"{label} '{name}' has an unsupported layout {data.shape}: save it as an RGB png or jpg"
        )
    channels = data.shape[2]
    if channels in (3, 4) and bgr:
        data = data[:, :, [2, 1, 0, 3][:channels]]
    if channels in (1, 3) and data.dtype == np.uint8:
        return np.repeat(data, 3, axis=2) if channels == 1 else data
    unit = _to_unit_float(data, name, label)
    if channels in (2, 4):
        unit = _over_white(unit)
    if unit.shape[2] == 1:
        unit = np.repeat(unit, 3, axis=2)
    return np.rint(unit * 255.0).astype(np.uint8)


def _to_unit_float(data: np.ndarray, name: str, label: str) -> np.ndarray:
    """Scale samples to [0, 1]: integers by their type's maximum, floats by clipping."""
    if np.issubdtype(data.dtype, np.integer):
        top = float(np.iinfo(data.dtype).max)
        return np.clip(data.astype(np.float32) / top, 0.0, 1.0)
    if np.issubdtype(data.dtype, np.floating):
        return np.clip(np.nan_to_num(data.astype(np.float32)), 0.0, 1.0)
    if data.dtype == np.bool_:
        return data.astype(np.float32)
    raise PpfomError(
        f"{label} '{name}' has unsupported {data.dtype} pixels: save it as an 8-bit png or jpg"
    )


def _over_white(unit: np.ndarray) -> np.ndarray:
    """Composite over white: fully transparent pixels often hold junk (usually
    black) colour, so dropping alpha would show it; white is how viewers show them."""
    color, alpha = unit[:, :, :-1], unit[:, :, -1:]
    return color * alpha + (1.0 - alpha)
