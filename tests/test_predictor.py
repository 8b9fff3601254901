"""The video pipeline end to end on the small reference model (64x64, seconds per test)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import paddle
import pytest
import yaml

from media import has_audio, moving_square_frames, read_video, write_video
from ppfom import FirstOrderPredictor, PpfomError, frames, normalize_kp
from ppfom.cli import main
from small_model import SMALL_WEIGHTS, small_config

WEIGHTS = SMALL_WEIGHTS


def _predictor(config, out_dir, **kw) -> FirstOrderPredictor:
    kw.setdefault("relative", True)
    kw.setdefault("adapt_scale", True)
    return FirstOrderPredictor(output=str(out_dir), weight_path=WEIGHTS, config=config, image_size=64, **kw)


def _leftovers(folder) -> list[str]:
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def test_run_writes_whole_video_with_rate_size_and_audio(tmp_path, config_file, source_png, driving_mp4):
    out = tmp_path / "out"
    path = _predictor(config_file, out, batch_size=4).run(source_png, driving_mp4)
    assert path == str(out / "result.mp4")
    video, fps = read_video(path)
    assert video.shape == (9, 100, 120, 3)
    assert fps == pytest.approx(12.5)
    assert has_audio(path)
    assert _leftovers(out) == ["result.mp4"]


def test_batches_give_the_same_frames_as_paddlegan_one_shot(config_file, param_manifest, tmp_path):
    """Source work done once + batching must not change the result of PaddleGAN's per-frame recipe."""
    pred = _predictor(config_file, tmp_path, batch_size=2)
    rng = np.random.default_rng(1)
    source = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    driving = moving_square_frames(5, (64, 64))
    from ppfom.animator import Animator
    animator = Animator(pred.kp_detector, pred.generator, relative=True, adapt_scale=True)
    animator.set_source(frames.to_nchw(source))
    ours = np.concatenate([pred.animate_batch(animator, driving[i:i + 2]) for i in range(0, 5, 2)])

    with paddle.no_grad():
        src = frames.to_tensor(source)
        kp_source = pred.kp_detector(src)
        kp_driving = pred.kp_detector(frames.to_tensor(driving))
        initial = {k: v[:1] for k, v in kp_driving.items()}
        kp_norm = normalize_kp(kp_source, kp_driving, initial, True, True, True)
        tiled = {k: paddle.tile(v, [5] + [1] * (v.ndim - 1)) for k, v in kp_source.items()}
        expected = frames.to_uint8(pred.generator(paddle.tile(src, [5, 1, 1, 1]), kp_norm, tiled)["prediction"])
    assert np.abs(ours.astype(int) - expected.astype(int)).max() <= 1


def test_source_is_encoded_once_and_video_is_streamed(tmp_path, config_file, source_png, monkeypatch):
    driving = write_video(tmp_path / "long.mp4", moving_square_frames(19))
    pred = _predictor(config_file, tmp_path / "out", batch_size=2, backend="dygraph")
    calls = {"encode": 0, "kp": 0, "read": 0, "read_at_first_write": None}
    encode, kp_forward = pred.generator.encode, pred.kp_detector.forward

    def counted_encode(x):
        calls["encode"] += 1
        return encode(x)

    def counted_kp(x):
        calls["kp"] += 1
        return kp_forward(x)

    monkeypatch.setattr(pred.generator, "encode", counted_encode)
    monkeypatch.setattr(pred.kp_detector, "forward", counted_kp)
    from ppfom import predictor as module
    batches, write = module.VideoReader.batches, module.VideoWriter.write

    def counted_batches(self, n):
        for batch in batches(self, n):
            calls["read"] += 1
            yield batch

    def recorded_write(self, f):
        if calls["read_at_first_write"] is None:
            calls["read_at_first_write"] = calls["read"]
        return write(self, f)

    monkeypatch.setattr(module.VideoReader, "batches", counted_batches)
    monkeypatch.setattr(module.VideoWriter, "write", recorded_write)
    pred.run(source_png, driving)
    assert calls["encode"] == 1
    assert calls["kp"] == 1 + 10  # the source once, then one call per driving batch
    assert calls["read"] == 10
    # Reading runs ahead of writing by a bounded number of batches: the one being written, the one in
    # the networks, the one in the reader thread's hands and those queued each side of the networks.
    ahead = 3 + 2 * module.QUEUED_BATCHES
    assert calls["read_at_first_write"] <= ahead < 10, "frames must be written before the video is read to the end"


def test_timings_count_every_stage_per_batch_and_leave_the_video_alone(tmp_path, config_file, source_png,
                                                                      driving_mp4):
    from ppfom.timing import Timings

    plain = _predictor(config_file, tmp_path / "plain", batch_size=4).run(source_png, driving_mp4)
    timings = Timings()
    timed = _predictor(config_file, tmp_path / "timed", batch_size=4).run(source_png, driving_mp4, timings=timings)
    for name in ("driving input", "networks", "to_uint8", "paste", "encode"):
        assert timings.calls[name] == 3, name  # 9 frames in batches of 4
    assert timings.calls["decode"] == 4  # the fourth call finds the end
    assert timings.seconds["loop"] >= timings.seconds["networks"] > 0
    assert np.array_equal(read_video(timed)[0], read_video(plain)[0])


@pytest.mark.parametrize("kind", ["gray", "rgba", "uint16"])
def test_unusual_source_images_are_converted(tmp_path, config_file, driving_mp4, kind):
    rng = np.random.default_rng(2)
    image = {"gray": rng.integers(0, 256, (70, 90), dtype=np.uint8),
             "rgba": rng.integers(0, 256, (70, 90, 4), dtype=np.uint8),
             "uint16": rng.integers(0, 65536, (70, 90, 3), dtype=np.uint16)}[kind]
    src = tmp_path / f"{kind}.png"
    cv2.imwrite(str(src), image if image.ndim == 2 else image[..., [2, 1, 0, 3][:image.shape[2]]])
    path = _predictor(config_file, tmp_path / "out").run(str(src), driving_mp4)
    assert read_video(path)[0].shape == (9, 70, 90, 3)


def _cli(capsys, *args) -> tuple[int, str]:
    code = main(list(args))
    err = capsys.readouterr().err.strip()
    return code, err


def _bad_video(tmp_path, kind: str) -> str:
    if kind == "text":
        path = tmp_path / "notes.mp4"
        path.write_text("this is not a video\n" * 50)
    elif kind == "empty":
        path = tmp_path / "empty.mp4"
        path.write_bytes(b"")
    elif kind == "truncated":
        good = write_video(tmp_path / "good.mp4", moving_square_frames(30))
        data = Path(good).read_bytes()
        path = tmp_path / "truncated.mp4"
        path.write_bytes(data[: int(len(data) * 0.6)])
    else:  # audio only: a container without a single video frame
        path = tmp_path / "audio_only.m4a"
        import subprocess

        import imageio_ffmpeg
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i",
                        "sine=frequency=440:duration=1", "-c:a", "aac", str(path)], check=True)
    return str(path)


@pytest.mark.parametrize("kind", ["text", "empty", "truncated", "no_frames"])
def test_bad_driving_video_is_one_line_and_leaves_nothing(tmp_path, capsys, config_file, source_png, kind):
    out = tmp_path / "out"
    code, err = _cli(capsys, "--config", config_file, "--weight_path", WEIGHTS, "--image_size", "64",
                     "--source_image", source_png, "--driving_video", _bad_video(tmp_path, kind),
                     "--output", str(out), "--relative")
    assert code == 1
    assert err.startswith("error: ") and "\n" not in err
    assert "video" in err
    assert _leftovers(out) == []


@pytest.mark.parametrize("kind", ["missing", "text"])
def test_bad_source_image_is_one_line(tmp_path, capsys, config_file, driving_mp4, kind):
    src = tmp_path / "face.png"
    if kind == "text":
        src.write_text("not an image")
    out = tmp_path / "out"
    code, err = _cli(capsys, "--config", config_file, "--weight_path", WEIGHTS, "--image_size", "64",
                     "--source_image", str(src), "--driving_video", driving_mp4, "--output", str(out))
    assert code == 1 and "\n" not in err
    assert "face.png" in err and "--source_image" in err or "image" in err
    assert _leftovers(out) == []


def test_unwritable_output_folder(tmp_path, capsys, config_file, source_png, driving_mp4):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the output folder should be")
    code, err = _cli(capsys, "--config", config_file, "--weight_path", WEIGHTS, "--image_size", "64",
                     "--source_image", source_png, "--driving_video", driving_mp4,
                     "--output", str(blocker / "sub"))
    assert code == 1 and "\n" not in err
    assert "sub" in err


def test_checkpoint_that_does_not_fit_lists_entries(tmp_path, capsys, param_manifest, source_png, driving_mp4):
    mobile = tmp_path / "mobile.yaml"
    mobile.write_text(yaml.safe_dump(small_config(param_manifest, "small_mobile")))
    code, err = _cli(capsys, "--config", str(mobile), "--weight_path", WEIGHTS, "--image_size", "64",
                     "--source_image", source_png, "--driving_video", driving_mp4,
                     "--output", str(tmp_path / "out"))
    assert code == 1 and "\n" not in err
    assert "ppgan_fom_small.pdparams" in err
    assert "missing" in err and "unexpected" in err
    assert "predictor.encoder.down_blocks.0.conv1.weight" in err  # a mobile-only entry, named


def test_missing_weights_without_network_names_weight_path(tmp_path, monkeypatch, capsys, source_png, driving_mp4):
    from ppfom import predictor as module
    monkeypatch.setenv("PPFOM_HOME", str(tmp_path / "cache"))
    monkeypatch.setitem(module.PUBLISHED_WEIGHTS, "vox256", "http://127.0.0.1:9/vox-cpk.pdparams")
    code, err = _cli(capsys, "--source_image", source_png, "--driving_video", driving_mp4,
                     "--output", str(tmp_path / "out"))
    assert code == 1 and "--weight_path" in err and "\n" not in err
    assert _leftovers(tmp_path / "cache") == []


@pytest.mark.parametrize("flag", [["--best_frame", "-1"], ["--ratio", "0"], ["--face_detector", "nope"]])
def test_bad_face_options_fail_first(tmp_path, capsys, config_file, source_png, driving_mp4, flag):
    out = tmp_path / "out"
    code, err = _cli(capsys, "--config", config_file, "--weight_path", WEIGHTS, "--image_size", "64",
                     "--source_image", source_png, "--driving_video", driving_mp4, "--output", str(out), *flag)
    assert code == 1 and flag[0] in err and "\n" not in err
    assert _leftovers(out) == []


def test_bad_numbers_are_refused(tmp_path, config_file):
    with pytest.raises(PpfomError, match="--batch_size"):
        _predictor(config_file, tmp_path, batch_size=0)
    with pytest.raises(PpfomError, match="--image_size"):
        FirstOrderPredictor(output=str(tmp_path), image_size=300)


def test_a_warm_start_runs_the_cached_graphs_without_loading_the_networks(tmp_path, config_file, source_png,
                                                                          driving_mp4, monkeypatch):
    monkeypatch.setenv("PPFOM_HOME", str(tmp_path / "home"))
    weights = tmp_path / "weights.pdparams"
    shutil.copyfile(WEIGHTS, weights)
    from ppfom import predictor as module

    loads = []
    real_load = module.load_networks
    monkeypatch.setattr(module, "load_networks", lambda *a, **k: loads.append(1) or real_load(*a, **k))

    def run(name: str) -> np.ndarray:
        predictor = FirstOrderPredictor(output=str(tmp_path / name), weight_path=str(weights), config=config_file,
                                        image_size=64, relative=True, adapt_scale=True, backend="onnxruntime")
        return read_video(predictor.run(source_png, driving_mp4))[0]

    cold = run("cold")
    assert loads == [1]
    warm = run("warm")
    assert loads == [1]  # the digest of this file was remembered with its graphs
    np.testing.assert_array_equal(warm, cold)
    os.utime(weights, ns=(0, 0))  # the file may have changed: load and hash it again
    np.testing.assert_array_equal(run("touched"), cold)
    assert loads == [1, 1]
