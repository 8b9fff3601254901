"""Shared fixtures: the reference data copied from PaddleGAN runs lives in tests/data."""
from __future__ import annotations

import json
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
import yaml

from media import moving_square_frames, write_video
from small_model import small_config

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def param_manifest() -> dict:
    return json.loads((DATA / "ppgan_param_manifest.json").read_text())


@pytest.fixture(scope="session")
def reference() -> np.lib.npyio.NpzFile:
    return np.load(DATA / "ppgan_fom_small.npz")


@pytest.fixture
def config_file(tmp_path, param_manifest) -> str:
    """The small model's config as a YAML file, as a user would pass --config."""
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(small_config(param_manifest)))
    return str(path)


@pytest.fixture
def source_png(tmp_path) -> str:
    rng = np.random.default_rng(0)
    path = tmp_path / "source.png"
    imageio.imwrite(path, rng.integers(0, 256, (100, 120, 3), dtype=np.uint8))
    return str(path)


@pytest.fixture
def driving_mp4(tmp_path) -> str:
    """Nine frames at 12.5 fps with one second of audio."""
    return write_video(tmp_path / "driving.mp4", moving_square_frames(9), fps=12.5, audio_seconds=1.0)
