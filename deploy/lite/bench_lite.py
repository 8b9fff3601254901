"""Speed of each Paddle Lite model (x86 runtime) and its multiply-adds, with a phone estimate.

    python deploy/lite/bench_lite.py [--out DIR] [--repeats 3] [--models demo vox_mobile]
        [--phone-gflops 20]

Run with ppfom's own environment as ``python``. For each model it
  1. gets a checkpoint: ``demo`` is the bundled ppfom/assets/synthetic64 (64x64); ``vox_mobile`` is
     configs/firstorder_vox_mobile_256.yaml with seeded random weights (as benchmarks/bench_animate.py's
     ``seeded_networks``), saved as {'kp_detector': ..., 'generator': ...} in DIR;
  2. counts the multiply-adds of the three graphs (kp_detector, source_encoder, generator) in dygraph
     with forward hooks on every convolution and linear layer (other ops are not counted);
  3. makes the x86 ``.nb`` files with build_lite.sh and times each one with paddlelite's Python API in
     build_lite.sh's Python 3.10 venv (one warm-up run, then the best of ``--repeats``; the Python
     MobileConfig has no thread setting: Paddle Lite's default of one thread, with OMP_NUM_THREADS and
     MKL_NUM_THREADS set to 1);
  4. prints a Markdown table with the CPU line, the load average, and the per-frame cost expected on a
     phone big core: MACs * 2 / (``--phone-gflops`` * 1e9), an estimate, not a measurement.

``bench_lite.py --time NB_DIR INPUTS.npz REPEATS`` is the timing step (it runs in the venv).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PARTS = ("kp_detector", "source_encoder", "generator")
MODELS = {
    "demo": ("ppfom/assets/synthetic64.yaml", "ppfom/assets/synthetic64.pdparams", 64),
    "vox_mobile": ("configs/firstorder_vox_mobile_256.yaml", None, 256),
}


# ---- timing, in the Python 3.10 venv -------------------------------------------------------------

def time_models(folder: str, inputs: str, repeats: int) -> dict[str, float]:
    from paddlelite.lite import MobileConfig, create_paddle_predictor

    data = np.load(inputs)
    best = {}
    for part in PARTS:
        config = MobileConfig()
        config.set_model_from_file(os.path.join(folder, part + ".nb"))
        predictor = create_paddle_predictor(config)
        count = sum(k.startswith(part + "/") for k in data.files)
        for i in range(count):
            predictor.get_input(i).from_numpy(np.ascontiguousarray(data[f"{part}/{i}"], np.float32))
        predictor.run()  # warm-up
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            predictor.run()
            runs.append(time.perf_counter() - start)
        best[part] = min(runs)
    return best


# ---- checkpoint, inputs and multiply-adds, in ppfom's environment --------------------------------

def seeded_checkpoint(config: str, path: str, seed: int = 0) -> None:
    import paddle

    from ppfom.config import build_generator, build_kp_detector, load_config

    cfg = load_config(config)
    paddle.seed(seed)
    kp, gen = build_kp_detector(cfg), build_generator(cfg, inference=True)
    state = {"kp_detector": {k: v.numpy() for k, v in kp.state_dict().items()},
             "generator": {k: v.numpy() for k, v in gen.state_dict().items()}}
    paddle.save(state, path)


def count_and_inputs(config: str, weights: str, size: int, inputs: str) -> dict[str, int]:
    """Multiply-adds of each graph for one frame; writes realistic inputs of each graph to ``inputs``."""
    import paddle
    from paddle import nn

    from ppfom.config import load_config
    from ppfom.exported.graphs import graphs, make_spec
    from ppfom.weights import load_networks

    kp_detector, generator = load_networks(load_config(config), weights)
    spec = make_spec(kp_detector, generator, (size, size), 1)
    layers = graphs(kp_detector, generator)
    macs = {"n": 0}

    def hook(layer, args, output):
        if isinstance(layer, nn.Linear):
            macs["n"] += int(np.prod(output.shape)) * int(layer.weight.shape[0])
        elif isinstance(layer, nn.Conv2DTranspose):  # weight: in, out/groups, kh, kw
            w = layer.weight.shape
            macs["n"] += int(np.prod(args[0].shape)) * int(w[1]) * int(w[2]) * int(w[3])
        else:  # Conv2D: weight out, in/groups, kh, kw
            w = layer.weight.shape
            macs["n"] += int(np.prod(output.shape)) * int(w[1]) * int(w[2]) * int(w[3])

    handles = [sub.register_forward_post_hook(hook) for layer in layers.values() for sub in layer.sublayers()
               if isinstance(sub, (nn.Conv2D, nn.Conv2DTranspose, nn.Linear))]
    rng = np.random.default_rng(0)
    image = paddle.to_tensor(rng.random((1, 3, size, size), dtype=np.float32))
    driving = paddle.to_tensor(rng.random((1, 3, size, size), dtype=np.float32))
    counts, arrays = {}, {}
    with paddle.no_grad():
        macs["n"] = 0
        kp_source = layers["kp_detector"](image)
        counts["kp_detector"] = macs["n"]
        kp_driving = layers["kp_detector"](driving)
        macs["n"] = 0
        features, down = layers["source_encoder"](image)
        counts["source_encoder"] = macs["n"]
        frame = [features, down, kp_source[0], kp_driving[0]]
        if spec.jacobian:
            frame += [kp_source[1], kp_driving[1]]
        macs["n"] = 0
        layers["generator"](*frame)
        counts["generator"] = macs["n"]
    for h in handles:
        h.remove()
    for part, values in (("kp_detector", [driving]), ("source_encoder", [image]), ("generator", frame)):
        for i, value in enumerate(values):
            arrays[f"{part}/{i}"] = value.numpy()
    np.savez(inputs, **arrays)
    return counts


def venv_python() -> str:
    result = subprocess.run(["bash", os.path.join(HERE, "build_lite.sh"), "--env-only"], capture_output=True,
                            text=True, check=False)
    if result.returncode:
        sys.exit(result.returncode if result.returncode == 75 else 1)
    return os.path.join(result.stdout.strip().splitlines()[-1], "bin", "python")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.join(os.path.expanduser("~"), ".cache", "ppfom", "bench_lite"))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--phone-gflops", type=float, default=20.0,
                   help="assumed sustained fp32 GFLOP/s of one phone big core (see deploy/lite/README.md)")
    p.add_argument("--time", nargs=3, metavar=("NB_DIR", "INPUTS", "REPEATS"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.time:
        print(json.dumps(time_models(args.time[0], args.time[1], int(args.time[2]))))
        return 0

    sys.path.insert(0, ROOT)
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    from machine import cpu_line

    python310 = venv_python()
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for model in args.models:
        config, weights, size = MODELS[model]
        config = os.path.join(ROOT, config)
        folder = os.path.join(args.out, model)
        if weights is None:
            weights = os.path.join(args.out, model + "_seeded.pdparams")
            seeded_checkpoint(config, weights)
        else:
            weights = os.path.join(ROOT, weights)
        inputs = os.path.join(args.out, model + "_inputs.npz")
        macs = count_and_inputs(config, weights, size, inputs)
        subprocess.run(["bash", os.path.join(HERE, "build_lite.sh"), config, weights, folder, str(size), "x86"],
                       check=True, stdout=subprocess.DEVNULL)
        timed = subprocess.run([python310, os.path.abspath(__file__), "--time", os.path.join(folder, "x86"),
                                inputs, str(args.repeats)], check=True, capture_output=True, text=True,
                               env={**os.environ, "GLOG_v": "0", "OMP_NUM_THREADS": "1",
                                    "MKL_NUM_THREADS": "1"})
        seconds = json.loads(timed.stdout.strip().splitlines()[-1])
        for part in PARTS:
            phone = macs[part] * 2 / (args.phone_gflops * 1e9)
            rows.append(f"| {model} ({size}x{size}) | {part} | {macs[part] / 1e9:.3f} | {seconds[part] * 1e3:.1f} | "
                        f"{macs[part] * 2 / seconds[part] / 1e9:.1f} | {phone * 1e3:.0f} |")
        per_frame = macs["kp_detector"] + macs["generator"]
        rows.append(f"| {model} ({size}x{size}) | per frame (kp_detector + generator) | {per_frame / 1e9:.3f} | "
                    f"{(seconds['kp_detector'] + seconds['generator']) * 1e3:.1f} | | "
                    f"{per_frame * 2 / (args.phone_gflops * 1e9) * 1e3:.0f} |")
    print(cpu_line())
    print(f"# load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; Paddle Lite 2.13rc0 x86, 1 thread, "
          f"best of {args.repeats}; phone: {args.phone_gflops:g} GFLOP/s assumed (estimate)")
    print("| model | graph | GMACs | Lite x86 ms | x86 GFLOP/s | phone ms (est.) |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
