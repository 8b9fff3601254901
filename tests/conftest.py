"""Shared fixtures: the reference data copied from PaddleGAN runs lives in tests/data."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def param_manifest() -> dict:
    return json.loads((DATA / "ppgan_param_manifest.json").read_text())


@pytest.fixture(scope="session")
def reference() -> np.lib.npyio.NpzFile:
    return np.load(DATA / "ppgan_fom_small.npz")
