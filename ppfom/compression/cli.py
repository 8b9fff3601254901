"""``tools/compress.py``: distil a stage, prune a checkpoint, export a (pruned) model.

    tools/compress.py train  --config-file configs/firstorder_vox_mobile_256.yaml -o model.mode=kp_detector
    tools/compress.py prune  --config-file ... --weight_path both.pdparams --ratio 0.3 --output pruned.pdparams
    tools/compress.py export --config-file ... --weight_path pruned.pdparams --output exported [--onnx]

Errors users can cause print one line and exit 1.
"""
from __future__ import annotations

import argparse
import sys

from ..errors import PpfomError
from .prune import CRITERIA


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tools/compress.py", description="Compress FOM: distil, prune, export.")
    sub = p.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train the stage of model.mode (kp_detector, generator, both)")
    train.add_argument("--resume", default=None, help="checkpoint to continue from")
    train.add_argument("--output-dir", default=None, help="where checkpoints go (default: the config's output_dir)")
    prune = sub.add_parser("prune", help="prune the student's filters of a checkpoint (then fine-tune with "
                                         "mode both, or set model.prune there instead)")
    prune.add_argument("--ratio", type=float, required=True,
                       help="fraction of the parameters to remove (PaddleSlim filter pruning)")
    prune.add_argument("--criterion", default="l1_norm", choices=CRITERIA)
    export = sub.add_parser("export", help="static graphs (Paddle Inference, ONNX) of a pruned or full student")
    export.add_argument("--image_size", type=int, default=None, help="default: the config's frame size")
    export.add_argument("--onnx", action="store_true", help="also write <part>.onnx (needs paddle2onnx)")
    for sub_parser in (train, prune, export):
        sub_parser.add_argument("--config-file", required=True, help="e.g. configs/firstorder_vox_mobile_256.yaml")
        sub_parser.add_argument("-o", "--opt", nargs="+", action="extend", default=[],
                                help="override config keys: key.sub=value (may be repeated)")
    for sub_parser in (prune, export):
        sub_parser.add_argument("--weight_path", required=True, help="checkpoint with kp_detector and generator")
        sub_parser.add_argument("--output", required=True, help="file (prune) or folder (export) to write")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        from ..config import load_config
        from ..training.cli import apply_overrides

        cfg = apply_overrides(load_config(args.config_file), args.opt)
        message = {"train": _train, "prune": _prune, "export": _export}[args.command](cfg, args)
    except PpfomError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: nothing half-written was left behind", file=sys.stderr)
        return 130
    if message:
        print(message)
    return 0


def _train(cfg: dict, args) -> str | None:
    from ..training.logs import setup_logging
    from ..training.trainer import check_config
    from .distill import DistillTrainer

    check_config(cfg)
    output = args.output_dir or cfg.get("output_dir", "output_dir")
    setup_logging(output, 0)
    last = DistillTrainer(cfg, output_dir=output, resume=args.resume).run()
    return f"wrote {last}" if last else None


def _prune(cfg: dict, args) -> str:
    from ..weights import load_networks
    from .prune import count_parameters, prune, save_pruned

    nets = load_networks(cfg, args.weight_path, inference=False)
    before = sum(count_parameters(n) for n in nets)
    prune(list(nets), args.ratio, args.criterion)
    save_pruned(*nets, args.output, args.ratio, args.criterion)
    after = sum(count_parameters(n) for n in nets)
    return f"wrote {args.output}: {before} -> {after} parameters ({1 - after / before:.1%} removed by PaddleSlim)"


def _export(cfg: dict, args) -> str:
    from ..exported.graphs import make_spec, save_static
    from ..weights import load_networks

    kp_detector, generator = load_networks(cfg, args.weight_path, inference=True)
    size = args.image_size or int(cfg["dataset"]["train"]["frame_shape"][0])
    spec = make_spec(kp_detector, generator, (size, size))
    return f"wrote {save_static(kp_detector, generator, spec, args.output, onnx=args.onnx)}"
