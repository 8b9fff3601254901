"""The live engine (ppfom.live): latest-frame-wins, the session's reference pose, the face square."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from faces_media import astronaut

from ppfom.errors import PpfomError
from ppfom.live import LatestSlot, LiveModels, LiveRunner, LiveSession
from ppfom.live.codec import decode_image, encode_jpeg
from ppfom.live.follow import FaceFollower


@pytest.fixture(scope="module")
def demo():
    return LiveModels(backend="dygraph").load("demo")


def _moving(photo: np.ndarray, step: int) -> np.ndarray:
    return np.roll(photo, 6 * step, axis=1)


def test_slot_keeps_only_the_newest_and_counts_the_dropped():
    slot: LatestSlot[int] = LatestSlot()
    assert slot.put(1) is False and slot.put(2) is True and slot.put(3) is True
    assert slot.take(0) == 3 and slot.dropped == 2 and slot.take(0.01) is None
    threading.Timer(0.05, slot.close).start()
    assert slot.take(5) is None and slot.closed


def test_frames_arriving_while_busy_are_dropped_not_queued(demo):
    results = []
    session = LiveSession(demo)
    session.set_photo(astronaut())
    runner = LiveRunner(session, results.append)
    try:
        moving = [_moving(astronaut(), i % 5) for i in range(40)]
        for i, frame in enumerate(moving):  # a burst: far faster than a frame is animated
            runner.submit(frame, tag=i)
        deadline = time.monotonic() + 20
        while not results or results[-1].tag != 39:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        runner.close()
    assert runner.received == 40 and runner.animated == len(results) < 40
    assert runner.dropped == 40 - len(results)  # every frame is either animated or dropped
    assert [r.tag for r in results] == sorted(r.tag for r in results) and results[-1].tag == 39
    assert all(r.image.shape == (64, 64, 3) and r.latency > 0 for r in results)


def test_output_follows_the_motion_and_the_reference_pose(demo):
    session = LiveSession(demo)
    session.set_photo(astronaut())
    still = [session.animate(astronaut()) for _ in range(2)]
    moved = session.animate(_moving(astronaut(), 4))
    assert np.array_equal(still[0], still[1])  # no motion, no change
    assert np.abs(moved.astype(int) - still[0]).mean() > 2
    session.set_reference()  # the moved pose is now the start: it shows the photo as it is
    assert np.abs(session.animate(_moving(astronaut(), 4)).astype(int) - still[0]).mean() < 1
    session.set_relative(False)
    assert session.animate(astronaut()).shape == (64, 64, 3)


def test_runner_reports_bad_frames_and_goes_on(demo):
    errors, results = [], []
    runner = LiveRunner(None, results.append, errors.append)
    try:
        runner.submit(b"garbage")
        runner.control(lambda r: setattr(r, "session", LiveSession(demo)))
        runner.control(lambda r: r.session.set_photo(astronaut()))
        time.sleep(0.3)
        runner.submit(b"garbage")
        runner.submit(encode_jpeg(astronaut()), tag="ok")
        deadline = time.monotonic() + 20
        while not results:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        runner.close()
    assert results[0].tag == "ok" and errors and all("\n" not in e for e in errors)


def test_images_are_checked_before_decoding():
    with pytest.raises(PpfomError, match="not a JPEG"):
        decode_image(b"\x00" * 100)
    big = encode_jpeg(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(PpfomError, match="megapixels"):
        decode_image(big, max_pixels=1000)
    assert decode_image(encode_jpeg(astronaut())).shape == (512, 512, 3)


def test_follower_squares_the_face_and_smooths_it():
    from ppfom.faces.detector import create_detector

    wide = np.zeros((480, 1200, 3), np.uint8)
    wide[:, 600:1112] = astronaut()[:480]
    assert FaceFollower(None).box(wide) == (360, 0, 840, 480)  # no detector: the centre square
    follower = FaceFollower(create_detector("retinaface"), every=1)
    x1, y1, x2, y2 = follower.box(wide)
    assert x2 - x1 == y2 - y1 and 600 <= (x1 + x2) / 2 <= 1112 and x1 > 360
    shifted = np.roll(wide, -100, axis=1)
    nx1 = follower.box(shifted)[0]
    assert x1 - 100 < nx1 < x1  # moved part of the way: smoothed


def test_unknown_and_missing_models_are_one_line(tmp_path):
    from ppfom.live.models import default_entries

    models = LiveModels(default_entries(mobile_weights=str(tmp_path / "none.pdparams")))
    listed = {m["name"]: m for m in models.describe()}
    assert listed["demo"]["available"] and not listed["mobile"]["available"]
    assert "none.pdparams" in listed["mobile"]["missing"]
    with pytest.raises(PpfomError, match="weights missing"):
        models.load("mobile")
    with pytest.raises(PpfomError, match="unknown"):
        models.load("nope")


def test_warm_loads_the_default_model_in_the_background_and_keeps_errors_for_the_session(tmp_path):
    from ppfom.live.models import default_entries

    models = LiveModels(default_entries(mobile_weights=str(tmp_path / "none.pdparams"),
                                        vox_weights=str(tmp_path / "none.pdparams")), backend="dygraph")
    assert models.default() == "demo" and not models.is_loaded("demo")
    models.warm().join(timeout=120)
    assert models.is_loaded("demo")
    models.warm("mobile").join(timeout=10)  # missing weights: nothing raised here, nothing loaded
    assert not models.is_loaded("mobile")
    with pytest.raises(PpfomError, match="weights missing"):
        models.load("mobile")
