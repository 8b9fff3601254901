"""Run x86 ``.nb`` files with paddlelite's Python API on inputs from an .npz (Python 3.10 env).

Used by tests/test_lite.py to compare Paddle Lite with Paddle dygraph:
``run_lite.py <nb folder> <inputs.npz> <outputs.npz>``; inputs are named
``<part>/<index>``, outputs are written the same way.
"""
from __future__ import annotations

import os
import sys

import numpy as np
from paddlelite.lite import MobileConfig, create_paddle_predictor


def run(nb: str, arrays: list[np.ndarray]) -> list[np.ndarray]:
    config = MobileConfig()
    config.set_model_from_file(nb)
    predictor = create_paddle_predictor(config)
    for i, array in enumerate(arrays):
        predictor.get_input(i).from_numpy(np.ascontiguousarray(array, np.float32))
    predictor.run()
    return [np.array(predictor.get_output(i).numpy()) for i in range(len(predictor.get_output_names()))]

def main() -> int:
    folder, inputs, target = sys.argv[1:4]
    data = np.load(inputs)
    parts = sorted({k.split("/")[0] for k in data.files})
    result = {}
    for part in parts:
        arrays = [data[f"{part}/{i}"] for i in range(sum(k.startswith(part + "/") for k in data.files))]
        for i, out in enumerate(run(os.path.join(folder, part + ".nb"), arrays)):
            result[f"{part}/{i}"] = out
    np.savez(target, **result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
