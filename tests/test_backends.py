"""Every backend animates like dygraph: exported graphs in Paddle Inference, onnxruntime and OpenVINO."""
from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import paddle
import pytest

from ppfom import PpfomError, PpfomWarning
from ppfom.animator import Animator, create_animator
from ppfom.config import build_generator, build_kp_detector
from ppfom.exported import cpu as cpu_module
from ppfom.exported import resolve_backend, resolve_precision
from ppfom.exported.backends.openvino import psnr
from ppfom.exported.cpu import BF16_PAYS_ON_AVX512, Cpu, native_bf16, openvino_is_faster
from ppfom.exported.graphs import MANIFEST

TOL = 1e-4
HAS_ONNX = all(importlib.util.find_spec(m) for m in ("onnxruntime", "paddle2onnx"))
needs_onnx = pytest.mark.skipif(not HAS_ONNX, reason="needs paddle2onnx and onnxruntime: pip install 'ppfom[onnx]'")
HAS_OPENVINO = HAS_ONNX and importlib.util.find_spec("openvino") is not None
needs_openvino = pytest.mark.skipif(not HAS_OPENVINO, reason="needs openvino: pip install openvino")
EXPORTED = ["paddle-inference", pytest.param("onnxruntime", marks=needs_onnx),
            pytest.param("openvino", marks=needs_openvino)]


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
                               batch_size=batch_size, precision="fp32")
    np.testing.assert_allclose(_animate(animator, clip), expected, atol=TOL, rtol=0)


@pytest.mark.parametrize("backend", ["dygraph", *EXPORTED])
def test_shared_driving_keypoints_give_the_same_frames(small, clip, backend):
    """With several faces, one animator's driving keypoints serve the others (the predictor's hot path)."""
    cfg, kp, gen = small
    source, driving = clip
    made = [create_animator(backend, kp, gen, True, True, cfg=cfg, image_size=(64, 64), batch_size=2,
                            precision="fp32") for _ in range(2)]
    for animator, src in zip(made, (source, source[:, :, ::-1].copy())):
        animator.set_source(src)
    shared = made[0].keypoints(driving)
    alone = create_animator(backend, kp, gen, True, True, cfg=cfg, image_size=(64, 64), batch_size=2,
                            precision="fp32")
    alone.set_source(source[:, :, ::-1].copy())
    np.testing.assert_allclose(made[1](driving, shared), alone(driving), atol=1e-6, rtol=0)


@needs_openvino
def test_openvino_bf16_stays_close(small, clip):
    """Forced bfloat16 (where the CPU has no bfloat16 units OpenVINO emulates it): close, not exact."""
    cfg, kp, gen = small
    expected = _animate(Animator(kp, gen, True, True), clip)
    animator = create_animator("openvino", kp, gen, True, True, cfg=cfg, image_size=(64, 64), precision="bf16")
    got = _animate(animator, clip)
    assert 0 < np.abs(got - expected).max() < 5e-2 and psnr(got, expected) > 35


@needs_openvino
@pytest.mark.parametrize("measured, kept", [(60.0, "bf16"), (30.0, "fp32")])
def test_checked_bf16_keeps_bfloat16_only_if_close_on_the_first_frames(small, clip, measured, kept, monkeypatch):
    """The decision, whatever this CPU's bfloat16 does: the measured distance is set (on an AMD EPYC with
    AVX512-BF16 OpenVINO's bf16 frames were identical to float32 on this first call, an infinite PSNR)."""
    import ppfom.exported.backends.openvino as ov

    monkeypatch.setattr(ov, "psnr", lambda a, b: measured)
    monkeypatch.setattr(cpu_module, "this_cpu", lambda: Cpu("GenuineIntel", frozenset({"amx_bf16"})))
    cfg, kp, gen = small
    expected = _animate(Animator(kp, gen, True, True), clip)
    animator = create_animator("openvino", kp, gen, True, True, cfg=cfg, image_size=(64, 64), precision="auto")
    session = animator.sessions["generator"]
    assert isinstance(session, ov.CheckedBf16Session)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = _animate(animator, clip)
    said = [str(w.message) for w in caught if issubclass(w.category, PpfomWarning)]
    assert session.precision == kept and session.measured == measured
    assert len(said) == (kept == "fp32") and all("running in float32" in m for m in said)
    assert np.abs(got[:1] - expected[:1]).max() < TOL  # the first call (graph batch 1) is float32 either way
    if kept == "fp32":
        np.testing.assert_allclose(got, expected, atol=TOL, rtol=0)


@pytest.mark.parametrize("cpu, bf16, openvino", [
    (Cpu("GenuineIntel", frozenset({"amx_bf16", "avx512_bf16"})), True, True),
    (Cpu("GenuineIntel", frozenset({"avx512f", "avx512_bf16"})), BF16_PAYS_ON_AVX512, True),
    (Cpu("AuthenticAMD", frozenset({"avx512f", "avx512_bf16"})), BF16_PAYS_ON_AVX512, BF16_PAYS_ON_AVX512),
    (Cpu(), False, False)])
def test_the_cpu_decides_bfloat16_and_the_runtime(cpu, bf16, openvino):
    assert native_bf16(cpu) is bf16 and openvino_is_faster(cpu) is openvino


@pytest.mark.parametrize("intel, amx", [(True, True), (True, False), (False, False)])
def test_auto_picks_the_runtime_measured_fastest_for_the_cpu(intel, amx, monkeypatch):
    cpu = Cpu("GenuineIntel" if intel else "AuthenticAMD", frozenset({"avx512_bf16"} | ({"amx_bf16"} if amx else set())))
    monkeypatch.setattr(cpu_module, "this_cpu", lambda: cpu)
    fallback = "onnxruntime" if HAS_ONNX else "paddle-inference"
    assert resolve_backend("auto", "cpu", "auto") == ("openvino" if intel and HAS_OPENVINO else fallback)
    assert resolve_backend("auto", "cpu", "bf16") == ("openvino" if HAS_OPENVINO else fallback)
    assert resolve_backend("auto", "gpu:0", "auto") == "dygraph"
    assert resolve_precision("openvino", "auto") == ("checked-bf16" if amx else "fp32")
    assert resolve_precision("onnxruntime", "auto") == "fp32"


@needs_onnx
def test_export_on_first_use_prints_one_progress_line(small, tmp_path, monkeypatch, capfd):
    """Paddle's tracer and paddle2onnx print to the C-level streams; the demo shows one line of its own."""
    cfg, kp, gen = small
    monkeypatch.setenv("PPFOM_HOME", str(tmp_path))
    create_animator("onnxruntime", kp, gen, True, True, cfg=cfg, image_size=(64, 64))
    out, err = capfd.readouterr()
    assert out == "" and "Paddle2ONNX" not in err and "ONNX model saved" not in err
    assert err.count("\n") == 1 and err.startswith("exporting the networks for onnxruntime")
    create_animator("onnxruntime", kp, gen, True, True, cfg=cfg, image_size=(64, 64))
    assert capfd.readouterr() == ("", "")  # cached: nothing to say


@pytest.mark.parametrize("backend, files", [("paddle-inference", {".json", ".pdiparams"}),
                                            pytest.param("onnxruntime", {".onnx"}, marks=needs_onnx),
                                            pytest.param("openvino", {".onnx"}, marks=needs_onnx)])
def test_first_use_exports_only_what_the_backend_reads(small, tmp_path, backend, files):
    from ppfom.exported.cache import cached_export

    cfg, kp, gen = small
    folder = Path(cached_export(kp, gen, cfg, (64, 64), 1, backend=backend, cache_dir=str(tmp_path)))
    suffixes = {p.suffix for p in folder.iterdir() if p.name != MANIFEST}
    assert suffixes == files or (backend == "paddle-inference" and suffixes == {".pdmodel", ".pdiparams"})
    fast = json.loads((folder / MANIFEST).read_text())["spec"]["fast_layers"]
    assert fast is (backend == "onnxruntime")  # the Winograd rewrite only where it is faster


def test_bf16_is_refused_where_it_does_not_exist(small):
    cfg, kp, gen = small
    with pytest.raises(PpfomError, match="--precision bf16 needs --backend openvino"):
        create_animator("dygraph", kp, gen, True, True, cfg=cfg, image_size=(64, 64), precision="bf16")
    for backend in ("onnxruntime", "paddle-inference"):
        with pytest.raises(PpfomError, match="--precision bf16 needs --backend openvino"):
            create_animator(backend, kp, gen, True, True, cfg=cfg, image_size=(64, 64), precision="bf16")


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


def test_adapt_scale_survives_keypoints_without_area():
    """A blank photo can give collinear keypoints; the hull ratio is then 1, not a qhull crash."""
    from ppfom.motion_transfer import movement_scale

    line = {"value": paddle.to_tensor(np.stack([np.linspace(-1, 1, 10)] * 2, axis=1)[None].astype("float32"))}
    spread = {"value": paddle.to_tensor(np.random.default_rng(0).uniform(-1, 1, (1, 10, 2)).astype("float32"))}
    assert movement_scale(line, spread) == 1.0 and movement_scale(spread, line) == 1.0
    assert movement_scale(spread, spread) == pytest.approx(1.0)


@pytest.mark.parametrize("cause, installed, expected", [
    (KeyboardInterrupt(), True, KeyboardInterrupt),
    (None, False, "needs OpenVINO: pip install openvino"),
    (None, True, "installed but does not import"),
])
def test_openvino_import_failures_say_what_happened(cause, installed, expected, monkeypatch):
    """Ctrl-C while OpenVINO's extension loads surfaced as an ImportError, and the demo said
    OpenVINO was missing (found by the interrupt test); a missing and a broken install differ too."""
    import builtins

    from ppfom.exported.backends import openvino as backend

    real_import = builtins.__import__

    def failing_import(name, *args, **kwargs):
        if name == "openvino":
            raise ImportError("initialization failed") from cause
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", failing_import)
    monkeypatch.setattr(backend.importlib.util, "find_spec", lambda name: object() if installed else None)
    if expected is KeyboardInterrupt:
        with pytest.raises(KeyboardInterrupt):
            backend._core.__wrapped__()
    else:
        with pytest.raises(PpfomError, match=expected):
            backend._core.__wrapped__()


@pytest.fixture(scope="module")
def pixel_skip_model():
    """A generator that blends in the warped source (``pixel_skip``), its source carried with the features,
    and reads the warp's stretch (``stretch_input``)."""
    gen_cfg = {"block_expansion": 8, "max_features": 16, "num_down_blocks": 0, "num_bottleneck_blocks": 2,
               "estimate_occlusion_map": True, "inference_border": 0, "pixel_skip": True, "stretch_input": True,
               "dense_motion_params": {"block_expansion": 8, "max_features": 16, "num_blocks": 2, "scale_factor": 1}}
    kp_cfg = {"temperature": 0.1, "block_expansion": 8, "max_features": 16, "scale_factor": 0.5, "num_blocks": 2}
    cfg = {"model": {"common_params": {"num_kp": 10, "num_channels": 3, "estimate_jacobian": True},
                     "generator": {"kp_detector_cfg": kp_cfg, "generator_cfg": gen_cfg}}}
    paddle.seed(4)
    kp, gen = build_kp_detector(cfg), build_generator(cfg, inference=True)
    gen.skip_mask.weight.set_value(paddle.randn(gen.skip_mask.weight.shape) * 0.5)  # a mask that varies
    gen.stretch_in.weight.set_value(paddle.randn(gen.stretch_in.weight.shape))  # a stretch that counts
    kp.eval()
    gen.eval()
    return cfg, kp, gen


@pytest.mark.parametrize("backend", EXPORTED)
def test_pixel_skip_model_matches_dygraph(pixel_skip_model, clip, backend):
    cfg, kp, gen = pixel_skip_model
    expected = _animate(Animator(kp, gen, True, True), clip)
    animator = create_animator(backend, kp, gen, True, True, cfg=cfg, image_size=(64, 64), precision="fp32")
    np.testing.assert_allclose(_animate(animator, clip), expected, atol=TOL, rtol=0)
