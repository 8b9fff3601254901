"""Put animated crops back into the source photo without a seam.

As in PaddleGAN, when one crop is animated (the largest face; here also the
centre square used when there is no face) the whole crop rectangle is pasted, so
the hair, neck and shoulders move with the head; when several faces are animated
each is pasted through a circle of radius ``ratio`` x crop height around its
crop's centre (``--ratio``), so neighbouring people do not overwrite each
other. Unlike PaddleGAN's hard edges, each region gets a weight mask once per
video: 1 in its middle, falling smoothly to exactly 0 at its edge, so the result
blends into the untouched photo. Sides of a crop that lie on the image border
are not feathered, since there is no photo beyond them to blend into. Pixels
where the weight is 0 keep their bytes: outside the masks the source stays
byte-identical.

The generator's colours drift from the photo's, which a feather alone only
smears into a visible halo; each crop's animated frames are therefore shifted
by a fixed per-channel offset measured once where photo and face meet
(see :meth:`Paster._colour_offset`).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from .. import frames
from .crop import Crop

# Width of the soft edge as a fraction of the crop's shorter side: wide enough
# to hide a colour difference between the network's output and the photo.
FEATHER = 0.12


def feather_mask(crop: Crop, image_shape: tuple[int, ...], ratio: float | None) -> np.ndarray:
    """(crop height, crop width) float32 weights in [0, 1] for pasting ``crop``.

    ``ratio`` None pastes the whole crop rectangle (one animated crop); a number
    limits it to the ``ratio`` x height circle (several crops).
    """
    h, w = crop.height, crop.width
    hard = np.ones((h, w), np.uint8)
    if ratio is not None and ratio * h < math.hypot(w, h) / 2:  # the circle cuts into the crop
        hard[:] = 0
        cv2.circle(hard, (w // 2, h // 2), max(1, math.ceil(ratio * h)), 1, -1, cv2.LINE_8)
    width = max(1.0, FEATHER * min(h, w))
    inside = _distance_inside(hard, crop, image_shape, math.ceil(width) + 1)
    ramp = np.clip((inside - 1.0) / width, 0.0, 1.0)  # the region's outermost pixels get 0
    return (ramp * ramp * (3.0 - 2.0 * ramp)).astype(np.float32)  # smoothstep: no kink at either end


def _distance_inside(hard: np.ndarray, crop: Crop, image_shape: tuple[int, ...], pad: int) -> np.ndarray:
    """Distance of each pixel of ``hard`` to the nearest pixel outside it, where
    beyond the image border counts as inside (so edges on the border stay sharp)."""
    h, w = image_shape[:2]
    x1, y1, x2, y2 = crop.box
    sides = (pad if y1 == 0 else 1, pad if y2 == h else 1, pad if x1 == 0 else 1, pad if x2 == w else 1)
    top, bottom, left, right = sides
    padded = cv2.copyMakeBorder(hard, top, bottom, left, right, cv2.BORDER_CONSTANT, value=0)
    if y1 == 0:
        padded[:top, left:left + hard.shape[1]] = hard[:1]
    if y2 == h:
        padded[-bottom:, left:left + hard.shape[1]] = hard[-1:]
    if x1 == 0:
        padded[:, :left] = padded[:, left:left + 1]
    if x2 == w:
        padded[:, -right:] = padded[:, -right - 1:-right]
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return dist[top:top + hard.shape[0], left:left + hard.shape[1]]


class _Region:
    """One crop's paste plan, computed once: the blend weights of the photo and of the
    face, and the feather band (0 < weight < 1) where their colours are compared."""

    def __init__(self, crop: Crop, mask: np.ndarray):
        self.crop = crop
        self.face_weight = np.ascontiguousarray(mask)
        self.photo_weight = 1.0 - self.face_weight
        self.band = np.nonzero((mask > 0) & (mask < 1))
        self.seen = False  # the colour correction is measured on the first frame
        self.lut: np.ndarray | None = None


class Paster:
    """Blends animated crops into copies of the source; masks and colour offsets are computed
    once per crop (the offsets on the first frame), so every frame gets the same correction.

    ``ratio`` (the --ratio circle) applies only when there are several crops; ``match_colour``
    False pastes the network's colours unchanged.
    """

    def __init__(self, source: np.ndarray, crops: list[Crop], ratio: float, match_colour: bool = True):
        self.source = source
        self.crops = crops
        self.match_colour = match_colour
        circle = ratio if len(crops) > 1 else None  # one crop: the whole rectangle, as PaddleGAN
        self.masks = [feather_mask(c, source.shape, circle)[:, :, None] for c in crops]
        self._regions = [_Region(c, m[:, :, 0]) for c, m in zip(crops, self.masks)]

    def __call__(self, animated: list[np.ndarray]) -> np.ndarray:
        """``animated[k]`` is (N, S, S, 3) uint8 for crop k -> (N, H, W, 3) uint8 frames."""
        count = len(animated[0])
        out = np.repeat(self.source[None], count, axis=0)
        for region, faces in zip(self._regions, animated):
            x1, y1, x2, y2 = region.crop.box
            for i, face in enumerate(faces):
                face = frames.resize(face, (region.crop.width, region.crop.height))
                if not region.seen:
                    region.seen = True
                    region.lut = self._colour_lut(region, face) if self.match_colour else None
                if region.lut is not None:
                    face = cv2.LUT(face, region.lut)
                _blend(out[i, y1:y2, x1:x2], face, region)
        return out

    def _colour_lut(self, region: _Region, face: np.ndarray) -> np.ndarray | None:
        """A 256-entry per-channel table adding :meth:`_colour_offset` (None: nothing to match)."""
        offset = self._colour_offset(region, face)
        if offset is None:
            return None
        table = np.clip(np.rint(np.arange(256, dtype=np.float32)[:, None] + offset), 0, 255)
        return table.astype(np.uint8)[:, None, :]  # (256, 1, 3): cv2.LUT's per-channel layout

    def _colour_offset(self, region: _Region, face: np.ndarray) -> np.ndarray | None:
        """Photo minus face mean colour in the feather band, per channel (None if there is no band).

        An offset, not a gain: the step at the seam is a difference of means, which an offset
        removes exactly. A gain matching the band's spreads would also undo a contrast drift,
        but a band's spread is unreliable (on a plain background it is noise over noise; the
        generator's blur and smooth inpainting lower it) and a wrong gain changes the contrast
        of the whole face, where a wrong offset leaves a shift the feather spreads out. A gain
        from the means (photo / face) would blow up in dark bands.
        """
        if not len(region.band[0]):  # the crop covers the photo: no seam to match
            return None
        x1, y1, x2, y2 = region.crop.box
        photo = self.source[y1:y2, x1:x2][region.band].astype(np.float32)
        return photo.mean(axis=0) - face[region.band].astype(np.float32).mean(axis=0)


def _blend(target: np.ndarray, face: np.ndarray, region: _Region) -> None:
    """Write ``face`` into ``target`` (a view of the output) by the region's weights, in place.

    OpenCV's per-pixel blend is about 8x faster than numpy here; where the face's weight
    is 0 it returns the target's own bytes (its tiny denominator guard stays far below
    rounding), so outside the mask the photo is unchanged.
    """
    target[...] = cv2.blendLinear(target, face, region.photo_weight, region.face_weight)
