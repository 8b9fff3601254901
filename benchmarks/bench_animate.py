"""Frames per second of every backend, and peak memory over video length, in one run.

    python benchmarks/bench_animate.py                 # vox-256 and mobile, batch 1 and 8, memory
    python benchmarks/bench_animate.py --models mobile --batches 1 --no-memory
    python benchmarks/bench_animate.py --models vox512 --batches 1 --skip reference --no-memory
    python benchmarks/bench_animate.py --no-speed --no-memory --end-to-end 300 32 --original /path/to/first-order-model

Weights are seeded random (the architecture, not the values, sets the speed).
``reference`` does what PaddleGAN's predictor does: dygraph, with the source
encoder and source keypoints recomputed for every frame. ``max err`` is the
largest difference from ppfom's dygraph output on the same frames (exact mode
must stay within 1e-3; bfloat16 is judged by PSNR on real frames, see the README). Each time is the best of
``--repeats`` runs; the load average printed beside it says how busy the
machine was (other jobs slow every number).

``--end-to-end N ...`` times the demo itself (``applications/tools/first-order-demo.py``, a
fresh process, default flags but seeded weights) on the astronaut photo and an N-frame
talking-face clip in 1280x720 (``demo_inputs.py``): the first run with an empty
``PPFOM_HOME`` (it exports the graphs its backend reads) and a warm run after it.
``--original`` adds the original PyTorch code's ``demo.py --cpu`` on the same files (shortest clip)
(it needs torch, scikit-image, scikit-learn, pandas and ffmpeg-python)
and seeded weights of the same architecture (vox-256 only): it resizes photo and
video to 256x256 and writes the 256x256 result, while ppfom also crops the
driving video and the photo around their faces and pastes the face back into the
512x512 photo.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# Paddle's OpenMP threads spin for 200 ms after each call, which stole a fifth of the CPU from the
# onnxruntime rows timed after Paddle rows; a demo process runs one backend, so time them as such.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import paddle

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from machine import cpu_line

from ppfom.animator import Animator, create_animator
from ppfom.config import build_generator, build_kp_detector, load_config
from ppfom.exported.backends.openvino import psnr
from ppfom.exported.choose import onnx_available, openvino_available, resolve_backend
from ppfom.motion_transfer import normalize_kp

MODELS = {"vox256": "firstorder_vox_256.yaml", "mobile": "firstorder_vox_mobile_256.yaml",
          "vox512": "firstorder_vox_512.yaml"}
DEFAULT_MODELS = ["vox256", "mobile"]  # vox512 on request: its dygraph rows take minutes
SIZE = 256  # the memory rows' frame size


def size_of(model: str) -> int:
    return 512 if model.endswith("512") else 256


def seeded_networks(model: str, seed: int = 0):
    """The released architecture with deterministic random weights, in inference mode."""
    cfg = load_config(ROOT / "configs" / MODELS[model])
    paddle.seed(seed)
    kp, gen = build_kp_detector(cfg), build_generator(cfg, inference=True)
    kp.eval()
    gen.eval()
    return cfg, kp, gen


class PaddleGANReference:
    """PaddleGAN's per-frame recipe: keypoints of source and frame, the whole generator, every frame."""

    def __init__(self, kp, gen):
        self.kp, self.gen = kp, gen

    def set_source(self, source):
        self.source = paddle.to_tensor(source)
        self.initial = None

    @paddle.no_grad()
    def __call__(self, driving):
        n = len(driving)
        source = paddle.tile(self.source, [n, 1, 1, 1])
        kp_source = self.kp(source)
        kp_driving = self.kp(paddle.to_tensor(driving))
        if self.initial is None:
            self.initial = {k: v[:1] for k, v in kp_driving.items()}
        kp_norm = normalize_kp(kp_source, kp_driving, self.initial, True, True, False)
        return self.gen(source, kp_norm, kp_source)["prediction"].numpy()


def frames_for(batch: int, size: int = SIZE, seed: int = 1):
    rng = np.random.default_rng(seed)
    source = rng.random((1, 3, size, size), dtype=np.float32)
    driving = np.clip(source + 0.05 * rng.standard_normal((batch, 3, size, size)).astype(np.float32), 0, 1)
    return source, driving


def timed(animator, source, driving, repeats: int) -> tuple[float, np.ndarray]:
    """Best seconds per frame over ``repeats`` calls on a batch (after a warm-up call if repeats > 1)."""
    animator.set_source(source)
    start = time.perf_counter()
    out = animator(driving)
    best = time.perf_counter() - start if repeats == 1 else float("inf")
    for _ in range(repeats if repeats > 1 else 0):
        animator.reset_driving() if hasattr(animator, "reset_driving") else animator.set_source(source)
        start = time.perf_counter()
        animator(driving)
        best = min(best, time.perf_counter() - start)
    return best / len(driving), out


def backends() -> list[tuple[str, str, str]]:
    """(label, backend, precision) rows, reference first."""
    rows = [("reference (PaddleGAN recipe)", "reference", "fp32"), ("dygraph", "dygraph", "fp32"),
            ("paddle-inference", "paddle-inference", "fp32")]
    if onnx_available():
        rows.append(("onnxruntime", "onnxruntime", "fp32"))
    if openvino_available():
        rows += [("openvino", "openvino", "fp32"), ("openvino bf16", "openvino", "bf16")]
    return rows


def speed_table(models: list[str], batches: list[int], repeats: int, skip: set[str]) -> list[str]:
    lines = ["| model | backend | batch | s/frame | frames/s | max err vs dygraph | PSNR vs dygraph (dB) | load avg |",
             "|---|---|---|---|---|---|---|---|"]
    for model in models:
        cfg, kp, gen = seeded_networks(model)
        for batch in batches:
            source, driving = frames_for(batch, size_of(model))
            exact = Animator(kp, gen, True, False)
            exact.set_source(source)
            expected = exact(driving)
            for label, backend, precision in backends():
                if backend in skip:
                    continue
                if backend == "reference":
                    animator = PaddleGANReference(kp, gen)
                else:
                    animator = create_animator(backend, kp, gen, True, False, cfg=cfg, image_size=(size_of(model),) * 2,
                                               batch_size=batch, precision=precision)
                reps = 1 if backend in ("reference", "dygraph") else repeats
                seconds, out = timed(animator, source, driving, reps)
                err = float(np.abs(out - expected).max())
                line = (f"| {model} | {label} | {batch} | {seconds:.3f} | {1 / seconds:.2f} | {err:.1e} | "
                        f"{psnr(out, expected):.1f} | {os.getloadavg()[0]:.2f} |")
                print(line, flush=True)
                lines.append(line)
    return lines


MEMORY_CHILD = """
import resource, sys
from ppfom import FirstOrderPredictor
p = FirstOrderPredictor(output=sys.argv[3], weight_path=sys.argv[1], config=sys.argv[2], relative=True,
                        adapt_scale=True, backend=sys.argv[5])
p.run(sys.argv[4], sys.argv[6])
try:  # VmHWM: ru_maxrss would include this benchmark's own peak, inherited through fork and exec
    print([line for line in open("/proc/self/status") if line.startswith("VmHWM:")][0].split()[1])
except OSError:
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def memory_rows(model: str, lengths: list[int], backend: str) -> list[str]:
    """Peak RSS of a whole predictor run (fresh process each) for driving videos of each length."""
    from ppfom.checkpoint import save_checkpoint
    from ppfom.video import VideoWriter

    _, kp, gen = seeded_networks(model)
    lines = ["| model | backend | driving frames | peak RSS (MB) | seconds |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        weights = os.path.join(tmp, "w.pdparams")
        save_checkpoint({"kp_detector": kp.state_dict(), "generator": gen.state_dict()}, weights)
        rng = np.random.default_rng(0)
        source = os.path.join(tmp, "source.png")
        import imageio.v2 as imageio
        imageio.imwrite(source, rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8))
        for n in [2, *lengths]:  # the 2-frame run fills the export cache, so no row pays for exporting
            video = os.path.join(tmp, f"drive{n}.mp4")
            with VideoWriter(video, 25.0) as writer:
                for i in range(0, n, 50):
                    k = min(50, n - i)
                    writer.write(_moving_square(i, k))
            start = time.perf_counter()
            cmd = [sys.executable, "-c", MEMORY_CHILD, weights, str(ROOT / "configs" / MODELS[model]),
                   os.path.join(tmp, "out"), source, backend, video]
            result = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=ROOT,
                                    env={**os.environ, "PYTHONPATH": str(ROOT)})
            if result.returncode:
                raise RuntimeError(result.stderr[-2000:])
            peak_mb = int(result.stdout.split()[-1]) / 1024
            if n == 2:
                continue
            line = f"| {model} | {resolve_backend(backend)} | {n} | {peak_mb:.0f} | {time.perf_counter() - start:.0f} |"
            print(line, flush=True)
            lines.append(line)
    return lines


def _moving_square(start: int, count: int) -> np.ndarray:
    frames = np.full((count, SIZE, SIZE, 3), 90, np.uint8)
    for j in range(count):
        x = 40 + (start + j) % 120
        frames[j, 80:160, x:x + 80] = (220, 180, 150)
    return frames


def _run_timed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    """Wall seconds of one process; its stderr's end if it fails."""
    start = time.perf_counter()
    result = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=cwd, env=env)
    if result.returncode:
        raise RuntimeError(f"{cmd[-1]} failed:\n{result.stderr[-2000:]}")
    return time.perf_counter() - start


def _demo_command(model: str, weights: str, photo: str, video: str, out: str) -> list[str]:
    from demo_inputs import config_path

    return [sys.executable, str(ROOT / "applications" / "tools" / "first-order-demo.py"), "--config", config_path(model),
            "--weight_path", weights, "--source_image", photo, "--driving_video", video, "--relative",
            "--adapt_scale", "--output", out]


def _original_checkpoint(original: Path, folder: str) -> str:
    """Seeded vox-256 weights in the original code's own modules, saved as its demo loads them."""
    code = (f"import sys, torch, yaml; sys.path.insert(0, {str(original)!r}); torch.manual_seed(0)\n"
            "from modules.generator import OcclusionAwareGenerator\nfrom modules.keypoint_detector import KPDetector\n"
            "c = yaml.safe_load(open(sys.argv[1]))['model_params']\n"
            "g = OcclusionAwareGenerator(**c['generator_params'], **c['common_params'])\n"
            "k = KPDetector(**c['kp_detector_params'], **c['common_params'])\n"
            "torch.save({'generator': g.state_dict(), 'kp_detector': k.state_dict()}, sys.argv[2])")
    path = os.path.join(folder, "original_seeded.pth.tar")
    subprocess.run([sys.executable, "-c", code, str(original / "config" / "vox-256.yaml"), path], check=True)
    return path


def end_to_end_rows(models: list[str], lengths: list[int], original: Path | None) -> list[str]:
    """The demo as a user runs it: whole processes, first run (exports) and warm, per clip length."""
    from demo_inputs import demo_inputs, seeded_weights

    lines = ["| program | backend | frames | first run (s) | warm run (s) | first / warm | warm frames/s | load avg |",
             "|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        weights = {m: seeded_weights(m, tmp) for m in models}
        for n in lengths:
            photo, video = demo_inputs(tmp, n)
            for model in models:
                env = {**os.environ, "PYTHONPATH": str(ROOT), "PPFOM_HOME": os.path.join(tmp, f"home-{model}-{n}")}
                cmd = _demo_command(model, weights[model], photo, video, os.path.join(tmp, "out"))
                first, warm = _run_timed(cmd, env, ROOT), _run_timed(cmd, env, ROOT)
                lines.append(f"| ppfom demo, {model} | {resolve_backend('auto')} | {n} | {first:.1f} | {warm:.1f} | "
                             f"{first / warm:.2f} | {n / warm:.2f} | {os.getloadavg()[0]:.2f} |")
                print(lines[-1], flush=True)
            if original is not None and n == min(lengths):  # minutes a frame: the shortest clip only
                lines.append(_original_row(original, tmp, photo, video, n))
                print(lines[-1], flush=True)
    return lines


def _original_row(original: Path, folder: str, photo: str, video: str, n: int) -> str:
    checkpoint = _original_checkpoint(original, folder)
    # torchvision is imported by the original's training augmentations only: an empty module stands in.
    run_demo = ("import runpy, sys, types; sys.modules.setdefault('torchvision', types.ModuleType('torchvision')); "
                "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")
    cmd = [sys.executable, "-c", run_demo, str(original / "demo.py"), "--config", str(original / "config" / "vox-256.yaml"),
           "--checkpoint", checkpoint, "--source_image", photo, "--driving_video", video, "--relative",
           "--adapt_scale", "--cpu", "--result_video", os.path.join(folder, "original.mp4")]
    env = {**os.environ, "PYTHONPATH": str(original)}
    first, warm = _run_timed(cmd, env, original), _run_timed(cmd, env, original)
    return (f"| original PyTorch demo.py --cpu, vox256 | torch {_torch_version()} | {n} | {first:.1f} | {warm:.1f} | "
            f"{first / warm:.2f} | {n / warm:.2f} | {os.getloadavg()[0]:.2f} |")


def _torch_version() -> str:
    result = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"],
                            check=False, capture_output=True, text=True)
    return result.stdout.strip() or "?"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=DEFAULT_MODELS, choices=list(MODELS))
    p.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--skip", nargs="*", default=[], help="backends to leave out (e.g. reference)")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--no-speed", action="store_true")
    p.add_argument("--memory-model", default="mobile", choices=DEFAULT_MODELS)
    p.add_argument("--memory-lengths", nargs="+", type=int, default=[100, 1000])
    p.add_argument("--memory-backend", default="auto")
    p.add_argument("--end-to-end", nargs="*", type=int, default=[], metavar="FRAMES",
                   help="time the demo, first run and warm, on clips of these lengths (e.g. 300 32)")
    p.add_argument("--end-to-end-models", nargs="+", default=["mobile", "vox256"], choices=list(MODELS))
    p.add_argument("--original", type=Path, help="a checkout of the original first-order-model: adds its demo.py")
    args = p.parse_args(argv)
    paddle.set_device("cpu")
    print(cpu_line(), flush=True)
    print(f"# {os.cpu_count()} CPUs, paddle {paddle.__version__}, load average at start "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    lines = [] if args.no_speed else speed_table(args.models, args.batches, args.repeats, set(args.skip))
    if not args.no_memory:
        lines += [""] + memory_rows(args.memory_model, args.memory_lengths, args.memory_backend)
    if args.end_to_end:
        lines += [""] + end_to_end_rows(args.end_to_end_models, args.end_to_end, args.original)
    print("\n".join(lines))
    print(f"# peak RSS of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
