"""Faces through the whole pipeline on real photos, with the small reference model.

Frames are captured where the predictor hands them to the video writer, so
"pixels outside the masks are untouched" is checked exactly, before H.264.
"""
from __future__ import annotations

import cv2
import imageio.v2 as imageio
import numpy as np
import pytest
import yaml
from faces_media import astronaut, astronauts

from media import read_video, write_video
from ppfom import FirstOrderPredictor, PpfomError, frames
from ppfom import predictor as module
from ppfom.animator import Animator
from ppfom.cli import main
from ppfom.faces.best_frame import find_best_frames, normalize_landmarks
from ppfom.faces.crop import cut
from ppfom.faces.enhancer import FaceEnhancer
from ppfom.faces.gpen import GPEN
from ppfom.predictor import PpfomWarning
from ppfom.video import VideoReader
from small_model import SMALL_WEIGHTS, small_config


def _predictor(param_manifest, out_dir, image_size: int = 64, **kw) -> FirstOrderPredictor:
    kw.setdefault("relative", True)
    kw.setdefault("adapt_scale", True)
    return FirstOrderPredictor(output=str(out_dir), weight_path=SMALL_WEIGHTS, config=small_config(param_manifest),
                               image_size=image_size, backend="dygraph", **kw)


def _png(path, image) -> str:
    imageio.imwrite(path, image)
    return str(path)


def _driving(tmp_path, n: int = 6) -> str:
    """A face that turns a little each frame: the astronaut, rotated about her face."""
    face = astronaut()[40:296, 100:356]
    shots = [cv2.warpAffine(face, cv2.getRotationMatrix2D((128, 100), 3.0 * i, 1.0), (256, 256),
                            borderMode=cv2.BORDER_REPLICATE) for i in range(n)]
    return write_video(tmp_path / "driving.mp4", np.stack(shots), fps=10.0)


@pytest.fixture
def captured(monkeypatch):
    """Every frame the predictor writes, in order."""
    written: list[np.ndarray] = []
    write = module.VideoWriter.write

    def capture(self, batch):
        written.extend(np.asarray(batch))
        return write(self, batch)

    monkeypatch.setattr(module.VideoWriter, "write", capture)
    return written


def _touched(pred, image) -> np.ndarray:
    """Where the pasted crops may change the photo."""
    inside = np.zeros(image.shape[:2], bool)
    for crop, mask in zip(pred._crops, module.Paster(image, pred._crops, pred.ratio).masks):
        x1, y1, x2, y2 = crop.box
        inside[y1:y2, x1:x2] |= mask[:, :, 0] > 0
    return inside


@pytest.fixture
def remember_crops(monkeypatch):
    find = FirstOrderPredictor.find_crops

    def remembering(self, source):
        self._crops = find(self, source)
        return self._crops

    monkeypatch.setattr(FirstOrderPredictor, "find_crops", remembering)


@pytest.mark.parametrize("multi_person, faces", [(True, 3), (False, 1)])
def test_every_face_or_the_largest_is_animated_and_the_rest_untouched(
        tmp_path, param_manifest, captured, remember_crops, monkeypatch, multi_person, faces):
    image = cv2.resize(astronauts(3), (768, 256), interpolation=cv2.INTER_AREA)
    source = _png(tmp_path / "three.png", image)
    pred = _predictor(param_manifest, tmp_path / "out", multi_person=multi_person, batch_size=4, ratio=0.4)
    sources = []
    set_source = Animator.set_source
    monkeypatch.setattr(Animator, "set_source", lambda self, s: (sources.append(s), set_source(self, s))[1])
    keypoints, found = Animator.keypoints, []
    monkeypatch.setattr(Animator, "keypoints", lambda self, d: (found.append(len(d)), keypoints(self, d))[1])
    path = pred.run(source, _driving(tmp_path))
    assert len(pred._crops) == faces and len(sources) == faces  # one animator per face, source work once
    assert found == [4, 2]  # the driving keypoints once per batch, shared by every face
    assert read_video(path)[0].shape == (6, 256, 768, 3)
    outside = ~_touched(pred, image)
    for frame in captured:
        assert frame.shape == image.shape
        assert np.array_equal(frame[outside], image[outside])
        for crop in pred._crops:
            x1, y1, x2, y2 = crop.box
            assert not np.array_equal(frame[y1:y2, x1:x2], image[y1:y2, x1:x2])


def test_no_face_warns_and_animates_the_centre_square(tmp_path, param_manifest, captured):
    image = np.random.default_rng(0).integers(0, 256, (80, 140, 3), dtype=np.uint8)
    pred = _predictor(param_manifest, tmp_path / "out")
    with pytest.warns(PpfomWarning, match="no face"):
        pred.run(_png(tmp_path / "noise.png", image), _driving(tmp_path, 3))
    assert len(captured) == 3
    for frame in captured:
        assert frame.shape == image.shape
        assert np.array_equal(frame[:, :30], image[:, :30]) and np.array_equal(frame[:, 110:], image[:, 110:])
        assert not np.array_equal(frame[:, 30:110], image[:, 30:110])


@pytest.mark.slow
def test_image_size_512_end_to_end(tmp_path, param_manifest, captured, remember_crops, monkeypatch):
    """The released 512 model's path (crops at 512), run with the small fully convolutional model."""
    sizes = []
    animate = FirstOrderPredictor.animate_batch

    def recorded(self, animator, batch, *prepared):
        out = animate(self, animator, batch, *prepared)
        sizes.append(out.shape)
        return out

    monkeypatch.setattr(FirstOrderPredictor, "animate_batch", recorded)
    pred = _predictor(param_manifest, tmp_path / "out", image_size=512)
    pred.run(_png(tmp_path / "a.png", astronaut()), _driving(tmp_path, 2))
    assert sizes == [(1, 512, 512, 3)] * 2
    assert [f.shape for f in captured] == [(512, 512, 3)] * 2


def test_released_512_model_is_chosen_by_image_size(tmp_path, monkeypatch):
    from ppfom.config import RELEASED, released_model
    asked = []
    monkeypatch.setattr(module, "download", lambda url, **kw: asked.append(url) or (_ for _ in ()).throw(
        PpfomError("offline")))
    with pytest.raises(PpfomError):
        FirstOrderPredictor(output=str(tmp_path), image_size=512)
    assert asked == ["https://paddlegan.bj.bcebos.com/applications/first_order_model/vox-cpk-512.pdparams"]
    cfg = yaml.safe_load((module.config_dir() / RELEASED[released_model(512)]).read_text())
    assert cfg["dataset"]["train"]["frame_shape"] == [512, 512, 3]  # same networks as 256, other weights


def _paddlegan_best_frame_recipe(pred, face, driving, best):
    """PaddleGAN: animate driving[best::-1] and driving[best:], join backward[::-1] + forward[1:]."""
    def animate(frames_):
        animator = Animator(pred.kp_detector, pred.generator, pred.relative, pred.adapt_scale)
        animator.set_source(frames.to_nchw(face))
        return np.concatenate([pred.animate_batch(animator, f[None]) for f in frames_])
    backward = animate(driving[:best + 1][::-1])
    forward = animate(driving[best:])
    return np.concatenate([backward[::-1], forward[1:]])


def test_best_frame_equals_paddlegans_backward_and_forward(tmp_path, param_manifest, monkeypatch):
    video = _driving(tmp_path, 6)
    with VideoReader(video) as reader:
        driving = np.stack(list(reader))
    pred = _predictor(param_manifest, tmp_path / "out", best_frame=3, batch_size=4)
    crops = []
    monkeypatch.setattr(pred, "enhance", lambda faces: (crops.append(faces), faces)[1])
    source = astronaut()
    pred.run(_png(tmp_path / "a.png", source), video)
    ours = np.concatenate(crops)
    face = cut(source, pred.find_crops(source)[0], 64)
    expected = _paddlegan_best_frame_recipe(pred, face, driving, 3)
    assert ours.shape == expected.shape == (6, 64, 64, 3)
    assert np.abs(ours.astype(int) - expected.astype(int)).max() <= 1


def test_find_best_frame_picks_the_matching_pose():
    from ppfom.faces import create_detector
    face = cv2.resize(astronaut()[40:296, 100:356], (128, 128), interpolation=cv2.INTER_AREA)
    turned = [cv2.warpAffine(face, cv2.getRotationMatrix2D((64, 52), angle, 1.0), (128, 128),
                             borderMode=cv2.BORDER_REPLICATE) for angle in (25, 15, 8, 0, -12, -20)]
    source = turned[3].copy()
    (index, frame), = find_best_frames(create_detector(), [source], iter(turned), 128)
    assert index == 3 and np.array_equal(frame, turned[3])


def test_landmark_normalisation_ignores_position_and_size():
    points = np.array([[10, 10], [30, 11], [20, 20], [12, 30], [28, 31]], float)
    np.testing.assert_allclose(normalize_landmarks(points), normalize_landmarks(points * 3 + 50))
    assert normalize_landmarks(np.zeros((5, 2))) is None


def test_best_frame_past_the_end_fails_before_writing(tmp_path, capsys, config_file):
    out = tmp_path / "out"
    code = main(["--config", config_file, "--weight_path", SMALL_WEIGHTS, "--image_size", "64", "--backend", "dygraph",
                 "--source_image", _png(tmp_path / "a.png", astronaut()), "--driving_video",
                 _driving(tmp_path, 3), "--output", str(out), "--best_frame", "7"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "--best_frame 7" in err and "3 frames" in err and "\n" not in err
    assert not out.exists() or list(out.iterdir()) == []


def test_face_enhancement_runs_per_crop_and_is_pasted(tmp_path, param_manifest, captured, monkeypatch):
    import paddle
    tiny = {"size": 32, "style_dim": 16, "n_mlp": 2, "channel_multiplier": 1, "max_channels": 16}
    weights = str(tmp_path / "gpen.pdparams")
    rng = np.random.default_rng(0)
    paddle.save({k: rng.normal(0, 0.2, v.shape).astype("float32")
                 for k, v in GPEN(**tiny).state_dict().items()}, weights)
    pred = _predictor(param_manifest, tmp_path / "out", batch_size=2)
    pred.enhancer = FaceEnhancer(weights, batch_size=2, config=tiny)
    calls = []
    enhance = pred.enhancer.__call__
    monkeypatch.setattr(pred, "enhancer", lambda faces: (calls.append(faces.shape), enhance(faces))[1])
    pred.run(_png(tmp_path / "a.png", astronaut()), _driving(tmp_path, 3))
    assert calls == [(2, 64, 64, 3), (1, 64, 64, 3)]
    assert [f.shape for f in captured] == [(512, 512, 3)] * 3


def test_face_enhancement_without_weights_fails_before_animating(tmp_path, capsys, config_file, monkeypatch):
    from ppfom.faces import enhancer
    monkeypatch.setenv("PPFOM_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(enhancer, "GPEN_URL", "http://127.0.0.1:9/GPEN-512.pdparams")
    animated = []
    monkeypatch.setattr(FirstOrderPredictor, "animate_batch", lambda *a: animated.append(1))
    out = tmp_path / "out"
    code = main(["--config", config_file, "--weight_path", SMALL_WEIGHTS, "--image_size", "64", "--backend", "dygraph",
                 "--source_image", _png(tmp_path / "a.png", astronaut()), "--driving_video",
                 _driving(tmp_path, 2), "--output", str(out), "--face_enhancement"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "GPEN-512.pdparams" in err and "--face_enhancement_weights" in err and "\n" not in err
    assert animated == [] and not out.exists()


def test_cli_prints_no_face_as_one_warning_line(tmp_path, capsys, config_file):
    noise = np.random.default_rng(0).integers(0, 256, (80, 140, 3), dtype=np.uint8)
    code = main(["--config", config_file, "--weight_path", SMALL_WEIGHTS, "--image_size", "64", "--backend", "dygraph",
                 "--source_image", _png(tmp_path / "noise.png", noise), "--driving_video", _driving(tmp_path, 2),
                 "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 0
    warnings = [line for line in err.splitlines() if "no face" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: no face found in the source image")
