"""The shipped configs build the released architectures exactly."""
from __future__ import annotations

import pytest

from ppfom import PpfomError
from ppfom.config import (
    RELEASED,
    build_discriminator,
    build_generator,
    build_kp_detector,
    config_dir,
    load_config,
    released_model,
)

LAYOUT = {"vox256": "vox256", "vox512": "vox256", "vox_mobile256": "vox_mobile256"}


def _shapes(layer) -> list:
    return [[k, list(v.shape)] for k, v in layer.state_dict().items()]


@pytest.mark.parametrize("name", list(RELEASED))
def test_released_config_builds_published_layout(param_manifest, name):
    cfg = load_config(config_dir() / RELEASED[name])
    expected = param_manifest[LAYOUT[name]]
    assert _shapes(build_kp_detector(cfg)) == [e[:2] for e in expected["kp_detector"]]
    assert _shapes(build_generator(cfg, inference=True)) == [e[:2] for e in expected["generator"]]
    if "discriminator" in expected:
        assert _shapes(build_discriminator(cfg)) == [e[:2] for e in expected["discriminator"]]


def test_mobile_config_keeps_teacher_block(param_manifest):
    cfg = load_config(config_dir() / RELEASED["vox_mobile256"])
    teacher = build_generator(cfg, generator_key="generator_ori")
    assert _shapes(teacher) == [e[:2] for e in param_manifest["vox256"]["generator"]]
    assert cfg["model"]["mode"] in ("kp_detector", "generator", "both")


def test_released_model_names():
    assert released_model(256) == "vox256"
    assert released_model(512) == "vox512"
    assert released_model(256, mobile_net=True) == "vox_mobile256"
    with pytest.raises(PpfomError, match="--image_size"):
        released_model(384)
    with pytest.raises(PpfomError, match="mobile"):
        released_model(512, mobile_net=True)


def test_bad_configs_are_one_line_errors(tmp_path):
    with pytest.raises(PpfomError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(PpfomError, match="not valid YAML") as err:
        load_config(bad)
    assert "\n" not in str(err.value)
    empty = tmp_path / "empty.yaml"
    empty.write_text("epochs: 3\n")
    with pytest.raises(PpfomError, match="model"):
        load_config(empty)
