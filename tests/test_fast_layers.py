"""The export-time layer rewrites compute what the plain layers compute."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import paddle
import pytest
from paddle import nn

from ppfom.animator import Animator, create_animator
from ppfom.config import build_generator, build_kp_detector, load_config
from ppfom.exported.choose import onnx_available
from ppfom.modules.blocks import ResBlock2d, UpBlock2d
from ppfom.modules.fast_decoder import fast_decoder
from ppfom.modules.geometry import upsample_nearest_2x
from ppfom.modules.upsample_conv import UpsampleConv2D
from ppfom.modules.winograd import WinogradConv2D, transforms

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def _conv(cin: int, cout: int, seed: int, bias: bool = True, **kwargs) -> nn.Conv2D:
    paddle.seed(seed)
    return nn.Conv2D(cin, cout, kwargs.pop("kernel_size", 3), padding=kwargs.pop("padding", 1),
                     bias_attr=None if bias else False, **kwargs)


def test_winograd_transforms_compute_a_1d_convolution_exactly():
    at, g, bt = transforms()
    rng = np.random.default_rng(0)
    for _ in range(5):
        kernel, signal = rng.standard_normal(3), rng.standard_normal(6)
        direct = np.array([signal[i:i + 3] @ kernel for i in range(4)])
        np.testing.assert_allclose(at @ ((g @ kernel) * (bt @ signal)), direct, atol=1e-12)


@pytest.mark.parametrize("channels, size, bias", [((8, 5), (12, 16), True), ((3, 16), (8, 8), False)])
def test_winograd_layer_matches_its_convolution(channels, size, bias):
    conv = _conv(*channels, seed=1, bias=bias)
    x = paddle.to_tensor(np.random.default_rng(1).standard_normal((2, channels[0], *size)).astype(np.float32))
    want = conv(x).numpy()
    got = WinogradConv2D(conv)(x).numpy()
    assert np.abs(got - want).max() < 1e-5 * max(1.0, np.abs(want).max())


@pytest.mark.parametrize("channels, size, bias", [((8, 5), (6, 10), True), ((4, 4), (1, 3), False)])
def test_upsample_conv_is_upsampling_then_the_convolution(channels, size, bias):
    conv = _conv(*channels, seed=2, bias=bias)
    x = paddle.to_tensor(np.random.default_rng(2).standard_normal((2, channels[0], *size)).astype(np.float32))
    want = conv(upsample_nearest_2x(x)).numpy()
    got = UpsampleConv2D(conv)(x).numpy()
    assert got.shape == want.shape
    assert np.abs(got - want).max() < 1e-5


@pytest.mark.parametrize("conv", [
    lambda: _conv(4, 4, 0, kernel_size=3, stride=2), lambda: _conv(4, 4, 0, kernel_size=5, padding=2),
    lambda: _conv(4, 4, 0, groups=4), lambda: _conv(4, 4, 0, padding=0)])
def test_rewrites_refuse_convolutions_they_do_not_compute(conv):
    for layer in (WinogradConv2D, UpsampleConv2D):
        with pytest.raises(ValueError, match="3x3 convolution"):
            layer(conv())


def test_winograd_layer_refuses_sides_that_are_not_multiples_of_four():
    with pytest.raises(ValueError, match="divisible by 4"):
        WinogradConv2D(_conv(2, 2, 0))(paddle.zeros([1, 2, 6, 8]))


def _released(name: str, with_config: bool = False):
    cfg = load_config(CONFIGS / name)
    paddle.seed(0)
    kp, gen = build_kp_detector(cfg), build_generator(cfg, inference=True)
    kp.eval()
    gen.eval()
    return (cfg, kp, gen) if with_config else (kp, gen)


def test_fast_decoder_rewrites_vox256_and_keeps_its_output():
    kp, gen = _released("firstorder_vox_256.yaml")
    fast = fast_decoder(gen, (16, 16))
    assert all(isinstance(b.conv1, WinogradConv2D) and isinstance(b.conv2, WinogradConv2D)
               for b in fast.bottleneck.children())
    assert all(isinstance(b.conv, UpsampleConv2D) for b in fast.sublayers() if isinstance(b, UpBlock2d))
    assert isinstance(gen.bottleneck.r0.conv1, nn.Conv2D)  # the original is untouched
    features = paddle.to_tensor(np.random.default_rng(3).random((1, 256, 16, 16), dtype=np.float32))
    with paddle.no_grad():
        want, got = gen.decode(features).numpy(), fast.decode(features).numpy()
        image = paddle.to_tensor(np.random.default_rng(4).random((1, 3, 128, 128), dtype=np.float32))
        kp_want, kp_got = kp(image), fast_decoder(kp)(image)
    assert np.abs(got - want).max() < 1e-4
    for key in ("value", "jacobian"):
        assert np.abs(kp_got[key].numpy() - kp_want[key].numpy()).max() < 1e-4


def test_fast_decoder_keeps_plain_layers_where_it_cannot_apply():
    _, gen = _released("firstorder_vox_256.yaml")
    odd = fast_decoder(gen, (18, 18))
    assert all(isinstance(b.conv1, nn.Conv2D) for b in odd.bottleneck.children() if isinstance(b, ResBlock2d))
    _, mobile = _released("firstorder_vox_mobile_256.yaml")
    rewritten = fast_decoder(mobile, (64, 64))
    assert not any(isinstance(layer, (WinogradConv2D, UpsampleConv2D)) for layer in rewritten.sublayers())


@pytest.mark.slow
@pytest.mark.skipif(not onnx_available(), reason="needs paddle2onnx and onnxruntime: pip install 'ppfom[onnx]'")
def test_vox256_onnx_graphs_with_the_rewrites_match_dygraph(tmp_path, monkeypatch):
    monkeypatch.setenv("PPFOM_HOME", str(tmp_path))
    cfg, kp, gen = _released("firstorder_vox_256.yaml", with_config=True)
    rng = np.random.default_rng(5)
    source = rng.random((1, 3, 256, 256), dtype=np.float32)
    driving = np.clip(source + 0.05 * rng.standard_normal((2, 3, 256, 256)).astype(np.float32), 0, 1)
    frames = []
    for animator in (Animator(kp, gen, True, True),
                     create_animator("onnxruntime", kp, gen, True, True, cfg=cfg, image_size=(256, 256))):
        animator.set_source(source)
        frames.append(np.concatenate([animator(driving[i:i + 1]) for i in range(2)]))
    assert np.abs(frames[1] - frames[0]).max() < 1e-4


@pytest.mark.skipif(not onnx_available(), reason="needs paddle2onnx and onnxruntime: pip install 'ppfom[onnx]'")
def test_onnx_export_uses_the_rewrites_and_the_paddle_graphs_do_not(tmp_path, param_manifest):
    import onnx

    from ppfom.exported.graphs import make_spec, read_manifest, save_static
    from small_model import small_config

    cfg = small_config(param_manifest)
    paddle.seed(0)
    kp, gen = build_kp_detector(cfg), build_generator(cfg, inference=True)
    spec = make_spec(kp, gen, (64, 64))
    folder = save_static(kp, gen, spec, str(tmp_path / "out"), onnx=True)
    assert read_manifest(folder)["spec"].fast_layers
    ops = {node.op_type for node in onnx.load(str(Path(folder) / "generator.onnx")).graph.node}
    assert {"ConvTranspose", "MatMul"} <= ops  # the up blocks and the Winograd bottleneck
    paddle_ops = set(re.findall(r'"1\.([a-z0-9_]+)"', (Path(folder) / "generator.json").read_text()))
    assert "conv2d" in paddle_ops and not {"conv2d_transpose", "transpose", "pixel_shuffle"} & paddle_ops
