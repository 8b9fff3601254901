"""Hostile inputs through the demo command: each gives one line of error or a correct video,
never a crash or a partial file."""
from __future__ import annotations

import os
import struct
import subprocess
import time
import zlib

import imageio.v2 as imageio
import imageio_ffmpeg
import numpy as np
import pytest

from media import moving_square_frames, read_video, write_video
from ppfom.cli import main
from small_model import SMALL_WEIGHTS


def _demo(capsys, config_file, source, driving, out, *extra) -> tuple[int, str]:
    code = main(["--config", config_file, "--weight_path", SMALL_WEIGHTS, "--image_size", "64",
                 "--source_image", str(source), "--driving_video", str(driving), "--output", str(out),
                 "--relative", "--backend", "dygraph", *extra])
    return code, capsys.readouterr().err.strip()


def _one_line_error(code: int, err: str, out) -> None:
    assert code == 1
    assert err.startswith("error: ") and "\n" not in err
    assert not os.path.isdir(out) or os.listdir(out) == []


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but whose pixel data is absent."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_one_pixel_image(tmp_path, capsys, config_file, driving_mp4):
    src = tmp_path / "dot.png"
    imageio.imwrite(src, np.zeros((1, 1, 3), np.uint8))
    code, err = _demo(capsys, config_file, src, driving_mp4, tmp_path / "out")
    _one_line_error(code, err, tmp_path / "out")
    assert "1x1" in err


def test_huge_png_header_is_refused_before_decoding(tmp_path, capsys, config_file, driving_mp4):
    src = tmp_path / "bomb.png"
    src.write_bytes(_png_header(20000, 20000))
    start = time.monotonic()
    code, err = _demo(capsys, config_file, src, driving_mp4, tmp_path / "out")
    _one_line_error(code, err, tmp_path / "out")
    assert "pixels" in err and "limit" in err and time.monotonic() - start < 30


@pytest.mark.parametrize("name", ["zero.mp4", "zero.png"])
def test_zero_byte_files(tmp_path, capsys, config_file, source_png, driving_mp4, name):
    empty = tmp_path / name
    empty.write_bytes(b"")
    source, driving = (empty, driving_mp4) if name.endswith(".png") else (source_png, empty)
    code, err = _demo(capsys, config_file, source, driving, tmp_path / "out")
    _one_line_error(code, err, tmp_path / "out")
    assert name in err


def test_text_file_named_mp4(tmp_path, capsys, config_file, source_png):
    fake = tmp_path / "clip.mp4"
    fake.write_text("hello, I am not a video\n" * 100)
    code, err = _demo(capsys, config_file, source_png, fake, tmp_path / "out")
    _one_line_error(code, err, tmp_path / "out")
    assert "clip.mp4" in err


def test_frame_size_change_midway(tmp_path, capsys, config_file, source_png):
    first = write_video(tmp_path / "a.mp4", moving_square_frames(6, (96, 80)), fps=10)
    second = write_video(tmp_path / "b.mp4", moving_square_frames(5, (64, 48)), fps=10)
    listing = tmp_path / "list.txt"
    listing.write_text(f"file '{first}'\nfile '{second}'\n")
    joined = tmp_path / "joined.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "concat", "-safe", "0",
                    "-i", str(listing), "-c", "copy", str(joined)], check=True)
    code, err = _demo(capsys, config_file, source_png, joined, tmp_path / "out")
    assert code == 0, err
    video, fps = read_video(tmp_path / "out" / "result.mp4")
    assert len(video) == 11 and fps == pytest.approx(10)


def test_variable_frame_rate_keeps_duration(tmp_path, capsys, config_file, source_png):
    frames_dir = tmp_path / "frames"
    frames_dir.mkdir()
    lines = []
    for i, frame in enumerate(moving_square_frames(6, (64, 64))):
        imageio.imwrite(frames_dir / f"{i}.png", frame)
        lines += [f"file '{frames_dir / f'{i}.png'}'", f"duration {0.1 if i % 2 else 0.3}"]
    (tmp_path / "vfr.txt").write_text("\n".join(lines) + "\n")
    vfr = tmp_path / "vfr.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "concat", "-safe", "0",
                    "-i", str(tmp_path / "vfr.txt"), "-fps_mode", "vfr", "-pix_fmt", "yuv420p", str(vfr)],
                   check=True)
    code, err = _demo(capsys, config_file, source_png, vfr, tmp_path / "out")
    assert code == 0, err
    video, fps = read_video(tmp_path / "out" / "result.mp4")
    assert len(video) / fps == pytest.approx(1.2, abs=0.35)  # 3 x 0.1 s + 3 x 0.3 s


def test_paths_with_spaces_and_non_ascii(tmp_path, capsys, config_file):
    folder = tmp_path / "mes vidéos été" / "面孔 1"
    folder.mkdir(parents=True)
    source = folder / "photo d'été.png"
    imageio.imwrite(source, np.full((70, 70, 3), 90, np.uint8))
    driving = write_video(folder / "danse à deux.mp4", moving_square_frames(4, (64, 64)))
    out = folder / "sortie finale"
    code, err = _demo(capsys, config_file, source, driving, out, "--filename", "résultat 1.mp4")
    assert code == 0, err
    assert os.listdir(out) == ["résultat 1.mp4"]
    assert len(read_video(out / "résultat 1.mp4")[0]) == 4


def test_output_path_that_is_a_directory(tmp_path, capsys, config_file, source_png, driving_mp4):
    out = tmp_path / "out"
    (out / "result.mp4").mkdir(parents=True)
    (out / "result.mp4" / "keep.txt").write_text("mine")
    code, err = _demo(capsys, config_file, source_png, driving_mp4, out)
    assert code == 1 and "\n" not in err and "result.mp4" in err
    assert (out / "result.mp4" / "keep.txt").read_text() == "mine"
    assert sorted(os.listdir(out)) == ["result.mp4"]
