"""The small reference model (PaddleGAN's 'small' test architecture) as tests use it.

It runs at 64x64 in milliseconds, so pipeline tests exercise real networks
with real PaddleGAN-format weights (``tests/data/ppgan_fom_small.pdparams``).
"""
from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data"
SMALL_WEIGHTS = str(DATA / "ppgan_fom_small.pdparams")
SMALL_IMAGE_SIZE = 64


def small_config(param_manifest: dict, case: str = "small") -> dict:
    """A PaddleGAN-style config dict for a test architecture of the manifest."""
    c = param_manifest["configs"][case]
    return {"model": {"common_params": c["common"],
                      "generator": {"kp_detector_cfg": c["kp"], "generator_cfg": c["gen"]}}}
