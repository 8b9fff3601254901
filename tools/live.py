"""Animate a photo live: a camera (or a video file at its own rate) drives it; preview, virtual camera or file.

    python tools/live.py --source_image photo.jpg [--camera 0 | --driving_video clip.mp4]
                         [--virtual_camera] [--output live.mp4] [--mobile_net | --demo]
"""
import sys

from ppfom.live_cli import main

if __name__ == "__main__":
    sys.exit(main())
