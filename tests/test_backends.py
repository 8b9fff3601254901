"""Every backend animates like dygraph: exported graphs in Paddle Inference and onnxruntime."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import paddle
import pytest
from test_export import INPUTS_64, WEIGHTS, small_yaml

from media import moving_square_frames, read_video, write_video
from ppfom import FirstOrderPredictor, PpfomError
from ppfom.animator import Animator, create_animator
from ppfom.backends import BACKENDS, resolve_backend
from ppfom.config import build_generator, build_kp_detector
from ppfom.export import MANIFEST
from ppfom.export_cli import main as export_main
from ppfom.infer_cli import main as infer_main

TOL = 1e-4
HAS_ONNX = all(importlib.util.find_spec(m) for m in ("onnxruntime", "paddle2onnx"))
needs_onnx = pytest.mark.skipif(not HAS_ONNX, reason="needs paddle2onnx and onnxruntime: pip install 'ppfom[onnx]'")
EXPORTED = ["paddle-inference", pytest.param("onnxruntime", marks=needs_onnx)]


def _has_bf16() -> bool:
    try:
        return "avx512_bf16" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


@pytest.fixture(scope="module")
def small(param_manifest):
    c = param_manifest["configs"]["small"]
    cfg = {"model": {"common_params": c["common"], "generator": {"kp_detector_cfg": c["kp"], "generator_cfg": c["gen"]}}}
    paddle.seed(3)
    kp, gen = build_kp_detector(cfg), build_generator(cfg, inference=True)
    kp.eval()
    gen.eval()
    return cfg, kp, gen


@pytest.fixture(scope="module")
def clip():
    rng = np.random.default_rng(5)
    return rng.random((1, 3, 64, 64), dtype=np.float32), rng.random((5, 3, 64, 64), dtype=np.float32)


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("PPFOM_HOME", str(tmp_path_factory.getbasetemp() / "ppfom_home"))


def _animate(animator, clip, step: int = 3) -> np.ndarray:
    source, driving = clip
    animator.set_source(source)
    return np.concatenate([animator(driving[i:i + step]) for i in range(0, len(driving), step)])


@pytest.mark.parametrize("backend", EXPORTED)
@pytest.mark.parametrize("batch_size", [1, 2])
@pytest.mark.parametrize("relative, adapt", [(True, True), (False, False)])
def test_backend_matches_dygraph(small, clip, backend, batch_size, relative, adapt):
    cfg, kp, gen = small
    expected = _animate(Animator(kp, gen, relative, adapt), clip)
    animator = create_animator(backend, kp, gen, relative, adapt, cfg=cfg, image_size=(64, 64),
                               batch_size=batch_size)
    np.testing.assert_allclose(_animate(animator, clip), expected, atol=TOL, rtol=0)


@pytest.mark.parametrize("backend", ["dygraph", *EXPORTED])
def test_shared_driving_keypoints_give_the_same_frames(small, clip, backend):
    """With several faces, one animator's driving keypoints serve the others (the predictor's hot path)."""
    cfg, kp, gen = small
    source, driving = clip
    made = [create_animator(backend, kp, gen, True, True, cfg=cfg, image_size=(64, 64), batch_size=2)
            for _ in range(2)]
    for animator, src in zip(made, (source, source[:, :, ::-1].copy())):
        animator.set_source(src)
    shared = made[0].keypoints(driving)
    alone = create_animator(backend, kp, gen, True, True, cfg=cfg, image_size=(64, 64), batch_size=2)
    alone.set_source(source[:, :, ::-1].copy())
    np.testing.assert_allclose(made[1](driving, shared), alone(driving), atol=1e-6, rtol=0)


@pytest.mark.skipif(not _has_bf16(), reason="this CPU has no AVX512-BF16")
def test_bf16_stays_close(small, clip):
    cfg, kp, gen = small
    expected = _animate(Animator(kp, gen, True, True), clip)
    animator = create_animator("paddle-inference", kp, gen, True, True, cfg=cfg, image_size=(64, 64),
                               precision="bf16")
    assert np.abs(_animate(animator, clip) - expected).max() < 2e-2


def test_export_is_cached_by_weights(small, tmp_path, monkeypatch):
    cfg, kp, gen = small
    monkeypatch.setenv("PPFOM_HOME", str(tmp_path))
    create_animator("paddle-inference", kp, gen, True, True, cfg=cfg, image_size=(64, 64))
    (folder,) = (tmp_path / "exported").iterdir()
    stamp = (folder / MANIFEST).stat().st_mtime_ns
    create_animator("paddle-inference", kp, gen, True, True, cfg=cfg, image_size=(64, 64))
    assert (folder / MANIFEST).stat().st_mtime_ns == stamp
    assert [p.name for p in (tmp_path / "exported").iterdir() if not p.name.startswith(".")] == [folder.name]


def test_auto_is_an_exported_backend_on_cpu_and_dygraph_on_gpu():
    assert resolve_backend("auto", "cpu") in BACKENDS and resolve_backend("auto", "cpu") != "dygraph"
    assert resolve_backend("auto", "gpu:0") == "dygraph"
    with pytest.raises(PpfomError, match="--backend tensorrt"):
        resolve_backend("tensorrt")


@pytest.mark.parametrize("backend", EXPORTED)
def test_fom_infer_writes_the_predictors_video(backend, tmp_path, param_manifest, monkeypatch):
    monkeypatch.setenv("PPFOM_HOME", str(tmp_path / "home"))
    config = small_yaml(tmp_path, param_manifest)
    driving = write_video(tmp_path / "drive.mp4", moving_square_frames(4, (64, 64)))
    source = str(tmp_path / "source.png")
    imageio.imwrite(source, np.random.default_rng(2).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    flags = ["--onnx"] if backend == "onnxruntime" else []
    args = ["-c", config, "--load", WEIGHTS, "-s", INPUTS_64, "--output_dir", str(tmp_path / "m")]
    assert export_main(args + flags) == 0
    assert infer_main(["--model_path", str(tmp_path / "m"), "--source_path", source, "--driving_path", driving,
                       "--output_path", str(tmp_path / "inf"), "--backend", backend]) == 0
    ours, _ = read_video(tmp_path / "inf" / "drive.mp4")
    path = FirstOrderPredictor(output=str(tmp_path / "pred"), weight_path=WEIGHTS, config=config, image_size=64,
                               relative=True, backend=backend).run(source, driving)
    theirs, _ = read_video(path)
    assert ours.shape == theirs.shape == (4, 64, 64, 3)
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 2
    assert sorted(os.listdir(tmp_path / "inf")) == ["drive.mp4"]


def test_cli_refuses_an_unknown_backend_in_one_line(tmp_path, capsys):
    from ppfom.cli import main

    code = main(["--source_image", str(tmp_path / "a.png"), "--driving_video", str(tmp_path / "b.mp4"),
                 "--backend", "tensorrt", "--weight_path", WEIGHTS])
    err = capsys.readouterr().err
    assert code == 1 and "--backend tensorrt" in err and err.count("\n") == 1


@needs_onnx
def test_export_on_first_use_prints_nothing(small, tmp_path, monkeypatch, capfd):
    """Paddle's tracer and paddle2onnx print to the C-level streams; the demo's output stays clean."""
    cfg, kp, gen = small
    monkeypatch.setenv("PPFOM_HOME", str(tmp_path))
    create_animator("onnxruntime", kp, gen, True, True, cfg=cfg, image_size=(64, 64))
    out, err = capfd.readouterr()
    assert out == "" and "Paddle2ONNX" not in err and "ONNX model saved" not in err


def test_bf16_is_refused_where_it_does_not_exist(small):
    cfg, kp, gen = small
    with pytest.raises(PpfomError, match="--precision bf16 needs --backend paddle-inference"):
        create_animator("dygraph", kp, gen, True, True, cfg=cfg, image_size=(64, 64), precision="bf16")
    if HAS_ONNX:
        with pytest.raises(PpfomError, match="onnxruntime runs float32 only"):
            create_animator("onnxruntime", kp, gen, True, True, cfg=cfg, image_size=(64, 64), precision="bf16")


def test_auto_falls_back_to_dygraph_when_a_first_export_fails(monkeypatch, param_manifest):
    """A tracer failure on first use must not fail the user's run; an explicit backend still raises."""
    import ppfom.animator as animator_module
    from ppfom import PpfomWarning
    from ppfom.animator import Animator, create_animator
    from ppfom.config import build_generator, build_kp_detector
    from small_model import small_config

    def broken(*args, **kwargs):
        raise SystemError("tracer crashed")

    monkeypatch.setattr(animator_module, "cached_export", broken)
    cfg = small_config(param_manifest)
    kp, gen = build_kp_detector(cfg), build_generator(cfg, inference=True)
    with pytest.warns(PpfomWarning, match="dygraph"):
        animator = create_animator("auto", kp, gen, True, True, cfg=cfg, image_size=(64, 64))
    assert isinstance(animator, Animator)
    with pytest.raises(SystemError):
        create_animator("onnxruntime", kp, gen, True, True, cfg=cfg, image_size=(64, 64))



def test_a_signal_during_a_first_export_stops_the_run_instead_of_falling_back(monkeypatch, param_manifest):
    """Paddle's tracer turns a KeyboardInterrupt raised inside it into a RuntimeError; the user still meant stop."""
    import signal

    import ppfom.animator as animator_module
    from ppfom.animator import create_animator
    from ppfom.cli import Terminated, _raise_terminated
    from ppfom.config import build_generator, build_kp_detector
    from small_model import small_config

    def tracer_hit_by_a_signal(*args, **kwargs):
        try:
            signal.raise_signal(signal.SIGTERM)
        except KeyboardInterrupt:
            raise RuntimeError("tracer failed") from None  # what Paddle's C++ layer makes of it
        raise RuntimeError("tracer failed")

    monkeypatch.setattr(animator_module, "cached_export", tracer_hit_by_a_signal)
    cfg = small_config(param_manifest)
    kp, gen = build_kp_detector(cfg), build_generator(cfg, inference=True)
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        with pytest.raises(Terminated):
            create_animator("auto", kp, gen, True, True, cfg=cfg, image_size=(64, 64))
    finally:
        signal.signal(signal.SIGTERM, previous)
