"""Train FOM: ``python tools/main.py --config-file configs/firstorder_fashion.yaml [--resume CKPT] [-o k=v]``.

Several processes: ``python -m paddle.distributed.launch --nproc_per_node N tools/main.py ...``.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppfom.training.cli import train_main

if __name__ == "__main__":
    sys.exit(train_main())
