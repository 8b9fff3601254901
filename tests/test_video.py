from __future__ import annotations

import gc
import os
import subprocess

import imageio_ffmpeg
import numpy as np
import pytest

from media import children, children_gone
from ppfom.errors import PpfomError
from ppfom.video import VideoReader, VideoWriter, probe

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
W, H = 64, 48
COLORS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255),
          (255, 0, 255), (128, 128, 128), (255, 255, 255), (0, 0, 0), (200, 100, 50)]


def flat(color, w=W, h=H):
    return np.broadcast_to(np.array(color, np.uint8), (h, w, 3)).copy()


def encode(path, frames, fps=25, faststart=False):
    """Write frames with imageio-ffmpeg directly, independent of VideoWriter."""
    params = ["-crf", "10"] + (["-movflags", "+faststart"] if faststart else [])
    h, w = frames[0].shape[:2]
    gen = imageio_ffmpeg.write_frames(str(path), (w, h), fps=fps, quality=None,
                                      macro_block_size=1, ffmpeg_log_level="error",
                                      output_params=params)
    gen.send(None)
    for frame in frames:
        gen.send(np.ascontiguousarray(frame))
    gen.close()
    return path


def ffmpeg(*args):
    subprocess.run([FFMPEG, "-v", "error", "-y", *map(str, args)], check=True)


def header(path):
    """ffmpeg's own description of a file (its stderr)."""
    run = subprocess.run([FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, check=False)
    return run.stderr.decode("utf-8", "replace")


def decode(path):
    """All frames as arrays, via imageio-ffmpeg rather than VideoReader."""
    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    w, h = meta["size"]
    return meta, [np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in gen]


def assert_one_line(err, path):
    message = str(err.value)
    assert "\n" not in message
    assert os.fspath(path) in message
    return message


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """Ten frames of distinct flat colours, 25 fps, no audio."""
    return encode(tmp_path_factory.mktemp("clip") / "clip.mp4", [flat(c) for c in COLORS])


@pytest.fixture(scope="module")
def clip_with_audio(tmp_path_factory, clip):
    out = tmp_path_factory.mktemp("av") / "av.mp4"
    ffmpeg("-i", clip, "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
           "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", out)
    return out


# ---------------------------------------------------------------- reading


def test_reader_metadata(clip, clip_with_audio):
    reader = VideoReader(clip)
    assert reader.fps == pytest.approx(25.0)
    assert reader.size == (W, H)
    assert reader.num_frames == len(COLORS)
    assert reader.has_audio is False
    assert VideoReader(clip_with_audio).has_audio is True
    info = probe(clip)
    assert (info["size"], info["nframes"], info["has_audio"]) == ((W, H), 10, False)
    assert info["duration"] == pytest.approx(0.4, abs=0.05)


def test_frames_have_the_encoded_colours(clip):
    frames = list(VideoReader(clip))
    assert len(frames) == len(COLORS)
    for frame, color in zip(frames, COLORS, strict=True):
        assert frame.shape == (H, W, 3) and frame.dtype == np.uint8
        assert np.abs(frame.reshape(-1, 3).mean(0) - color).max() < 6, color


def test_iteration_streams_and_cleans_up_when_stopped_early(clip):
    if not os.path.isdir("/proc"):
        pytest.skip("needs /proc")
    before = set(children())
    reader = VideoReader(clip)
    frames = iter(reader)
    next(frames)
    assert len(set(children()) - before) == 1  # one ffmpeg pipe, still running
    frames.close()
    assert set(children()) <= before
    with VideoReader(clip) as reader:
        for _ in reader.batches(2):
            break
    assert set(children()) <= before


def test_iterating_twice_decodes_twice(clip):
    reader = VideoReader(clip)
    assert len(list(reader)) == len(list(reader)) == len(COLORS)


def test_batches(clip):
    batches = list(VideoReader(clip).batches(4))
    assert [b.shape for b in batches] == [(4, H, W, 3), (4, H, W, 3), (2, H, W, 3)]
    assert np.abs(batches[2][1].reshape(-1, 3).mean(0) - COLORS[9]).max() < 6
    with pytest.raises(ValueError):
        next(VideoReader(clip).batches(0))


def test_size_change_mid_stream_is_resized_to_first(tmp_path):
    first = encode(tmp_path / "a.mp4", [flat(COLORS[0])] * 3)
    second = encode(tmp_path / "b.mp4", [flat(COLORS[2], 32, 24)] * 3)
    for src, offset in ((first, 0), (second, 3 / 25)):  # MPEG-TS segments can be
        # concatenated byte-wise; the offset makes the second start where the first ends.
        ffmpeg("-i", src, "-c", "copy", "-output_ts_offset", offset, src.with_suffix(".ts"))
    both = tmp_path / "both.ts"
    both.write_bytes(first.with_suffix(".ts").read_bytes() + second.with_suffix(".ts").read_bytes())
    frames = list(VideoReader(both))
    assert len(frames) == 6
    assert all(f.shape == (H, W, 3) for f in frames)
    assert np.abs(frames[-1].reshape(-1, 3).mean(0) - COLORS[2]).max() < 6


def test_rotation_metadata_is_applied(clip, tmp_path):
    rotated = tmp_path / "rot.mp4"
    ffmpeg("-display_rotation", "90", "-i", clip, "-c", "copy", rotated)
    reader = VideoReader(rotated)
    assert reader.size == (H, W)
    assert next(iter(reader)).shape == (W, H, 3)


def test_non_ascii_path_with_spaces(clip, tmp_path):
    path = tmp_path / "vidéo 驱动 1.mp4"
    path.write_bytes(clip.read_bytes())
    assert len(list(VideoReader(path))) == len(COLORS)


@pytest.mark.parametrize("case", ["missing", "folder", "empty", "text", "audio_only", "no_frames"])
def test_bad_inputs_fail_at_construction(tmp_path, case):
    path = tmp_path / "in.mp4"
    if case == "folder":
        path.mkdir()
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("this is not a video\n")
    elif case == "audio_only":
        path = tmp_path / "in.m4a"
        ffmpeg("-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", path)
    elif case == "no_frames":
        ffmpeg("-f", "lavfi", "-i", f"color=size={W}x{H}", "-frames:v", "0", "-c:v", "libx264", path)
    with pytest.raises(PpfomError) as err:
        VideoReader(path)
    message = assert_one_line(err, path)
    if case == "missing":
        assert "--driving_video" in message


def noise_clip(path, faststart):
    rng = np.random.default_rng(0)
    return encode(path, [rng.integers(0, 256, (H, W, 3), dtype=np.uint8) for _ in range(40)],
                  faststart=faststart)


def test_truncated_mp4_with_index_at_end_fails_at_open(tmp_path):
    full = noise_clip(tmp_path / "full.mp4", faststart=False).read_bytes()
    cut = tmp_path / "cut.mp4"
    for fraction in (0.3, 0.6, 0.99):
        cut.write_bytes(full[: int(len(full) * fraction)])
        with pytest.raises(PpfomError) as err:
            VideoReader(cut)
        assert_one_line(err, cut)


def test_truncated_faststart_mp4_fails_during_iteration(tmp_path):
    full = noise_clip(tmp_path / "full.mp4", faststart=True).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full[: int(len(full) * 0.6)])
    reader = VideoReader(cut)  # header and first frame are intact
    seen = 0
    with pytest.raises(PpfomError) as err:
        for _ in reader:
            seen += 1
    message = assert_one_line(err, cut)
    assert f"after frame {seen}" in message
    assert seen < 40


# ---------------------------------------------------------------- writing


def test_writer_fps_frame_count_and_content(tmp_path):
    out = tmp_path / "out.mp4"
    with VideoWriter(out, fps=10) as writer:
        writer.write(np.stack([flat(c) for c in COLORS[:4]]))  # a batch
        for color in COLORS[4:]:
            writer.write(flat(color))  # single frames
    assert writer.frames_written == len(COLORS)
    meta, frames = decode(out)
    assert meta["fps"] == pytest.approx(10.0)
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == len(COLORS)
    for frame, color in zip(frames, COLORS, strict=True):
        assert np.abs(frame.reshape(-1, 3).mean(0) - color).max() < 6, color
    assert "Audio:" not in header(out)
    assert os.listdir(tmp_path) == ["out.mp4"]


def test_writer_uses_hidden_temp_file_until_close(tmp_path):
    out = tmp_path / "result.mp4"
    with VideoWriter(out, fps=25) as writer:
        writer.write(flat(COLORS[0]))
        temps = os.listdir(tmp_path)
        assert not out.exists()
        assert len(temps) == 1
        assert temps[0].startswith(".result.mp4.partial-") and temps[0].endswith(".mp4")
    assert os.listdir(tmp_path) == ["result.mp4"]


def test_writer_odd_size_pads_one_pixel_with_the_edge(tmp_path):
    frame = np.zeros((47, 63, 3), np.uint8)
    frame[:, 32:] = (0, 0, 255)  # right half blue, so the padded column must be blue
    frame[24:, :32] = (255, 0, 0)  # bottom-left red, so the padded row there must be red
    out = tmp_path / "odd.mp4"
    with VideoWriter(out, fps=25) as writer:
        writer.write(np.stack([frame] * 3))
    meta, frames = decode(out)
    assert meta["size"] == (64, 48) and len(frames) == 3
    got = frames[0].astype(int)
    assert np.abs(got[:47, :63] - frame).mean() < 4
    assert np.abs(got[10:40, 63].mean(0) - (0, 0, 255)).max() < 12
    assert np.abs(got[47, 2:28].mean(0) - (255, 0, 0)).max() < 12


def test_writer_muxes_audio_and_keeps_every_frame(tmp_path, clip_with_audio):
    # The audio (2 s) is longer than the video (60 frames at 50 fps = 1.2 s).
    out = tmp_path / "with audio.mp4"
    frames = [flat(COLORS[i % len(COLORS)]) for i in range(60)]
    with VideoWriter(out, fps=50, audio_from=clip_with_audio) as writer:
        writer.write(np.stack(frames))
    assert "Audio: aac" in header(out)
    meta, decoded = decode(out)
    assert len(decoded) == 60 and meta["fps"] == pytest.approx(50.0)
    assert meta["duration"] == pytest.approx(1.2, abs=0.1)  # audio trimmed to the video
    assert os.listdir(tmp_path) == ["with audio.mp4"]


def test_writer_keeps_video_frames_when_audio_is_shorter(tmp_path, clip_with_audio):
    out = tmp_path / "long.mp4"
    with VideoWriter(out, fps=25, audio_from=clip_with_audio) as writer:
        writer.write(np.stack([flat(COLORS[i % 10]) for i in range(75)]))  # 3 s > 2 s audio
    assert "Audio:" in header(out)
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == 75


def test_writer_audio_source_without_audio(tmp_path, clip):
    out = tmp_path / "silent.mp4"
    with VideoWriter(out, fps=25, audio_from=clip) as writer:
        writer.write(flat(COLORS[0]))
    assert "Audio:" not in header(out) and "Video:" in header(out)


def test_writer_non_ascii_path_and_missing_folder_is_created(tmp_path):
    out = tmp_path / "new folder" / "résultat 视频.mp4"
    with VideoWriter(out, fps=25) as writer:
        writer.write(flat(COLORS[1]))
    assert len(decode(out)[1]) == 1


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_exception_in_with_block_leaves_nothing(tmp_path, exc):
    before = set(children()) if os.path.isdir("/proc") else set()
    out = tmp_path / "out.mp4"
    with pytest.raises(exc), VideoWriter(out, fps=25) as writer:
            writer.write(np.stack([flat(c) for c in COLORS]))
            raise exc("boom")
    assert os.listdir(tmp_path) == []
    if os.path.isdir("/proc"):
        assert children_gone(before), "ffmpeg was left running"


def test_nothing_written_leaves_nothing(tmp_path):
    out = tmp_path / "out.mp4"
    with pytest.raises(PpfomError) as err, VideoWriter(out, fps=25):
            pass
    assert_one_line(err, out)
    assert os.listdir(tmp_path) == []


def test_previous_result_survives_a_failed_run(tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"old result")
    with pytest.raises(RuntimeError), VideoWriter(out, fps=25) as writer:
            writer.write(flat(COLORS[0]))
            raise RuntimeError("model crashed")
    assert out.read_bytes() == b"old result"
    assert os.listdir(tmp_path) == ["out.mp4"]


@pytest.mark.parametrize("case", ["is_folder", "parent_is_file", "bad_extension", "bad_fps",
                                  "missing_audio"])
def test_writer_rejects_bad_targets_before_any_frame(tmp_path, case):
    out, fps, audio = tmp_path / "out.mp4", 25.0, None
    if case == "is_folder":
        out.mkdir()
    elif case == "parent_is_file":
        (tmp_path / "file").write_text("x")
        out = tmp_path / "file" / "out.mp4"
    elif case == "bad_extension":
        out = tmp_path / "out.txt"
    elif case == "bad_fps":
        fps = 0.0
    elif case == "missing_audio":
        audio = tmp_path / "nope.mp4"
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(PpfomError) as err:
        VideoWriter(out, fps=fps, audio_from=audio)
    assert_one_line(err, audio if case == "missing_audio" else out)
    assert sorted(os.listdir(tmp_path)) == before


def test_writer_rejects_wrong_frames(tmp_path):
    out = tmp_path / "out.mp4"
    with pytest.raises(ValueError), VideoWriter(out, fps=25) as writer:
            writer.write(flat(COLORS[0]))
            writer.write(flat(COLORS[0], w=32))
    with pytest.raises(ValueError), VideoWriter(out, fps=25) as writer:
            writer.write(np.zeros((H, W, 3), np.float32))
    assert os.listdir(tmp_path) == []


def test_roundtrip_reader_to_writer(tmp_path, clip_with_audio):
    reader = VideoReader(clip_with_audio)
    out = tmp_path / "copy.mp4"
    with VideoWriter(out, fps=reader.fps, audio_from=reader.path) as writer:
        for batch in reader.batches(3):
            writer.write(batch)
    copy = VideoReader(out)
    assert (copy.fps, copy.size, copy.has_audio) == (25.0, (W, H), True)
    assert len(list(copy)) == len(COLORS)


def test_writer_dropped_without_close_leaves_nothing(tmp_path):
    writer = VideoWriter(tmp_path / "out.mp4", fps=25)
    writer.write(flat(COLORS[0]))
    assert len(os.listdir(tmp_path)) == 1
    del writer
    gc.collect()
    assert os.listdir(tmp_path) == []


def test_written_video_has_ordinary_permissions(tmp_path):
    """mkstemp makes 0600 files; the published result must get the umask's usual mode."""
    import os
    import stat

    from ppfom.video import VideoWriter

    path = tmp_path / "mode.mp4"
    with VideoWriter(path, fps=10) as writer:
        writer.write(np.zeros((2, 16, 16, 3), np.uint8))
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask
