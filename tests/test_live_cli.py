"""tools/live.py (ppfom.live_cli): a video file as the camera, the animated stream to a file; one-line errors."""
from __future__ import annotations

import importlib.util

import imageio.v2 as imageio
import pytest
from faces_media import astronaut

from media import moving_square_frames, read_video, write_video
from ppfom.live_cli import main


@pytest.fixture
def photo(tmp_path) -> str:
    path = tmp_path / "photo.png"
    imageio.imwrite(path, astronaut())
    return str(path)


def _errors(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]


def test_a_video_file_drives_the_photo_into_an_output_file(photo, tmp_path, capsys):
    clip = write_video(tmp_path / "drive.mp4", moving_square_frames(12), fps=12.5)
    out = tmp_path / "live.mp4"
    code = main(["--source_image", photo, "--driving_video", str(clip), "--demo", "--backend", "dygraph",
                 "--output", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert f"wrote {out}" in printed.out and "median latency" in printed.err
    frames, fps = read_video(out)
    # One output frame per camera frame from the first animated one on: the recording keeps real time.
    assert 1 <= len(frames) <= 12 and frames.shape[1:] == (64, 64, 3) and fps == pytest.approx(12.5)


def test_bad_inputs_are_one_line_errors(photo, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PPFOM_HOME", str(tmp_path / "home"))
    clip = str(write_video(tmp_path / "drive.mp4", moving_square_frames(3), fps=12.5))
    cases = [
        (["--source_image", str(tmp_path / "none.png"), "--demo", "--driving_video", clip], "none.png"),
        (["--source_image", photo, "--demo", "--driving_video", str(tmp_path / "none.mp4")], "none.mp4"),
        (["--source_image", photo, "--mobile_net", "--driving_video", clip, "--output", "x.mp4"], "vox-mobile.pdparams"),
        (["--source_image", photo, "--config", "c.yaml", "--driving_video", clip], "--weight_path"),
        (["--source_image", photo, "--demo", "--backend", "dygraph", "--driving_video", clip], "--output"),
        (["--source_image", photo, "--demo", "--camera", "7", "--output", str(tmp_path / "o.mp4")], "camera 7"),
    ]
    if importlib.util.find_spec("pyvirtualcam") is None:
        cases.append((["--source_image", photo, "--demo", "--driving_video", clip, "--virtual_camera"],
                      "pip install pyvirtualcam"))
    for argv, expected in cases:
        assert main(argv) == 1, argv
        errors = _errors(capsys)
        assert len(errors) == 1 and expected in errors[0], (argv, errors)
