"""Compression: the three distillation stages, filter pruning, pruned checkpoints and their export."""
from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np
import paddle
import pytest

from ppfom import synthetic
from ppfom.checkpoint import read_checkpoint, save_checkpoint
from ppfom.compression.cli import main as compress_main
from ppfom.compression.distill import DistillTrainer, stage
from ppfom.compression.prune import count_parameters, prune
from ppfom.config import build_generator, build_kp_detector, load_config
from ppfom.errors import PpfomError
from ppfom.training.cli import apply_overrides
from ppfom.weights import load_networks

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "configs" / "firstorder_tiny.yaml"


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("compression")
    synthetic.make_dataset(str(root / "data"), size=64, identities=(3, 1), clips_per_identity=2, num_frames=8)
    return root


def teacher_config(work: Path) -> dict:
    """The tiny model with only the deterministic loss terms, so that a few steps on one batch must lower it."""
    cfg = load_config(TINY)
    data = work / "data"
    return apply_overrides(cfg, [f"dataset.train.dataroot={data}", f"dataset.test.dataroot={data}",
                                 "model.train_params.loss_weights.generator_gan=0",
                                 "model.train_params.loss_weights.equivariance_value=0",
                                 "model.train_params.loss_weights.equivariance_jacobian=0",
                                 "lr_scheduler.lr_generator=1e-3", "lr_scheduler.lr_kp_detector=1e-3",
                                 "total_iters=2", "snapshot_config.interval=2"])


@pytest.fixture(scope="module")
def teacher(work) -> str:
    cfg = teacher_config(work)
    paddle.seed(0)  # the same teacher every run
    path = str(work / "teacher.pdparams")
    save_checkpoint({"kp_detector": build_kp_detector(cfg).state_dict(),
                     "generator": build_generator(cfg).state_dict()}, path)
    return path


def mobile_config(work: Path, teacher: str, mode: str, **model_keys) -> dict:
    """The tiny model as teacher (``generator_ori``) of its mobile version, PaddleGAN's layout."""
    cfg = teacher_config(work)
    model = cfg["model"]
    model["generator_ori"] = copy.deepcopy(model["generator"])
    model["generator"]["kp_detector_cfg"]["mobile_net"] = True
    model["generator"]["generator_cfg"]["mobile_net"] = True
    model.update(name="FirstOrderModelMobile", mode=mode, teacher_weight_path=teacher, **model_keys)
    return cfg


@pytest.fixture(scope="module")
def stages(work, teacher) -> dict[str, str]:
    """Checkpoints of a two-iteration kp_detector, generator and both stage."""
    out = {}
    for mode in ("kp_detector", "generator"):
        out[mode] = DistillTrainer(mobile_config(work, teacher, mode), output_dir=str(work / mode),
                                   progress=False).run()
    cfg = mobile_config(work, teacher, "both", kp_weight_path=out["kp_detector"], gen_weight_path=out["generator"])
    out["both"] = DistillTrainer(cfg, output_dir=str(work / "both"), progress=False).run()
    return out


def _same(net: paddle.nn.Layer, state: dict) -> bool:
    return all(np.array_equal(v.numpy(), np.asarray(state[k].numpy() if hasattr(state[k], "numpy") else state[k]))
               for k, v in net.state_dict().items())


# ---------------------------------------------------------------- distillation


@pytest.mark.parametrize("mode", ["kp_detector", "generator", "both"])
def test_each_stage_lowers_its_loss(work, teacher, stages, mode):
    keys = {"kp_weight_path": stages["kp_detector"], "gen_weight_path": stages["generator"]} if mode == "both" else {}
    trainer = DistillTrainer(mobile_config(work, teacher, mode, **keys), output_dir=str(work / f"run_{mode}"),
                             progress=False)
    batch = next(trainer.loader())
    losses = [trainer.step(batch)["loss"] for _ in range(6)]
    assert all(np.isfinite(losses))
    assert losses[-1] < losses[0]


def test_the_keypoint_stage_can_also_match_the_teachers_keypoints(work, teacher):
    cfg = mobile_config(work, teacher, "kp_detector")
    cfg["model"]["train_params"]["loss_weights"].update(kp_distillation=10, perceptual=[0])  # the term alone
    cfg["lr_scheduler"]["lr_kp_detector"] = 1e-4  # 1e-3 overshoots this L1 within a few steps
    trainer = DistillTrainer(cfg, output_dir=str(work / "kp_distillation"), progress=False)
    batch = next(trainer.loader())
    terms = [trainer.step(batch) for _ in range(8)]
    assert set(terms[0]) == {"kp_distillation", "loss"}
    assert terms[-1]["kp_distillation"] < terms[0]["kp_distillation"]


@pytest.mark.parametrize("mode, fixed", [("kp_detector", "generator"), ("generator", "kp_detector")])
def test_the_teacher_half_is_loaded_and_stays_fixed(work, teacher, mode, fixed):
    trainer = DistillTrainer(mobile_config(work, teacher, mode), output_dir=str(work / f"fixed_{mode}"),
                             progress=False)
    batch = next(trainer.loader())
    for _ in range(2):
        trainer.step(batch)
    assert _same(trainer.nets[fixed], read_checkpoint(teacher)[fixed])
    student = "kp_detector" if fixed == "generator" else "generator"
    assert any(not p.stop_gradient for p in trainer.nets[student].parameters())


def test_both_starts_from_the_given_weights(work, teacher, stages):
    cfg = mobile_config(work, teacher, "both", kp_weight_path=stages["kp_detector"],
                        gen_weight_path=stages["generator"])
    trainer = DistillTrainer(cfg, output_dir=str(work / "both_start"), progress=False)
    assert _same(trainer.nets["kp_detector"], read_checkpoint(stages["kp_detector"])["kp_detector"])
    assert _same(trainer.nets["generator"], read_checkpoint(stages["generator"])["generator"])


@pytest.mark.parametrize("keys, message", [
    ({}, "needs model.kp_weight_path"),
    ({"kp_weight_path": "missing.pdparams", "gen_weight_path": "missing.pdparams"}, "does not exist"),
    ({"kp_weight_path": "TEACHER", "gen_weight_path": "TEACHER"}, "does not fit the kp_detector"),
])
def test_both_refuses_weights_that_are_missing_or_do_not_fit(work, teacher, keys, message):
    keys = {k: teacher if v == "TEACHER" else v for k, v in keys.items()}
    with pytest.raises(PpfomError, match=message):
        DistillTrainer(mobile_config(work, teacher, "both", **keys), output_dir=str(work / "refused"))


def test_the_vox_mobile_config_is_paddlegans_layout():
    cfg = load_config(ROOT / "configs" / "firstorder_vox_mobile_256.yaml")
    assert stage(cfg) in ("kp_detector", "generator", "both")
    assert {"kp_weight_path", "gen_weight_path", "generator_ori"} <= set(cfg["model"])
    build_kp_detector(cfg, generator_key="generator_ori")
    with pytest.raises(PpfomError, match="model.mode"):
        stage({"model": {"mode": "everything"}})


# ---------------------------------------------------------------- pruning


def _forward(kp_detector, generator) -> np.ndarray:
    x = paddle.to_tensor(np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32))
    with paddle.no_grad():
        kp = kp_detector(x)
        return generator(x, kp_driving=kp, kp_source=kp)["prediction"].numpy()


@pytest.mark.parametrize("criterion", ["l1_norm", "fpgm"])
@pytest.mark.parametrize("ratio", [0.3, 0.5])
def test_pruning_removes_the_ratio_and_the_model_still_runs(work, teacher, stages, criterion, ratio):
    nets = load_networks(mobile_config(work, teacher, "both"), stages["both"], inference=False)
    before = sum(count_parameters(n) for n in nets)
    report = prune(list(nets), ratio, criterion)
    after = sum(count_parameters(n) for n in nets)
    assert after / before == pytest.approx(1 - ratio, abs=0.02)
    assert len(report) > 10 and all(new < old for old, new in report.values())
    assert all(not name.endswith("_backup") for n in nets for layer in n.sublayers() for name in layer._buffers)
    out = _forward(*nets)
    assert out.shape == (1, 3, 64, 64) and np.isfinite(out).all()


def test_l1_pruning_keeps_the_largest_filters(work, teacher, stages):
    """PaddleSlim really ranks by L1 norm: a pruned layer that leads its group keeps its largest filters."""
    kp_detector, _ = load_networks(mobile_config(work, teacher, "both"), stages["both"], inference=False)

    def norms(name):
        return np.abs(weights[name]).reshape(weights[name].shape[0], -1).sum(1)

    weights = {n: p.numpy() for n, p in kp_detector.named_parameters() if len(p.shape) == 4}
    before = {n: norms(n) for n in weights}
    report = prune(kp_detector, 0.3, "l1_norm")
    weights = {n: p.numpy() for n, p in kp_detector.named_parameters() if len(p.shape) == 4}
    leaders = [n.split(".", 1)[1] for n in report if ".encoder.down_blocks." in n and n.endswith("conv1.weight")]
    assert leaders
    for name in leaders:
        kept = norms(name)
        np.testing.assert_allclose(np.sort(kept), np.sort(before[name])[-len(kept):], rtol=1e-6)


def test_pruning_refuses_what_it_cannot_do(work, teacher, stages):
    kp_detector, _ = load_networks(mobile_config(work, teacher, "both"), stages["both"], inference=False)
    with pytest.raises(PpfomError, match="ratio 1.0 is outside"):
        prune(kp_detector, 1.0)
    with pytest.raises(PpfomError, match="criterion 'l3'"):
        prune(kp_detector, 0.3, "l3")
    with pytest.raises(PpfomError, match="more than filter pruning can remove"):
        prune(kp_detector, 0.95)


def test_an_unpruned_checkpoint_must_still_fit_its_config(work, teacher, stages, tmp_path):
    """Narrowing is for checkpoints marked pruned: a wrong config stays an error, not a narrowed model."""
    nets = load_networks(mobile_config(work, teacher, "both"), stages["both"], inference=False)
    prune(list(nets), 0.3)
    unmarked = tmp_path / "unmarked.pdparams"
    save_checkpoint({"kp_detector": nets[0].state_dict(), "generator": nets[1].state_dict()}, str(unmarked))
    with pytest.raises(PpfomError, match="does not fit the kp_detector"):
        load_networks(mobile_config(work, teacher, "both"), str(unmarked))


def test_a_pruned_checkpoint_loads_again_and_exports(work, teacher, stages, tmp_path):
    cfg = mobile_config(work, teacher, "both")
    config = tmp_path / "mobile.yaml"
    import yaml

    config.write_text(yaml.safe_dump(cfg))
    pruned = tmp_path / "pruned.pdparams"
    assert compress_main(["prune", "--config-file", str(config), "--weight_path", stages["both"],
                          "--ratio", "0.5", "--output", str(pruned)]) == 0
    nets = load_networks(cfg, str(pruned))
    assert read_checkpoint(str(pruned))["pruned"] == {"by": "paddleslim", "criterion": "l1_norm", "ratio": 0.5}
    full = sum(count_parameters(n) for n in load_networks(cfg, stages["both"]))
    assert sum(count_parameters(n) for n in nets) / full == pytest.approx(0.5, abs=0.02)
    reference = _forward(*nets)
    assert np.isfinite(reference).all()
    folder = tmp_path / "exported"
    assert compress_main(["export", "--config-file", str(config), "--weight_path", str(pruned),
                          "--output", str(folder)]) == 0
    layer = paddle.jit.load(str(folder / "kp_detector"))
    image = paddle.to_tensor(np.random.default_rng(1).random((1, 3, 64, 64), dtype=np.float32))
    with paddle.no_grad():
        exported = layer(image)[0].numpy()
        expected = nets[0](image)["value"].numpy()
    np.testing.assert_allclose(exported, expected, atol=1e-5)


@pytest.mark.parametrize("backend", ["dygraph", "onnxruntime"])
def test_the_demo_animates_with_a_pruned_checkpoint(work, teacher, stages, tmp_path, source_png, driving_mp4,
                                                    backend):
    import yaml

    from ppfom.predictor import FirstOrderPredictor

    config = tmp_path / "mobile.yaml"
    config.write_text(yaml.safe_dump(mobile_config(work, teacher, "both")))
    pruned = tmp_path / "pruned.pdparams"
    assert compress_main(["prune", "--config-file", str(config), "--weight_path", stages["both"],
                          "--ratio", "0.4", "--output", str(pruned)]) == 0
    predictor = FirstOrderPredictor(output=str(tmp_path / "out"), weight_path=str(pruned), config=str(config),
                                    image_size=64, relative=True, adapt_scale=True, backend=backend)
    out = predictor.run(source_png, driving_mp4)
    assert Path(out).stat().st_size > 0


def test_prune_then_fine_tune_and_resume(work, teacher, stages, tmp_path):
    cfg = mobile_config(work, teacher, "both", kp_weight_path=stages["both"], gen_weight_path=stages["both"],
                        prune={"ratio": 0.5, "criterion": "fpgm"})
    last = DistillTrainer(cfg, output_dir=str(tmp_path), progress=False).run(max_iters=1)
    resumed = DistillTrainer(cfg, output_dir=str(tmp_path), resume=last, progress=False)
    assert resumed.iter == 1
    assert read_checkpoint(last)["pruned"]["criterion"] == "fpgm"
    assert _same(resumed.nets["generator"], read_checkpoint(last)["generator"])
    final = resumed.run()
    _, generator = load_networks(cfg, final)  # what the demo and the exporter load
    assert _same(generator, read_checkpoint(final)["generator"])


@pytest.fixture
def training_log():
    """Undo the CLI's logging setup (own handlers, no propagation), which would hide later tests' logs."""
    log = logging.getLogger("ppfom.training")
    saved = (list(log.handlers), log.propagate, log.level)
    yield
    for handler in log.handlers[len(saved[0]):]:
        handler.close()
    log.handlers[:], log.propagate = saved[0], saved[1]
    log.setLevel(saved[2])


def test_the_cli_prints_one_line_for_user_errors(work, teacher, tmp_path, capsys, training_log):
    import yaml

    config = tmp_path / "mobile.yaml"
    config.write_text(yaml.safe_dump(mobile_config(work, teacher, "both")))
    assert compress_main(["train", "--config-file", str(config), "--output-dir", str(tmp_path / "out"),
                          "-o", "model.gen_weight_path=nope.pdparams", "model.kp_weight_path=nope.pdparams"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: model.kp_weight_path 'nope.pdparams' does not exist") and "\n" not in err


def test_tools_main_trains_a_mobile_config_by_distillation(work, teacher, tmp_path, training_log):
    """PaddleGAN's docs train the mobile config with tools/main.py: that must distil, not train plainly."""
    import yaml

    from ppfom.training.cli import train_main

    config = tmp_path / "mobile.yaml"
    config.write_text(yaml.safe_dump(mobile_config(work, teacher, "kp_detector")))
    assert train_main(["--config-file", str(config), "--output-dir", str(tmp_path / "out"),
                       "-o", "total_iters=1", "-o", "snapshot_config.interval=1"]) == 0
    saved = read_checkpoint(str(tmp_path / "out" / "iter_1_checkpoint.pdparams"))["generator"]
    fixed = read_checkpoint(teacher)["generator"]  # the kp_detector stage keeps the teacher's generator
    assert saved.keys() == fixed.keys()
    assert all(np.array_equal(np.asarray(saved[k]), np.asarray(fixed[k])) for k in fixed)


@pytest.mark.slow
def test_a_pruned_model_exports_to_onnx_and_runs(work, teacher, stages, tmp_path):
    pytest.importorskip("paddle2onnx")
    ort = pytest.importorskip("onnxruntime")
    import yaml

    cfg = mobile_config(work, teacher, "both")
    config = tmp_path / "mobile.yaml"
    config.write_text(yaml.safe_dump(cfg))
    pruned = tmp_path / "pruned.pdparams"
    compress_main(["prune", "--config-file", str(config), "--weight_path", stages["both"], "--ratio", "0.5",
                   "--criterion", "fpgm", "--output", str(pruned)])
    folder = tmp_path / "exported"
    assert compress_main(["export", "--config-file", str(config), "--weight_path", str(pruned),
                          "--output", str(folder), "--onnx"]) == 0
    kp_detector, generator = load_networks(cfg, str(pruned), inference=True)
    image = np.random.default_rng(2).random((1, 3, 64, 64), dtype=np.float32)
    session = ort.InferenceSession(str(folder / "kp_detector.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: image})[0]
    with paddle.no_grad():
        expected = kp_detector(paddle.to_tensor(image))["value"].numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)
    session = ort.InferenceSession(str(folder / "source_encoder.onnx"), providers=["CPUExecutionProvider"])
    features = session.run(None, {session.get_inputs()[0].name: image})[0]
    with paddle.no_grad():
        np.testing.assert_allclose(features, generator.encode(paddle.to_tensor(image)).numpy(), atol=1e-4)
