"""Conversion of the original PyTorch first-order-model checkpoints.

The authors' ``vox-cpk.pth.tar`` holds the same networks as PaddleGAN's
``vox-cpk.pdparams`` under slightly different names; converting it lets users
start from the original release (or their own PyTorch training runs).

Renaming rules, checked entry by entry against both frameworks' manifests:

* BatchNorm statistics: ``running_mean`` -> ``_mean``, ``running_var`` ->
  ``_variance``. ``num_batches_tracked`` is dropped: Paddle's BatchNorm keeps
  no such counter and FOMM uses a fixed momentum, so it never matters.
* Discriminator: every ``norm`` there is an affine InstanceNorm, whose
  ``weight`` Paddle calls ``scale``. The multi-scale sub-networks are keyed
  ``discs.<scale with '.' as '-'>`` in both codes (``discs.1`` for vox-256), and
  spectral norm stores ``weight_orig``/``weight_u``/``weight_v`` with the same
  shapes and meaning in both, so those names pass unchanged.
* Entries with no Paddle counterpart (``num_batches_tracked``, the optimizer
  states ``optimizer_*`` and ``epoch``) are dropped: Adam's moments are keyed
  by parameter objects in torch and cannot be matched to Paddle's optimizer,
  so a converted checkpoint starts a fresh fine-tuning run. Any other name
  passes through renamed by the rules above; if an expected manifest is given,
  a leftover that Paddle does not know is reported as "unexpected".

Torch is an optional dependency and is imported only to read the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence

import numpy as np

from ppfom.checkpoint import REQUIRED_NETWORKS, describe_misfit, save_checkpoint, shape_of
from ppfom.errors import PpfomError

NETWORKS = ("generator", "kp_detector", "discriminator")

_BATCHNORM_RENAMES = {"running_mean": "_mean", "running_var": "_variance"}
_DROPPED_LEAVES = ("num_batches_tracked",)

Manifest = Mapping[str, Mapping[str, Sequence[int]]]


def paddle_name(network: str, name: str) -> str | None:
    """PaddleGAN's name for a torch state-dict entry; None if it has none."""
    parent, _, leaf = name.rpartition(".")
    if leaf in _DROPPED_LEAVES:
        return None
    leaf = _BATCHNORM_RENAMES.get(leaf, leaf)
    if network == "discriminator" and leaf == "weight" and _is_norm(parent):
        leaf = "scale"
    return f"{parent}.{leaf}" if parent else leaf


def _is_norm(module_path: str) -> bool:
    return module_path.rpartition(".")[2] == "norm"


def convert_state(network: str, state: Mapping[str, object]) -> dict[str, np.ndarray]:
    """Rename one network's torch state dict; floats become float32 arrays."""
    converted = {}
    for name, value in state.items():
        new_name = paddle_name(network, name)
        if new_name is not None:
            converted[new_name] = _to_numpy(value)
    return converted


def _to_numpy(value: object) -> np.ndarray:
    array = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
    if np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)
    return np.ascontiguousarray(array)


def convert_checkpoint(
    checkpoint: Mapping[str, object],
    source: str = "the checkpoint",
    expected: Manifest | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Convert a loaded torch checkpoint into PaddleGAN's layout.

    Only the networks are kept (see the module docstring for what is dropped).
    With ``expected`` (network -> name -> shape, e.g. from
    :func:`read_manifest`), every converted network that ``expected`` knows must
    match it exactly, so a wrong or truncated file fails here and not at
    inference time.
    """
    missing = [k for k in REQUIRED_NETWORKS if not isinstance(checkpoint.get(k), Mapping)]
    if missing:
        raise PpfomError(
            f"'{source}' has no {' or '.join(repr(k) for k in missing)} state dict: "
            "pass a first-order-model checkpoint such as vox-cpk.pth.tar"
        )
    converted = {
        net: convert_state(net, checkpoint[net])
        for net in NETWORKS
        if isinstance(checkpoint.get(net), Mapping)
    }
    for net, state in converted.items():
        if expected is not None and net in expected:
            _check(net, state, expected[net], source)
    return converted


def _check(
    net: str, state: Mapping[str, np.ndarray], expected: Mapping[str, Sequence[int]], source: str
) -> None:
    misfit = describe_misfit({k: shape_of(v) for k, v in state.items()}, expected)
    if misfit:
        raise PpfomError(
            f"'{source}' does not convert to the expected {net}: {misfit}: "
            "check that it is a vox-256 first-order-model checkpoint and the --arch"
        )


def read_manifest(path: str | os.PathLike, arch: str) -> dict[str, dict[str, tuple[int, ...]]]:
    """Expected names and shapes of ``arch`` from a ``ppgan_param_manifest.json``.

    The manifest lists ``[name, shape, dtype]`` per entry and network.
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError) as exc:
        raise PpfomError(
            f"cannot read manifest '{path}' ({type(exc).__name__}): pass a JSON manifest "
            "such as tests/data/ppgan_param_manifest.json"
        ) from None
    networks = manifest.get(arch) if isinstance(manifest, dict) else None
    if arch == "configs" or not isinstance(networks, dict):
        known = ", ".join(k for k in manifest if k != "configs") if isinstance(manifest, dict) else ""
        raise PpfomError(f"manifest '{path}' has no architecture '{arch}': use one of {known}")
    return {net: {name: tuple(shape) for name, shape, *_ in entries} for net, entries in networks.items()}


def read_torch_checkpoint(path: str | os.PathLike) -> Mapping[str, object]:
    """``torch.load`` on the CPU, restricted to plain data (no pickled code)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise PpfomError(f"PyTorch checkpoint '{path}' does not exist: check the path")
    try:
        import torch
    except ImportError:
        raise PpfomError("install torch to convert PyTorch checkpoints: pip install torch") from None
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure means "not a checkpoint"
        first = (str(exc).strip().splitlines() or [""])[0]
        raise PpfomError(
            f"'{path}' is not a readable PyTorch checkpoint ({type(exc).__name__}: {first}): "
            "pass the vox-cpk.pth.tar of first-order-model"
        ) from None
    if not isinstance(checkpoint, Mapping):
        raise PpfomError(f"'{path}' does not hold a dict: pass a first-order-model checkpoint")
    return checkpoint


def convert_file(
    source: str | os.PathLike,
    destination: str | os.PathLike,
    expected: Manifest | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Read a ``.pth.tar``, convert it and save it atomically as ``.pdparams``."""
    converted = convert_checkpoint(read_torch_checkpoint(source), os.fspath(source), expected)
    save_checkpoint(converted, destination)
    return converted
