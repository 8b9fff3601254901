"""Tests of the PyTorch first-order-model -> PaddleGAN checkpoint conversion."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import paddle
import pytest

from ppfom.errors import PpfomError
from ppfom.torch_checkpoint import (
    convert_checkpoint,
    paddle_name,
    read_manifest,
    read_torch_checkpoint,
)

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"
PADDLE_MANIFEST = DATA / "ppgan_param_manifest.json"
TORCH = json.loads((DATA / "original_fomm_torch_manifest.json").read_text())["vox256_torch"]
PADDLE = read_manifest(PADDLE_MANIFEST, "vox256")


def _mapped(network: str) -> dict[str, tuple[int, ...]]:
    mapped = {}
    for name, shape, _ in TORCH[network]:
        new_name = paddle_name(network, name)
        if new_name is not None:
            assert new_name not in mapped, f"two torch entries map to {new_name}"
            mapped[new_name] = tuple(shape)
    return mapped


@pytest.mark.parametrize("network", ["generator", "kp_detector", "discriminator"])
def test_mapping_covers_paddlegan_both_ways(network):
    mapped = _mapped(network)
    assert set(mapped) - set(PADDLE[network]) == set()
    assert set(PADDLE[network]) - set(mapped) == set()
    for name, shape in PADDLE[network].items():
        assert mapped[name] == shape, name


def test_mapping_drops_only_batch_counters():
    dropped = [name for network in TORCH for name, *_ in TORCH[network] if paddle_name(network, name) is None]
    assert dropped and all(name.endswith(".num_batches_tracked") for name in dropped)


def test_mapping_renames_norms_per_network():
    assert paddle_name("generator", "first.norm.running_mean") == "first.norm._mean"
    assert paddle_name("kp_detector", "a.norm.running_var") == "a.norm._variance"
    # BatchNorm keeps "weight" in Paddle; only the discriminator's InstanceNorm differs.
    assert paddle_name("generator", "first.norm.weight") == "first.norm.weight"
    assert (
        paddle_name("discriminator", "discs.1.down_blocks.1.norm.weight")
        == "discs.1.down_blocks.1.norm.scale"
    )
    assert paddle_name("discriminator", "discs.0-5.conv.weight_orig") == "discs.0-5.conv.weight_orig"


def _fake_checkpoint(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    checkpoint = {}
    for network, entries in TORCH.items():
        checkpoint[network] = {
            name: (
                np.array(7, dtype=np.int64)
                if dtype == "int64"
                else rng.standard_normal(shape).astype(np.float64)
            )
            for name, shape, dtype in entries
        }
    checkpoint["optimizer_generator"] = {"state": {}, "param_groups": [{"lr": 2e-4}]}
    checkpoint["epoch"] = 99
    return checkpoint


def test_convert_checkpoint_keeps_networks_as_float32():
    checkpoint = _fake_checkpoint()
    converted = convert_checkpoint(checkpoint, "x.pth.tar", PADDLE)
    assert set(converted) == {"generator", "kp_detector", "discriminator"}
    weight = converted["discriminator"]["discs.1.down_blocks.1.norm.scale"]
    assert weight.dtype == np.float32
    np.testing.assert_allclose(
        weight, checkpoint["discriminator"]["discs.1.down_blocks.1.norm.weight"], rtol=1e-6
    )


def test_convert_checkpoint_discriminator_is_optional():
    checkpoint = _fake_checkpoint()
    del checkpoint["discriminator"]
    assert set(convert_checkpoint(checkpoint, "x", PADDLE)) == {"generator", "kp_detector"}


def test_convert_checkpoint_requires_generator():
    checkpoint = _fake_checkpoint()
    del checkpoint["generator"]
    with pytest.raises(PpfomError, match="'x.pth.tar' has no 'generator'"):
        convert_checkpoint(checkpoint, "x.pth.tar")


def test_convert_checkpoint_reports_misfit_against_manifest():
    checkpoint = _fake_checkpoint()
    name = "dense_motion_network.mask.weight"
    checkpoint["generator"][name] = np.zeros((1, 2, 3, 3))
    with pytest.raises(PpfomError) as exc:
        convert_checkpoint(checkpoint, "x.pth.tar", PADDLE)
    message = str(exc.value)
    assert "\n" not in message
    assert f"shape mismatch {name} (1,2,3,3) vs (11,108,7,7)" in message


def test_read_manifest_rejects_unknown_arch():
    with pytest.raises(PpfomError, match="no architecture 'vox1024'"):
        read_manifest(PADDLE_MANIFEST, "vox1024")


def test_read_torch_checkpoint_missing_file(tmp_path):
    with pytest.raises(PpfomError, match="does not exist"):
        read_torch_checkpoint(tmp_path / "none.pth.tar")


def test_missing_torch_is_a_one_line_hint(tmp_path, monkeypatch):
    path = tmp_path / "vox-cpk.pth.tar"
    path.write_bytes(b"x")
    monkeypatch.setitem(sys.modules, "torch", None)  # makes "import torch" fail
    with pytest.raises(PpfomError, match=r"^install torch .*: pip install torch$"):
        read_torch_checkpoint(path)


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / "convert_torch_checkpoint.py"), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_converts_a_torch_file(tmp_path):
    torch = pytest.importorskip("torch")
    checkpoint = _fake_checkpoint(seed=1)
    as_torch = {
        key: ({name: torch.from_numpy(value) for name, value in value.items()} if key in TORCH else value)
        for key, value in checkpoint.items()
    }
    source, destination = tmp_path / "vox-cpk.pth.tar", tmp_path / "vox-cpk.pdparams"
    torch.save(as_torch, source)

    result = _run_cli(str(source), str(destination), "--manifest", str(PADDLE_MANIFEST))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [destination.name, source.name]

    loaded = paddle.load(str(destination))
    assert set(loaded) == {"generator", "kp_detector", "discriminator"}
    for network, names in PADDLE.items():
        assert list(loaded[network]) == list(names)
        for torch_name, *_ in TORCH[network]:
            name = paddle_name(network, torch_name)
            if name is None:
                continue
            value = np.asarray(loaded[network][name])
            assert value.dtype == np.float32 and value.shape == names[name]
            np.testing.assert_allclose(value, checkpoint[network][torch_name], rtol=1e-6)


def test_cli_reports_a_non_checkpoint_in_one_line(tmp_path):
    pytest.importorskip("torch")
    source = tmp_path / "garbage.pth.tar"
    source.write_bytes(b"not a checkpoint at all")
    result = _run_cli(str(source), str(tmp_path / "out.pdparams"))
    assert result.returncode == 1
    # paddle may print its own import warnings; ours is the one "error:" line.
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and str(source) in errors[0]
    assert not (tmp_path / "out.pdparams").exists()


def test_converted_checkpoint_loads_into_ppfom_networks():
    """The converted layout is not just name-equal to a manifest: ppfom's own networks take it."""
    from ppfom.checkpoint import load_state
    from ppfom.config import (
        RELEASED,
        build_discriminator,
        build_generator,
        build_kp_detector,
        config_dir,
        load_config,
    )

    converted = convert_checkpoint(_fake_checkpoint(seed=2), "x.pth.tar", PADDLE)
    cfg = load_config(config_dir() / RELEASED["vox256"])
    for name, net in (("kp_detector", build_kp_detector(cfg)), ("generator", build_generator(cfg)),
                      ("discriminator", build_discriminator(cfg))):
        load_state(net, converted[name], name, source="x.pth.tar")
        first = next(iter(converted[name]))
        np.testing.assert_array_equal(net.state_dict()[first].numpy(), converted[name][first])
