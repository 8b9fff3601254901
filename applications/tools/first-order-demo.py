"""Animate a photo with a driving video: PaddleGAN's demo command, run by ppfom.

    python -u applications/tools/first-order-demo.py --source_image face.jpg \
        --driving_video drive.mp4 --relative --adapt_scale
"""
import sys

from ppfom.cli import main

if __name__ == "__main__":
    sys.exit(main())
