"""Crop a driving video around its face, as ``--crop_driving auto`` reads it, and print the box.

    python tools/crop_video.py IN.mp4 OUT.mp4 [--image_size 256]
"""
import sys

from ppfom.crop_video_cli import main

if __name__ == "__main__":
    sys.exit(main())
