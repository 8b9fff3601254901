"""Evaluate a FOM checkpoint: ``python tools/evaluate.py --config-file X --weight_path CKPT [--dataroot D]``.

Reports reconstruction L1 (source = first frame) and average keypoint distance, each next to the
no-motion baseline.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppfom.training.cli import evaluate_main

if __name__ == "__main__":
    sys.exit(evaluate_main())
