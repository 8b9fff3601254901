"""The one place that reads configs: PaddleGAN-style YAML files under ``configs/``.

A config is a plain dict; the network constructors take its sections as
keyword arguments (``model.generator.kp_detector_cfg`` + ``model.common_params``
build the KPDetector, and so on), so the YAML is the documentation.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

from .errors import PpfomError
from .modules import KPDetector, MultiScaleDiscriminator, OcclusionAwareGenerator

# The released models, by the name used for their published weights.
RELEASED = {
    "vox256": "firstorder_vox_256.yaml",
    "vox512": "firstorder_vox_512.yaml",
    "vox_mobile256": "firstorder_vox_mobile_256.yaml",
}


def config_dir() -> Path:
    """``configs/`` of a source checkout, else the copy a wheel installs under ``share/ppfom``."""
    here = Path(__file__).resolve().parent.parent / "configs"
    if here.is_dir():
        return here
    return Path(sys.prefix) / "share" / "ppfom" / "configs"


def released_model(image_size: int = 256, mobile_net: bool = False) -> str:
    """Name of the released model for the demo's --image_size / --mobile_net."""
    if image_size not in (256, 512):
        raise PpfomError(f"--image_size {image_size} is not supported: use 256 or 512")
    if mobile_net:
        if image_size != 256:
            raise PpfomError("the mobile model exists only at 256: drop --mobile_net or use --image_size 256")
        return "vox_mobile256"
    return f"vox{image_size}"


def load_config(config: str | os.PathLike | dict) -> dict:
    """Read a YAML config (or pass a dict through) and check it has a model section."""
    if isinstance(config, dict):
        cfg = config
    else:
        path = Path(config)
        if not path.is_file():
            raise PpfomError(f"config '{path}' does not exist: pass a YAML file such as configs/firstorder_vox_256.yaml")
        try:
            cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            reason = str(err).splitlines()[0]
            raise PpfomError(f"config '{path}' is not valid YAML ({reason}): fix the file") from None
    model = cfg.get("model") if isinstance(cfg, dict) else None
    if not isinstance(model, dict) or "common_params" not in model or "generator" not in model:
        raise PpfomError(f"config '{config}' has no model.common_params / model.generator section: "
                         "start from one of the files in configs/")
    return cfg


def _none(value):
    """PaddleGAN's YAML writes ``None`` as a string; read it as Python None."""
    return None if value in ("None", "none", "null", "") else value


def _section(cfg: dict, *keys: str) -> dict:
    node = cfg["model"]
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            raise PpfomError(f"config has no model.{'.'.join(keys)} section: start from a file in configs/")
        node = node[key]
    return {k: _none(v) for k, v in node.items()}


def build_kp_detector(cfg: dict, generator_key: str = "generator") -> KPDetector:
    return KPDetector(**_section(cfg, generator_key, "kp_detector_cfg"), **_section(cfg, "common_params"))


def build_generator(cfg: dict, inference: bool = False, generator_key: str = "generator") -> OcclusionAwareGenerator:
    return OcclusionAwareGenerator(**_section(cfg, generator_key, "generator_cfg"),
                                   **_section(cfg, "common_params"), inference=inference)


def build_discriminator(cfg: dict) -> MultiScaleDiscriminator:
    return MultiScaleDiscriminator(**_section(cfg, "discriminator", "discriminator_cfg"),
                                   **_section(cfg, "common_params"))
