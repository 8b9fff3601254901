"""The README's compression table: teacher, distilled mobile student, pruned student.

    python tools/compression_table.py --teacher-weights TEACHER.pdparams --dataroot data/synthetic \
        --iters 150 --output docs/compression_table.md

(TEACHER: a model trained with ``--teacher-config``, configs/firstorder_synthetic.yaml by default; the
bundled demo model has its own config: ``--teacher-config ppfom/assets/synthetic64.yaml``.)

Distils the student of ``--student-config`` from the teacher in PaddleGAN's three
stages (kp_detector, generator, both; ``--iters`` each), prunes it and fine-tunes
it (``--iters`` more), then measures the three on the test split of
``--dataroot``. ``--vox`` adds the VoxCeleb 256 architectures' size, parameters
and speed (weights do not change those; no VoxCeleb data or weights needed).
"""
import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppfom.atomic import publish, temporary_beside
from ppfom.compression import measure
from ppfom.compression.distill import DistillTrainer
from ppfom.compression.prune import prune
from ppfom.config import build_generator, build_kp_detector, load_config
from ppfom.weights import load_networks


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--teacher-config", default="configs/firstorder_synthetic.yaml")
    p.add_argument("--teacher-weights", required=True, help="trained checkpoint of --teacher-config")
    p.add_argument("--student-config", default="configs/firstorder_synthetic_mobile.yaml")
    p.add_argument("--dataroot", required=True, help="dataset with train/ and test/ (test/ is held out)")
    p.add_argument("--iters", type=int, default=150, help="training iterations of each stage")
    p.add_argument("--prune-ratio", type=float, default=0.5, help="fraction of the parameters to remove")
    p.add_argument("--criterion", default="l1_norm", choices=["l1_norm", "fpgm"])
    p.add_argument("--work-dir", default="output_dir/compression_table")
    p.add_argument("--max-videos", type=int, default=None)
    p.add_argument("--vox", action="store_true", help="add the VoxCeleb 256 architectures (size, speed)")
    p.add_argument("--output", default="docs/compression_table.md")
    return p.parse_args()


def stage_config(base: dict, args, mode: str, **model_keys) -> dict:
    cfg = copy.deepcopy(base)
    for split in ("train", "test"):
        cfg["dataset"][split]["dataroot"] = args.dataroot
    cfg.update(total_iters=args.iters, snapshot_config={"interval": args.iters})
    cfg["model"].update(mode=mode, teacher_weight_path=args.teacher_weights, **model_keys)
    return cfg


def distil(args) -> tuple[dict, dict[str, float]]:
    """Checkpoints of each stage (and of the pruned, fine-tuned student), and minutes spent on each."""
    base = load_config(args.student_config)
    paths, minutes = {}, {}
    plan = [("kp_detector", "kp_detector", {}), ("generator", "generator", {}),
            ("both", "both", {"kp_weight_path": "kp_detector", "gen_weight_path": "generator"}),
            ("pruned", "both", {"kp_weight_path": "both", "gen_weight_path": "both",
                                "prune": {"ratio": args.prune_ratio, "criterion": args.criterion}})]
    record = os.path.join(args.work_dir, "minutes.json")
    done = json.loads(Path(record).read_text(encoding="utf-8")) if os.path.isfile(record) else {}
    for name, mode, keys in plan:
        keys = {k: (paths[v] if isinstance(v, str) else v) for k, v in keys.items()}
        path = os.path.join(args.work_dir, name, f"iter_{args.iters}_checkpoint.pdparams")
        if name in done and os.path.isfile(path):  # a finished stage of an earlier run
            paths[name], minutes[name] = path, done[name]
            continue
        start = time.time()
        trainer = DistillTrainer(stage_config(base, args, mode, **keys),
                                 output_dir=os.path.join(args.work_dir, name), progress=False)
        paths[name] = trainer.run()
        minutes[name] = done[name] = (time.time() - start) / 60
        with open(record, "w", encoding="utf-8") as f:
            json.dump(done, f)
        print(f"{name}: {paths[name]} ({minutes[name]:.1f} min)", flush=True)
    return paths, minutes


def row(name: str, nets, size: int, l1: float | None, frames: int = 10) -> str:
    kp_detector, generator = nets
    params = measure.parameters(kp_detector, generator)
    fps = measure.frames_per_second(kp_detector, generator, size, frames=frames, warmup=min(frames, 2))
    l1_text = f"{l1:.4f}" if l1 is not None else "-"
    return (f"| {name} | {measure.size_mb(kp_detector, generator):.2f} | {params:,} | {l1_text} | "
            f"{fps:.2f} |")


def synthetic_rows(args, paths: dict) -> list[str]:
    teacher_cfg, student_cfg = load_config(args.teacher_config), load_config(args.student_config)
    shape = teacher_cfg["dataset"]["train"]["frame_shape"]
    size = int(shape[0])
    # inference=False: L1 as tools/evaluate.py measures it (no inference border fix)
    models = [(f"teacher ({Path(args.teacher_config).stem})",
               load_networks(teacher_cfg, args.teacher_weights, inference=False)),
              ("mobile student, distilled", load_networks(student_cfg, paths["both"], inference=False)),
              (f"pruned student ({args.criterion} {args.prune_ratio:g}), fine-tuned",
               load_networks(student_cfg, paths["pruned"], inference=False))]
    return [row(name, nets, size, measure.reconstruction_l1(*nets, args.dataroot, shape, args.max_videos))
            for name, nets in models]


def vox_rows(args) -> list[str]:
    """The VoxCeleb 256 teacher and student architectures, random weights: size, parameters, speed."""
    cfg = load_config("configs/firstorder_vox_mobile_256.yaml")
    rows = []
    for name, key in (("VoxCeleb 256 teacher (architecture)", "generator_ori"),
                      ("VoxCeleb 256 mobile (architecture)", "generator"), ("VoxCeleb 256 mobile pruned", None)):
        nets = (build_kp_detector(cfg, generator_key=key or "generator"),
                build_generator(cfg, generator_key=key or "generator"))
        if key is None:
            prune(list(nets), args.prune_ratio, args.criterion)
        for net in nets:
            net.eval()
        rows.append(row(name, nets, 256, None, frames=3))
    return rows


def main() -> int:
    args = parse()
    paths, minutes = distil(args)
    lines = ["| model | weights (MB) | parameters | reconstruction L1 (held out) | frames/s (this CPU) |",
             "|---|---|---|---|---|", *synthetic_rows(args, paths)]
    if args.vox:
        lines += vox_rows(args)
    baseline = measure.no_motion_l1(args.dataroot, load_config(args.teacher_config)["dataset"]["train"]["frame_shape"],
                                    args.max_videos)
    stages = ", ".join(f"{k} {v:.1f}" for k, v in minutes.items())
    lines.append("")
    lines.append(f"*Made by `python tools/compression_table.py --iters {args.iters} --prune-ratio {args.prune_ratio:g}"
                 f"{' --vox' if args.vox else ''}`. Each stage trained {args.iters} iterations on a shared "
                 f"2-core CPU (minutes: {stages}). L1 on the test split of `{os.path.basename(args.dataroot.rstrip('/'))}`, "
                 f"each video reconstructed from its first frame (copying the first frame scores {baseline:.4f}); frames/s: kp detector + generator per driving "
                 "frame, batch 1, dygraph.*")
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with temporary_beside(args.output) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        publish(tmp, args.output)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
