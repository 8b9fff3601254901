"""State-dict layout of every released architecture, checked against PaddleGAN's manifest."""
from __future__ import annotations

import paddle
import pytest

from ppfom import KPDetector, MultiScaleDiscriminator, OcclusionAwareGenerator


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
