"""S3FD and GPEN in Paddle: PaddleGAN's state-dict layouts, shapes, decoding, loaders.

PaddleGAN's published face weights cannot be downloaded in CI, so the loaders
are exercised with weights the tests make, and GPEN runs in a tiny
configuration of the same code (the full GPEN-512 is only built and compared
with PaddleGAN's layout).
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import paddle
import pytest

from ppfom import PpfomError
from ppfom.faces import blazeface, create_detector
from ppfom.faces.blazeface import BlazeFace
from ppfom.faces.enhancer import FaceEnhancer, blend_mask
from ppfom.faces.gpen import GPEN
from ppfom.faces.s3fd import S3FD, decode

MANIFEST = json.loads((Path(__file__).parent / "data" / "ppgan_face_manifest.json").read_text())
TINY_GPEN = {"size": 32, "style_dim": 16, "n_mlp": 2, "channel_multiplier": 1, "max_channels": 16}


def _layout(layer: paddle.nn.Layer) -> list[tuple[str, list[int]]]:
    return [(k, list(v.shape)) for k, v in layer.state_dict().items()]


def _reference(name: str) -> list[tuple[str, list[int]]]:
    return [(k, list(shape)) for k, shape, _ in MANIFEST[name]]


def _random_state(layer: paddle.nn.Layer, seed: int = 0, std: float = 0.02) -> dict:
    rng = np.random.default_rng(seed)
    return {k: rng.normal(0, std, v.shape).astype("float32") for k, v in layer.state_dict().items()}


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """An empty download cache and a server that refuses connections."""
    monkeypatch.setenv("PPFOM_HOME", str(tmp_path / "cache"))
    from ppfom.faces import enhancer, s3fd
    monkeypatch.setattr(s3fd, "S3FD_URL", "http://127.0.0.1:9/s3fd_paddle.pdparams")
    monkeypatch.setattr(blazeface, "BLAZEFACE_URL", "http://127.0.0.1:9/blazeface.pdparams")
    monkeypatch.setattr(enhancer, "GPEN_URL", "http://127.0.0.1:9/GPEN-512.pdparams")


def test_s3fd_state_dict_is_paddlegans():
    assert _layout(S3FD()) == _reference("s3fd")


def test_s3fd_heads_have_strides_4_to_128():
    with paddle.no_grad():
        heads = S3FD()(paddle.rand([1, 3, 64, 96]))
    assert len(heads) == 6
    for level, (score, loc) in enumerate(heads[:3]):
        stride = 2 ** (level + 2)
        assert score.shape == [1, 64 // stride, 96 // stride]
        assert loc.shape == [1, 4, 64 // stride, 96 // stride]
    assert all(0 <= float(s.min()) and float(s.max()) <= 1 for s, _ in heads)


def test_s3fd_decoding_places_boxes_on_their_anchors():
    heads = [(np.zeros((8, 8)), np.zeros((4, 8, 8))) for _ in range(6)]
    heads[1][0][2, 3] = 0.9                       # stride 8: anchor centre (28, 20), size 32
    heads[1][1][:, 2, 3] = [1.0, -0.5, 0.0, np.log(2) / 0.2]
    (box,) = decode(heads)
    cx, cy = 28 + 1.0 * 0.1 * 32, 20 - 0.5 * 0.1 * 32
    np.testing.assert_allclose(box, [cx - 16, cy - 32, cx + 16, cy + 32, 0.9], rtol=1e-6)
    assert decode([(np.zeros((2, 2)), np.zeros((4, 2, 2)))] * 6).shape == (0, 5)


def test_s3fd_loader_round_trip(tmp_path):
    path = str(tmp_path / "s3fd.pdparams")
    paddle.save(_random_state(S3FD()), path)
    detector = create_detector("sfd", path)
    saved = paddle.load(path)
    np.testing.assert_array_equal(detector.net.state_dict()["fc7.weight"].numpy(), saved["fc7.weight"])
    faces = detector.detect(np.random.default_rng(0).integers(0, 256, (48, 40, 3), dtype=np.uint8))
    assert isinstance(faces, list)


def test_wrong_detector_weights_are_one_line(tmp_path):
    path = str(tmp_path / "gpen.pdparams")
    paddle.save(_random_state(GPEN(**TINY_GPEN)), path)
    with pytest.raises(PpfomError, match="--face_detector_weights") as err:
        create_detector("sfd", path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name, file", [("sfd", "s3fd_paddle.pdparams"), ("blazeface", "blazeface.pdparams")])
def test_detector_offline_is_one_line_naming_the_fix(offline, name, file):
    with pytest.raises(PpfomError, match=file) as err:
        create_detector(name)
    assert "--face_detector_weights" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("name", ["dlib", "mtcnn"])
def test_unknown_detectors_are_refused(name):
    with pytest.raises(PpfomError, match="--face_detector"):
        create_detector(name)


def test_blazeface_state_dict_round_trip_and_outputs(tmp_path):
    net = BlazeFace()
    assert len(net.state_dict()) == 74 and list(net.state_dict()["backbone1.2.convs.0.weight"].shape) == [24, 1, 3, 3]
    path = str(tmp_path / "blazeface.pdparams")
    paddle.save(_random_state(net, std=0.1), path)
    detector = create_detector("blazeface", path)
    with paddle.no_grad():
        boxes, logits = detector.net(paddle.zeros([2, 3, 128, 128]))
    assert boxes.shape == [2, 896, 16] and logits.shape == [2, 896]
    assert isinstance(detector.detect(np.zeros((90, 160, 3), np.uint8)), list)


def test_blazeface_anchors_and_decoding():
    centres = blazeface.anchors()
    assert centres.shape == (896, 2)
    np.testing.assert_allclose(centres[:2], [[1 / 32, 1 / 32]] * 2)  # two per cell of the 16x16 map
    np.testing.assert_allclose(centres[512:518], [[1 / 16, 1 / 16]] * 6)  # then six per cell of 8x8
    raw = np.zeros((896, 16), np.float32)
    logits = np.full(896, -10.0, np.float32)
    logits[512] = 3.0
    raw[512, :4] = [12.8, 0, 64, 32]  # x shift 0.1, size 0.5 x 0.25 of the input
    boxes, scores = blazeface.decode(raw, logits, 0.5)
    np.testing.assert_allclose(boxes, [[1 / 16 + 0.1 - 0.25, 1 / 16 - 0.125, 1 / 16 + 0.1 + 0.25, 1 / 16 + 0.125]],
                               atol=1e-6)
    assert scores[0] == pytest.approx(1 / (1 + np.exp(-3.0)))


def test_weighted_nms_averages_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], float)
    merged = blazeface.weighted_nms(boxes, np.array([0.9, 0.3, 0.8]), 0.3)
    assert len(merged) == 2
    np.testing.assert_allclose(merged[0][0], [0.25, 0, 10.25, 10])
    assert merged[0][1] == pytest.approx(0.6)


def test_gpen512_state_dict_is_paddlegans():
    assert _layout(GPEN(**MANIFEST["configs"]["gpen512"])) == _reference("gpen512")


def test_tiny_gpen_restores_at_its_size():
    net = GPEN(**TINY_GPEN)
    net.eval()
    with paddle.no_grad():
        out = net(paddle.rand([2, 3, 32, 32]) * 2 - 1)
    assert out.shape == [2, 3, 32, 32]
    assert np.isfinite(out.numpy()).all()


def test_blend_mask_keeps_the_crop_border():
    mask = blend_mask(512)
    assert mask.shape == (512, 512, 1)
    assert mask[256, 256, 0] > 0.99 and mask[0, 0, 0] < 0.02 and mask[256, 0, 0] < 0.15
    np.testing.assert_allclose(mask[:, :, 0], mask[:, ::-1, 0], atol=1e-6)


def test_enhancer_loads_weights_and_blends_in_batches(tmp_path):
    path = str(tmp_path / "gpen.pdparams")
    paddle.save(_random_state(GPEN(**TINY_GPEN), std=0.2), path)
    enhancer = FaceEnhancer(path, batch_size=2, config=TINY_GPEN)
    faces = np.random.default_rng(1).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    out = enhancer(faces)
    assert out.shape == (3, 32, 32, 3) and out.dtype == np.uint8
    one_by_one = np.concatenate([FaceEnhancer(path, batch_size=1, config=TINY_GPEN)(f[None]) for f in faces])
    assert np.abs(out.astype(int) - one_by_one).max() <= 1  # batching does not change the result
    small = np.stack([cv2.resize(f, (32, 32), interpolation=cv2.INTER_AREA) for f in faces])
    assert np.abs(out[:, 0, 0].astype(int) - small[:, 0, 0]).max() <= 3  # the crop's border stays the animation's
    assert np.abs(out[:, 16, 16].astype(int) - small[:, 16, 16]).max() > 3  # its middle is GPEN's


def test_enhancer_offline_is_one_line_naming_the_fix(offline):
    with pytest.raises(PpfomError, match="GPEN-512.pdparams") as err:
        FaceEnhancer()
    assert "--face_enhancement_weights" in str(err.value) and "\n" not in str(err.value)
