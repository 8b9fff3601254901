"""Face detection counts, crop boxes and seamless paste-back on real photos (no animation network)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from faces_media import astronaut, astronauts

from ppfom.faces import Crop, Face, Paster, choose_crops, create_detector, cut, expand, feather_mask
from ppfom.faces.crop import centre_square
from ppfom.faces.paste import FEATHER


@pytest.fixture(scope="module")
def detector():
    return create_detector()


@pytest.mark.parametrize("count", [1, 2, 3])
def test_detector_counts_the_faces_of_real_photos(detector, count):
    image = astronauts(count, gap=20)
    faces = detector.detect(image)
    assert len(faces) == count
    for face in faces:
        x1, y1, x2, y2 = face.box
        assert 0 <= x1 < x2 <= image.shape[1] and 0 <= y1 < y2 <= image.shape[0]
        assert face.landmarks.shape == (5, 2)
        left_eye, right_eye = face.landmarks[0], face.landmarks[1]
        assert left_eye[0] < right_eye[0] and abs(left_eye[1] - right_eye[1]) < 15


def test_detector_finds_the_astronaut_face_where_it_is(detector):
    (face,) = detector.detect(astronaut())
    x1, y1, x2, y2 = face.box
    # Eileen Collins' face in skimage's astronaut: about x 180-270, y 60-175.
    assert 160 < x1 < 200 and 250 < x2 < 290 and 40 < y1 < 80 and 160 < y2 < 200
    assert face.score > 0.9


def test_no_face_in_noise(detector):
    noise = np.random.default_rng(0).integers(0, 256, (100, 120, 3), dtype=np.uint8)
    assert detector.detect(noise) == []


@pytest.mark.parametrize("count", [1, 2, 3])
def test_multi_person_crops_are_inside_the_image_and_distinct(detector, count):
    image = astronauts(count)
    crops = choose_crops(detector.detect(image), image.shape, multi_person=True)
    assert len(crops) == count
    for crop in crops:
        x1, y1, x2, y2 = crop.box
        assert 0 <= x1 < x2 <= image.shape[1] and 0 <= y1 < y2 <= image.shape[0]
        fx1, fy1, fx2, fy2 = crop.face.box
        assert x1 <= fx1 and fx2 <= x2 + 1 and y1 <= fy1 and fy2 <= y2 + 1  # the face is inside its crop
        assert cut(image, crop, 64).shape == (64, 64, 3)


def test_without_multi_person_only_the_largest_face(detector):
    small = astronaut()[::2, ::2]
    image = np.zeros((512, 512 + 256, 3), np.uint8)
    image[:256, :256] = small
    image[:, 256:] = astronaut()
    faces = detector.detect(image)
    assert len(faces) == 2
    (crop,) = choose_crops(faces, image.shape, multi_person=False)
    assert crop.box[0] >= 256 - 5  # the full-size astronaut, not the half-size one found first in the row


def test_expansion_is_paddlegans():
    # PaddleGAN: margin = max(bh, bw); y1 = cy - margin; x1 = cx - int(0.8 * margin); clipped.
    assert expand((100, 100, 140, 150), (1000, 1000, 3)) == (80, 75, 160, 175)
    assert expand((0, 10, 40, 50), (60, 1000, 3)) == (0, 0, 52, 60)


def test_duplicates_are_dropped_and_largest_comes_first():
    faces = [Face((100, 100, 140, 140), 0.9), Face((102, 101, 142, 141), 0.8), Face((300, 100, 380, 180), 0.95)]
    crops = choose_crops(faces, (500, 500, 3), multi_person=True)
    assert [c.face for c in crops] == [faces[2], faces[0]]


def test_centre_square():
    assert centre_square((100, 120, 3)) == (10, 0, 110, 100)
    assert centre_square((130, 90, 3)) == (0, 20, 90, 110)


@pytest.mark.parametrize("count", [1, 3])
@pytest.mark.parametrize("ratio", [0.4, 1.0])
def test_paste_back_touches_only_the_masks_and_keeps_the_size(detector, count, ratio):
    image = astronauts(count)
    crops = choose_crops(detector.detect(image), image.shape, multi_person=True)
    assert len(crops) == count
    paster = Paster(image, crops, ratio)
    rng = np.random.default_rng(0)
    animated = [rng.integers(0, 256, (2, 64, 64, 3), dtype=np.uint8) for _ in crops]
    out = paster(animated)
    assert out.shape == (2, *image.shape) and out.dtype == np.uint8
    inside = np.zeros(image.shape[:2], bool)
    for crop, mask in zip(crops, paster.masks):
        x1, y1, x2, y2 = crop.box
        inside[y1:y2, x1:x2] |= mask[:, :, 0] > 0
    assert inside.any()
    assert np.array_equal(out[:, ~inside], np.broadcast_to(image[~inside], out[:, ~inside].shape))
    assert (out[:, inside] != image[inside]).any()


def _changed(out: np.ndarray, image: np.ndarray, crop: Crop) -> np.ndarray:
    """(crop height, crop width) bool: where the pasted frame differs from the photo."""
    x1, y1, x2, y2 = crop.box
    return (out[y1:y2, x1:x2] != image[y1:y2, x1:x2]).any(axis=-1)


def _outside_crop(out: np.ndarray, image: np.ndarray, crop: Crop) -> bool:
    """True when every pixel outside ``crop`` is the photo's."""
    x1, y1, x2, y2 = crop.box
    keep = np.ones(image.shape[:2], bool)
    keep[y1:y2, x1:x2] = False
    return np.array_equal(out[keep], image[keep])


def _radius(crop: Crop) -> np.ndarray:
    """Distance of each crop pixel to the centre the --ratio circle is drawn around."""
    ys, xs = np.mgrid[:crop.height, :crop.width]
    return np.hypot(xs - crop.width // 2, ys - crop.height // 2)


def _noise(crops: list[Crop], seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (1, 64, 64, 3), dtype=np.uint8) for _ in crops]


def test_one_face_pastes_the_whole_crop_rectangle(detector):
    """Like PaddleGAN: hair and neck outside the --ratio circle move with the head."""
    image = astronaut()
    (crop,) = choose_crops(detector.detect(image), image.shape, multi_person=False)
    ratio = 0.4
    (out,) = Paster(image, [crop], ratio)(_noise([crop]))
    changed = _changed(out, image, crop)
    beyond = _radius(crop) > ratio * crop.height + 2
    assert beyond.sum() > 0.3 * beyond.size  # the circle leaves much of the crop out
    assert changed[beyond].mean() > 0.95
    edge = FEATHER * min(crop.height, crop.width)
    assert changed[round(edge) + 2:-round(edge) - 2, round(edge) + 2:-round(edge) - 2].mean() > 0.95
    assert _outside_crop(out, image, crop)


def test_several_faces_paste_only_their_ratio_circles(detector):
    image = astronauts(3)
    crops = choose_crops(detector.detect(image), image.shape, multi_person=True)
    assert len(crops) == 3
    ratio = 0.4
    (out,) = Paster(image, crops, ratio)(_noise(crops))
    outside_all = np.ones(image.shape[:2], bool)
    for crop in crops:
        x1, y1, x2, y2 = crop.box
        outside_all[y1:y2, x1:x2] = False
        changed, radius = _changed(out, image, crop), _radius(crop)
        circle = ratio * crop.height
        assert not changed[radius > circle + 1].any()  # the crop beyond its circle stays the photo's
        assert changed[radius < circle - FEATHER * min(crop.height, crop.width)].mean() > 0.95
    assert np.array_equal(out[outside_all], image[outside_all])


def test_no_face_pastes_the_whole_centre_square():
    image = np.random.default_rng(2).integers(0, 256, (120, 200, 3), dtype=np.uint8)
    crop = Crop(centre_square(image.shape))
    assert crop.box == (40, 0, 160, 120)
    (out,) = Paster(image, [crop], 0.4)(_noise([crop]))
    changed = _changed(out, image, crop)
    assert changed[:, 20:-20].mean() > 0.95  # the corners too, no circle
    assert changed[0, 20:-20].mean() > 0.95 and changed[-1, 20:-20].mean() > 0.95  # sharp on the border
    assert not changed[:, 0].any() and not changed[:, -1].any()  # feathered to 0 where it meets the photo
    assert _outside_crop(out, image, crop)


def test_mask_is_smooth_zero_at_its_edge_and_sharp_on_the_image_border():
    shape = (200, 300, 3)
    inner = feather_mask(Crop((50, 40, 150, 160)), shape, 1.0)
    assert inner.max() == 1.0 and inner[60, 50] == 1.0
    assert inner[0].max() == 0 and inner[-1].max() == 0 and inner[:, 0].max() == 0 and inner[:, -1].max() == 0
    assert np.abs(np.diff(inner, axis=1)).max() < 0.15  # no step anywhere
    border = feather_mask(Crop((0, 0, 100, 200)), shape, 1.0)
    assert border[0, 0] == 1.0 and border[100, 0] == 1.0 and border[100, -1] == 0
    circle = feather_mask(Crop((50, 40, 150, 160)), shape, 0.4)
    assert circle[60, 50] == 1.0 and circle[0, 0] == 0 and circle[60, 0] == 0


def test_paste_back_has_no_seam_or_colour_step():
    """An animated crop with a colour cast must fade into the photo, not show its rectangle."""
    image = np.full((200, 300, 3), 100, np.uint8)
    crop = Crop((100, 40, 200, 160))
    animated = [np.full((1, 64, 64, 3), 160, np.uint8)]
    (out,) = Paster(image, [crop], 1.0, match_colour=False)(animated)
    row = out[100, :, 0].astype(int)
    assert row[99] == 100 and row[150] == 160
    assert np.abs(np.diff(row)).max() <= 8  # the feather alone spreads a 60-level cast, no jump
    (out,) = Paster(image, [crop], 1.0)(animated)
    assert np.array_equal(out, image)  # matched at the seam, a uniform cast is gone altogether


def _seam_colour(out: np.ndarray, image: np.ndarray, crop: Crop, mask: np.ndarray):
    """Mean out - photo per channel over the feather band, and over a 3-pixel ring just inside it."""
    band = (mask > 0) & (mask < 1)
    ring = (mask == 1) & (cv2.dilate(band.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=3) > 0)
    x1, y1, x2, y2 = crop.box
    diff = out[y1:y2, x1:x2].astype(np.float64) - image[y1:y2, x1:x2]
    return diff[band].mean(axis=0), diff[ring].mean(axis=0)


def test_colour_is_matched_at_the_seam_once_per_face(detector):
    """A face whose colours drifted (+25/-20/+15) must not show a colour step where it meets the photo."""
    image = astronaut()
    (crop,) = choose_crops(detector.detect(image), image.shape, multi_person=False)
    shift = np.array([25, -20, 15])
    drifted = np.clip(cut(image, crop, 64).astype(int) + shift, 0, 255).astype(np.uint8)[None]
    measured = {}
    for match in (False, True):
        paster = Paster(image, [crop], 0.4, match_colour=match)
        (first,) = paster([drifted])
        mask = paster.masks[0][:, :, 0]
        measured[match] = _seam_colour(first, image, crop, mask)
        assert _outside_crop(first, image, crop)
    (band_before, ring_before), (band_after, ring_after) = measured[False], measured[True]
    assert np.all(np.sign(ring_before) == np.sign(shift))
    assert np.abs(ring_before).max() > 0.8 * np.abs(shift).max()  # inside the band: the whole shift
    assert np.abs(band_before).max() > 0.4 * np.abs(shift).max()  # the band: about half, as it fades
    # Not exactly 0: the drift was clipped at 0 and 255, which no single offset undoes everywhere.
    assert np.abs(band_after).max() < 2 and np.abs(ring_after).max() < 2
    # The offset is measured on the first frame only: a later frame without the drift gets the same
    # correction (no flicker from re-measuring), which now pulls the colours the other way.
    (later,) = paster([cut(image, crop, 64)[None]])
    ring_later = _seam_colour(later, image, crop, mask)[1]
    assert np.all(np.sign(ring_later) == -np.sign(shift)) and np.all(np.abs(ring_later) > 0.5 * np.abs(shift))


def test_each_face_gets_its_own_colour_offset(detector):
    """Two faces drifted in opposite directions, pasted through their --ratio circles."""
    image = (30 + astronauts(2, gap=20) * 0.75).astype(np.uint8)  # headroom: the drifts do not clip
    crops = choose_crops(detector.detect(image), image.shape, multi_person=True)
    assert len(crops) == 2
    shifts = [np.array([25, -20, 15]), np.array([-15, 10, -25])]
    plain = [cut(image, c, 64)[None] for c in crops]
    drifted = [(f + s).astype(np.uint8) for f, s in zip(plain, shifts)]
    # What resizing to 64 px and back alone leaves (blur near the circle's edge moves the ring's mean).
    (reference,) = Paster(image, crops, 0.4, match_colour=False)(plain)
    (before,) = Paster(image, crops, 0.4, match_colour=False)(drifted)
    paster = Paster(image, crops, 0.4)
    (after,) = paster(drifted)
    for crop, mask, shift in zip(crops, paster.masks, shifts):
        ref, old, new = (np.stack(_seam_colour(out, image, crop, mask[:, :, 0])) for out in (reference, before, after))
        assert np.abs(old[1] - ref[1] - shift).max() < 1  # the ring shows this face's whole drift
        assert np.abs(new - ref).max() < 1
