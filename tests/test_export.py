"""Static export: PaddleGAN's command and flags, refusal of unfit weights, graphs equal to dygraph."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from media import read_video, write_video
from ppfom import PpfomError
from ppfom.exported.backends.paddle_inference import PaddleInferenceSession
from ppfom.exported.export_cli import export_checkpoint, main, parse_inputs_size
from ppfom.exported.graphs import MANIFEST, PARTS, load_networks, read_manifest
from small_model import dygraph_reference

DATA = Path(__file__).parent / "data"
WEIGHTS = str(DATA / "ppgan_fom_small.pdparams")
INPUTS_64 = "1,3,64,64;1,3,64,64;1,10,2;1,10,2,2"
TOL = 1e-4


def small_yaml(tmp_path, param_manifest) -> str:
    c = param_manifest["configs"]["small"]
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump({"model": {"common_params": c["common"], "generator": {
        "kp_detector_cfg": c["kp"], "generator_cfg": c["gen"]}}}))
    return str(path)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, param_manifest):
    tmp = tmp_path_factory.mktemp("export")
    config = small_yaml(tmp, param_manifest)
    assert main(["--config-file", config, "--load", WEIGHTS, "--inputs_size", INPUTS_64,
                 "--export_model", str(tmp / "out")]) == 0
    return config, str(tmp / "out" / "fom_dy2st")


def test_export_writes_three_graphs_and_a_manifest(exported):
    _, folder = exported
    names = set(os.listdir(folder))
    for part in PARTS:
        assert {part + ".json", part + ".pdiparams"} <= names or {part + ".pdmodel", part + ".pdiparams"} <= names
    spec = read_manifest(folder)["spec"]
    assert spec.image_size == (64, 64) and spec.batch_size == 1 and spec.num_kp == 10 and spec.jacobian


def test_exported_graphs_match_dygraph(exported):
    config, folder = exported
    kp_detector, generator = load_networks(yaml.safe_load(Path(config).read_text()), WEIGHTS)
    ref = dygraph_reference(kp_detector, generator)
    run = {p: PaddleInferenceSession(folder, p).run for p in PARTS}
    got_kp = run["kp_detector"]([ref["driving"]])
    got_enc = run["source_encoder"]([ref["source"]])
    got = run["generator"](ref["generator_inputs"])[0]
    kp_d = ref["kp_driving"]
    pairs = [(got_kp[0], kp_d["value"]), (got_kp[1], kp_d["jacobian"]), (got_enc[0], ref["features"]),
             (got_enc[1], ref["down"]), (got, ref["prediction"])]
    for actual, reference in pairs:
        np.testing.assert_allclose(actual, reference.numpy(), atol=TOL, rtol=0)


def test_fom_infer_reads_the_driving_face_through_a_box_unless_told_not_to(exported, tmp_path, monkeypatch, capsys):
    import cv2
    from faces_media import astronaut, carphone, wide_shot

    from ppfom.exported import infer_cli

    _, folder = exported
    frames, _ = wide_shot(carphone()[:24])
    video = write_video(tmp_path / "wide.mp4", frames, fps=25)
    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), astronaut()[:, :, ::-1])
    seen = []
    animate = infer_cli._animate_video
    monkeypatch.setattr(infer_cli, "_animate_video", lambda animator, size, reader, *rest: (
        seen.append(reader.size), animate(animator, size, reader, *rest)))
    args = ["--model_path", str(Path(folder).parent), "--source_path", str(photo), "--driving_path", video]
    assert infer_cli.main(args + ["--output_path", str(tmp_path / "auto")]) == 0
    assert "cropped to the face" in capsys.readouterr().out
    assert infer_cli.main(args + ["--output_path", str(tmp_path / "off"), "--crop_driving", "off"]) == 0
    assert "cropped" not in capsys.readouterr().out
    side = seen[0][0]
    assert seen == [(side, side), (640, 360)] and side < 360
    auto, off = (read_video(tmp_path / name / "wide.mp4")[0] for name in ("auto", "off"))
    assert auto.shape == off.shape == (24, 64, 64, 3)  # every frame, at the model's size


def test_export_refuses_weights_that_do_not_fit(tmp_path, capsys):
    out = tmp_path / "out"
    config = str(Path(__file__).parent.parent / "configs" / "firstorder_vox_256.yaml")
    assert main(["-c", config, "--load", WEIGHTS, "--output_dir", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: checkpoint") and "does not fit the kp_detector" in err and err.count("\n") == 1
    assert not out.exists() or not any(out.rglob(MANIFEST))


def test_export_refuses_a_missing_checkpoint(tmp_path, param_manifest):
    with pytest.raises(PpfomError, match="does not exist"):
        export_checkpoint(small_yaml(tmp_path, param_manifest), str(tmp_path / "none.pdparams"), str(tmp_path))


@pytest.mark.parametrize("text, expected", [
    ("1,3,256,256;1,3,256,256;1,10,2;1,10,2,2", ((256, 256), 1)),
    ("1,3,512,512;4,3,512,512;4,10,2;4,10,2,2", ((512, 512), 4)),
    ("1,3,64,64", ((64, 64), 1)),
])
def test_inputs_size_is_paddlegans_layout(text, expected):
    assert parse_inputs_size(text, 10) == expected


@pytest.mark.parametrize("text", ["", "1,3,256", "1,3,256,256;1,3,128,128", "1,3,256,256;2,3,256,256;1,10,2",
                                  "1,3,256,256;1,3,256,256;1,15,2", "a,b"])
def test_bad_inputs_size_is_one_line(text):
    with pytest.raises(PpfomError, match="--inputs_size") as info:
        parse_inputs_size(text, 10)
    assert "\n" not in str(info.value)


def test_per_frame_graphs_have_no_interpolate_for_onednn(exported):
    """oneDNN in Paddle Inference 3 fails on any interpolate op; the per-frame graphs must have none."""
    _, folder = exported
    for part in ("kp_detector", "generator"):
        program = Path(folder, part + ".json")
        if program.is_file():
            assert "interp" not in program.read_text()


def test_bundled_demo_model_exports_and_runs_in_paddle_inference(tmp_path):
    """The bundled model's motion network runs at full size, so its source encoder hands the source
    straight through: an output that is its own input once broke Paddle Inference's name analysis."""
    import warnings

    from ppfom import synthetic
    from ppfom.exported import infer_cli
    from ppfom.predictor import FirstOrderPredictor

    assets = Path(__file__).parent.parent / "ppfom" / "assets"
    config, weights = str(assets / "synthetic64.yaml"), str(assets / "synthetic64.pdparams")
    assert main(["-c", config, "--load", weights, "-s", INPUTS_64, "--output_dir", str(tmp_path / "exp")]) == 0
    source, driving = synthetic.make_demo_inputs(str(tmp_path), num_frames=6)
    assert infer_cli.main(["--model_path", str(tmp_path / "exp"), "--source_path", source, "--driving_path", driving,
                           "--output_path", str(tmp_path / "static"), "--backend", "paddle-inference",
                           "--adapt_scale"]) == 0
    predictor = FirstOrderPredictor(output=str(tmp_path / "dygraph"), config=config, weight_path=weights,
                                    image_size=64, relative=True, adapt_scale=True, backend="dygraph")
    with warnings.catch_warnings():  # a cartoon: no real face, the whole image is animated
        warnings.simplefilter("ignore")
        reference = read_video(predictor.run(source, driving))[0].astype(np.float64)
    static = read_video(tmp_path / "static" / Path(driving).name)[0].astype(np.float64)
    assert static.shape == reference.shape == (6, 64, 64, 3)
    assert np.abs(static - reference).mean() < 1.5  # the same animation, through two video encodes
