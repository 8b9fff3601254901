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


def dygraph_reference(kp_detector, generator, seed: int = 0) -> dict:
    """Random 64x64 source and driving frames and what the dygraph networks make of them,
    named as the exported graphs' inputs and outputs (to compare every backend with)."""
    import numpy as np
    import paddle

    rng = np.random.default_rng(seed)
    source, driving = (rng.random((1, 3, 64, 64), dtype=np.float32) for _ in range(2))
    with paddle.no_grad():
        src = paddle.to_tensor(source)
        kp_s, kp_d = kp_detector(src), kp_detector(paddle.to_tensor(driving))
        features, down = generator.encode(src), generator.dense_motion_network.downsample(src)
        out = generator.animate(src, features, kp_d, kp_s, source_down=down, full_output=False)
    frame = [features, down, kp_s["value"], kp_d["value"], kp_s["jacobian"], kp_d["jacobian"]]
    return {"source": source, "driving": driving, "generator_inputs": [t.numpy() for t in frame],
            "kp_driving": kp_d, "features": features, "down": down, "prediction": out["prediction"]}
