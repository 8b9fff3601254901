"""State-dict layout of every released architecture, checked against PaddleGAN's manifest."""
from __future__ import annotations

import numpy as np
import paddle
import pytest

from ppfom import KPDetector, MultiScaleDiscriminator, OcclusionAwareGenerator, PpfomError
from ppfom.modules.geometry import make_coordinate_grid


def _layout(layer: paddle.nn.Layer) -> list:
    return [[name, list(t.shape), str(t.dtype).replace("paddle.", "")] for name, t in layer.state_dict().items()]


def _build(cfg: dict, which: str) -> paddle.nn.Layer:
    common = cfg["common"]
    if which == "kp_detector":
        return KPDetector(**cfg["kp"], **common)
    if which == "generator":
        return OcclusionAwareGenerator(**cfg["gen"], **common, inference=True)
    return MultiScaleDiscriminator(**cfg["disc"], **common)


ARCHS = [("vox256", "kp_detector"), ("vox256", "generator"), ("vox256", "discriminator"),
         ("vox_mobile256", "kp_detector"), ("vox_mobile256", "generator")]


@pytest.mark.parametrize("arch,which", ARCHS)
def test_state_dict_matches_paddlegan_manifest(param_manifest, arch, which):
    expected = param_manifest[arch][which]
    got = _layout(_build(param_manifest["configs"][arch], which))
    assert [e[0] for e in got] == [e[0] for e in expected], "names or order differ"
    assert got == expected


def test_manifest_covers_every_released_architecture(param_manifest):
    listed = {(a, w) for a in ("vox256", "vox_mobile256") for w in param_manifest[a]}
    assert listed == set(ARCHS)


def test_jacobian_starts_at_identity(param_manifest):
    cfg = param_manifest["configs"]["small"]
    kp = KPDetector(**cfg["kp"], **cfg["common"])
    kp.eval()
    out = kp(paddle.rand([2, 3, 64, 64]))
    eye = paddle.eye(2).reshape([1, 1, 2, 2]).expand([2, 10, 2, 2])
    assert float((out["jacobian"] - eye).abs().max()) < 1e-6
    assert list(out["value"].shape) == [2, 10, 2]
    assert float(out["value"].abs().max()) <= 1.0


@pytest.mark.parametrize("border, same_as_training", [(5, False), (0, True)])
def test_inference_border_is_configurable(param_manifest, border, same_as_training):
    """PaddleGAN's 5-pixel border fix by default; 0 (small models) infers exactly as trained."""
    c = param_manifest["configs"]["small"]
    paddle.seed(0)
    trained = OcclusionAwareGenerator(**c["gen"], **c["common"], inference=False)
    infer = OcclusionAwareGenerator(**c["gen"], **c["common"], inference=True, inference_border=border)
    infer.set_state_dict(trained.state_dict())
    trained.eval()
    infer.eval()
    x = paddle.rand([1, 3, 64, 64])
    kp = {"value": paddle.rand([1, c["common"]["num_kp"], 2]) * 1.6 - 0.8,
          "jacobian": paddle.eye(2).reshape([1, 1, 2, 2]).expand([1, c["common"]["num_kp"], 2, 2])}
    kp_source = {k: v * 0.9 for k, v in kp.items()}
    with paddle.no_grad():
        a = trained(x, kp_driving=kp, kp_source=kp_source)["prediction"]
        b = infer(x, kp_driving=kp, kp_source=kp_source)["prediction"]
    assert bool(paddle.allclose(a, b, atol=1e-6)) == same_as_training


SKIP_GEN = {"block_expansion": 8, "max_features": 16, "num_down_blocks": 0, "num_bottleneck_blocks": 1,
            "estimate_occlusion_map": True, "inference_border": 0,
            "dense_motion_params": {"block_expansion": 8, "max_features": 16, "num_blocks": 2, "scale_factor": 1}}
SKIP_COMMON = {"num_kp": 4, "num_channels": 3, "estimate_jacobian": True}


def _skip_pair() -> tuple[OcclusionAwareGenerator, OcclusionAwareGenerator]:
    """A generator with ``pixel_skip`` and the same weights without it."""
    paddle.seed(1)
    skip = OcclusionAwareGenerator(**SKIP_GEN, **SKIP_COMMON, pixel_skip=True)
    plain = OcclusionAwareGenerator(**SKIP_GEN, **SKIP_COMMON)
    plain.set_state_dict({k: v for k, v in skip.state_dict().items() if not k.startswith("skip_mask")})
    skip.eval()
    plain.eval()
    return skip, plain


def _kp(num_kp: int, seed: int) -> dict:
    paddle.seed(seed)
    return {"value": paddle.rand([1, num_kp, 2]) * 1.2 - 0.6,
            "jacobian": paddle.eye(2).reshape([1, 1, 2, 2]).expand([1, num_kp, 2, 2])}


def test_pixel_skip_starts_halfway_between_the_warped_source_and_the_decoded_frame():
    skip, plain = _skip_pair()
    source = paddle.rand([1, 3, 32, 32])
    kp_source, kp_driving = _kp(4, 2), _kp(4, 3)
    with paddle.no_grad():
        decoded = plain(source, kp_driving, kp_source)
        blended = skip(source, kp_driving, kp_source)
    expected = (decoded["prediction"] + decoded["deformed"]) / 2
    assert float((blended["prediction"] - expected).abs().max()) < 1e-5
    assert float((decoded["prediction"] - decoded["deformed"]).abs().mean()) > 0.01  # the two differ


@pytest.mark.parametrize("bias, follows", [(30.0, "warped source"), (-30.0, "decoder")])
def test_pixel_skip_mask_chooses_between_the_warped_source_and_the_decoder(bias, follows):
    skip, plain = _skip_pair()
    skip.skip_mask.bias.set_value(paddle.full([1], bias))
    source = paddle.rand([1, 3, 32, 32])
    kp = _kp(4, 2)
    with paddle.no_grad():
        got = skip(source, kp, kp)["prediction"]  # no motion: the warped source is the source
        decoded = plain(source, kp, kp)["prediction"]
    expected = source if follows == "warped source" else decoded
    assert float((got - expected).abs().max()) < 1e-4


def test_stretch_input_starts_as_the_model_it_extends_then_changes_it():
    paddle.seed(1)
    stretched = OcclusionAwareGenerator(**SKIP_GEN, **SKIP_COMMON, pixel_skip=True, stretch_input=True)
    plain = OcclusionAwareGenerator(**SKIP_GEN, **SKIP_COMMON, pixel_skip=True)
    plain.set_state_dict({k: v for k, v in stretched.state_dict().items() if not k.startswith("stretch_in")})
    stretched.eval()
    plain.eval()
    source = paddle.rand([1, 3, 32, 32])
    kp_source, kp_driving = _kp(4, 2), _kp(4, 3)
    with paddle.no_grad():
        before = plain(source, kp_driving, kp_source)["prediction"]
        same = stretched(source, kp_driving, kp_source)["prediction"]
        stretched.stretch_in.weight.set_value(paddle.randn(stretched.stretch_in.weight.shape))
        changed = stretched(source, kp_driving, kp_source)["prediction"]
    assert float((same - before).abs().max()) < 1e-6
    assert float((changed - before).abs().mean()) > 1e-3


def test_stretch_reads_a_flow_that_pulls_the_source_to_twice_its_height():
    paddle.seed(1)
    gen = OcclusionAwareGenerator(**SKIP_GEN, **SKIP_COMMON, pixel_skip=True, stretch_input=True)
    h, w = 17, 25
    identity = make_coordinate_grid((h, w)).reshape([1, h, w, 2])
    moved = gen.stretch(identity + 0.3).numpy()[0]  # a shift: no stretch
    pulled = gen.stretch(paddle.concat([identity[..., :1], identity[..., 1:] / 2], axis=-1)).numpy()[0]
    inside = (slice(None), slice(1, -1), slice(1, -1))  # the border sees the zero padding
    assert abs(moved[inside]).max() < 1e-5
    np.testing.assert_allclose(pulled[inside][:3], 0, atol=1e-5)
    np.testing.assert_allclose(pulled[inside][3], -0.5, atol=1e-5)  # sampled y moves half a pixel per pixel


def test_pixel_skip_needs_features_at_full_resolution():
    with pytest.raises(PpfomError, match="pixel_skip needs num_down_blocks: 0"):
        OcclusionAwareGenerator(**{**SKIP_GEN, "num_down_blocks": 1}, **SKIP_COMMON, pixel_skip=True)
