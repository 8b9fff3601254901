"""Evaluate a FOM checkpoint: ``python tools/evaluate.py --config-file X --weight_path CKPT [--dataroot D]``.

Reports reconstruction L1 (source = first frame) and average keypoint distance, each next to the
no-motion baseline.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Load PIL's zlib before Paddle's: Paddle 2.6 wheels bring an older zlib that breaks PNG decoding if first.
import PIL.Image  # noqa: F401

from ppfom.training.cli import evaluate_main

if __name__ == "__main__":
    sys.exit(evaluate_main())
