"""Command lines of ``tools/main.py`` (train) and ``tools/evaluate.py``: PaddleGAN's flags, one-line errors."""
from __future__ import annotations

import argparse
import sys

import yaml

from ..errors import PpfomError


def apply_overrides(cfg: dict, overrides: list[str]) -> dict:
    """``-o dataset.train.batch_size=4 total_iters=100``: dotted keys, YAML values."""
    for item in overrides:
        if "=" not in item:
            raise PpfomError(f"-o {item}: write key=value, e.g. -o dataset.train.batch_size=4")
        key, value = item.split("=", 1)
        node = cfg
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise PpfomError(f"-o {item}: {part} is not a section of the config")
        node[parts[-1]] = yaml.safe_load(value)
    return cfg


def train_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tools/main.py", description="Train the First Order Motion Model.")
    p.add_argument("--config-file", required=True, help="config YAML, e.g. configs/firstorder_fashion.yaml")
    p.add_argument("--resume", default=None, help="checkpoint to continue from (weights, optimizers, iteration)")
    p.add_argument("--warm-start", default=None, metavar="WEIGHTS",
                   help="start at iteration 0 from another model's weights: every tensor whose name and shape "
                        "fit is copied (e.g. a smaller model's keypoint detector and motion network)")
    p.add_argument("-o", "--opt", nargs="+", action="extend", default=[],
                   help="override config keys: key.sub=value ... (may be repeated)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the config's seed or 0)")
    p.add_argument("--output-dir", default=None, help="where checkpoints and logs go (default: output_dir)")
    p.add_argument("--recalibrate-bn", type=int, default=0, metavar="N",
                   help="after training, recompute BatchNorm statistics over N batches and save again "
                        "(helps models trained with small batches)")
    return p


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def train_main(argv: list[str] | None = None) -> int:
    """``kill`` (SIGTERM) ends training like Ctrl-C, so data-loader workers stop instead of being orphaned."""
    import signal

    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return _train(train_parser().parse_args(argv))
    finally:
        signal.signal(signal.SIGTERM, previous)


def _train(args: argparse.Namespace) -> int:
    try:
        from ..config import load_config
        from . import distributed
        from .logs import setup_logging
        from .trainer import check_config

        cfg = apply_overrides(load_config(args.config_file), args.opt)
        check_config(cfg)
        distributed.init()
        output = args.output_dir or cfg.get("output_dir", "output_dir")
        setup_logging(output, distributed.rank())
        trainer = _trainer_class(cfg)(cfg, output_dir=output, resume=args.resume, seed=args.seed)
        if args.warm_start:
            trainer.warm_start(args.warm_start)
        last = trainer.run()
        if args.recalibrate_bn > 0:
            trainer.recalibrate_batchnorm(args.recalibrate_bn)
            last = trainer.save()
    except PpfomError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: resume with --resume <the last iter_*_checkpoint.pdparams>", file=sys.stderr)
        return 130
    if last:
        print(f"wrote {last}")
    return 0


def _trainer_class(cfg: dict) -> type:
    """PaddleGAN's mobile configs (``FirstOrderModelMobile``) train by distillation, as its docs run them."""
    if cfg["model"].get("name") == "FirstOrderModelMobile":
        from ..compression.distill import DistillTrainer

        return DistillTrainer
    from .trainer import Trainer

    return Trainer


def evaluate_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tools/evaluate.py",
                                description="Reconstruction L1 and keypoint distance on a test set, "
                                            "next to the no-motion baseline (copy the source frame).")
    p.add_argument("--config-file", required=True, help="the model's config YAML")
    p.add_argument("--weight_path", required=True, help="checkpoint .pdparams")
    p.add_argument("--dataroot", default=None, help="dataset root (default: the config's dataset.test.dataroot)")
    p.add_argument("--landmarks", default="cartoon", choices=["cartoon", "retinaface", "none"],
                   help="landmark detector for the keypoint distance: cartoon (the packaged one for "
                        "tools/make_synthetic_dataset.py's faces), retinaface (ppfom's packaged face "
                        "detector, for real faces), or none")
    p.add_argument("--max-videos", type=int, default=None, help="evaluate only the first N test videos")
    p.add_argument("-o", "--opt", nargs="+", action="extend", default=[],
                   help="override config keys: key.sub=value ... (may be repeated)")
    return p


def evaluate_main(argv: list[str] | None = None) -> int:
    args = evaluate_parser().parse_args(argv)
    try:
        from ..config import load_config
        from .evaluation import cartoon_landmarks, evaluate, face_landmarks

        cfg = apply_overrides(load_config(args.config_file), args.opt)
        detector = {"cartoon": cartoon_landmarks, "retinaface": face_landmarks}.get(args.landmarks, lambda: None)()
        scores = evaluate(cfg, args.weight_path, dataroot=args.dataroot, landmarks=detector,
                          max_videos=args.max_videos)
    except PpfomError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(format_scores(scores))
    return 0


def format_scores(scores: dict[str, float]) -> str:
    lines = [f"frames evaluated: {scores['frames']}",
             f"reconstruction L1: {scores['l1']:.4f} (no-motion baseline {scores['l1_no_motion']:.4f})"]
    if "sharpness" in scores:
        lines.append(f"sharpness (mean gradient magnitude, generated / real): {scores['sharpness']:.3f}")
    if "akd" in scores:
        lines.append(f"average keypoint distance: {scores['akd']:.3f} px "
                     f"(no-motion baseline {scores['akd_no_motion']:.3f} px); "
                     f"frames without landmarks: {scores['missing_landmarks']:.1%}")
    if "landmark_detector_error" in scores:
        lines.append(f"landmark detector error vs true landmarks: {scores['landmark_detector_error']:.3f} px")
    return "\n".join(lines)
