"""Filter pruning by PaddleSlim: its L1-norm or FPGM pruner scores and removes the filters.

PaddleSlim finds which channels are coupled (a residual sum, a BatchNorm, a
depthwise convolution, the next layer's inputs) by tracing the network into an
old-IR static program. Under Paddle 3 that needs three repairs, applied once
before PaddleSlim is imported: ``np.product`` (removed in numpy 2), a stub
``pkg_resources`` (gone from new setuptools, imported but unused), and Paddle
3's renamed ``to_static_mode_guard`` (with the no-op others use, parameters
stay eager tensors and shape inference fails, first on depthwise convolutions).

Paddle 3.3 has no old-IR kernels for the keypoint read-out (softmax, matmul)
or for sigmoid, so only the convolution paths are traced: they alone decide
which filters are coupled. PaddleSlim leaves output channels (keypoints,
colours, masks) and channels joined by concatenation (hourglass skips) alone.

``ratio`` is the fraction of the network's parameters to remove: the filter
ratio PaddleSlim applies to every coupled group is searched on its pruning
plans (cheap: no tracing) until the parameter count matches.
"""
from __future__ import annotations

import contextlib
import importlib.util
import sys
import types

import numpy as np
import paddle
from paddle import nn

from ..errors import PpfomError
from ..modules import KPDetector, OcclusionAwareGenerator
from ..modules.geometry import nearest_as_resize_op

INSTALL = ("pip install six requests decorator pyzmq matplotlib && pip install --no-deps paddleslim==2.6.0 "
           "(--no-deps: its opencv-python pin breaks under numpy 2)")
_CLASSES = {"l1_norm": "L1NormFilterPruner", "fpgm": "FPGMFilterPruner"}


def available() -> bool:
    return importlib.util.find_spec("paddleslim") is not None


def _paddleslim_dygraph():
    """``paddleslim.dygraph`` with the Paddle 3 / numpy 2 repairs in place."""
    if not available():
        raise PpfomError(f"PaddleSlim is not installed: {INSTALL}")
    if not hasattr(np, "product"):
        np.product = np.prod
    if "pkg_resources" not in sys.modules and importlib.util.find_spec("pkg_resources") is None:
        sys.modules["pkg_resources"] = types.ModuleType("pkg_resources")
    base = paddle.base.dygraph.base if hasattr(paddle, "base") else None
    if base is not None and not hasattr(base, "_to_static_mode_guard_"):
        base._to_static_mode_guard_ = base.to_static_mode_guard
    try:
        import paddleslim.dygraph as slim
    except ImportError as err:
        raise PpfomError(f"PaddleSlim does not import ({err}): {INSTALL}") from err
    return slim


class _KeypointConvs(nn.Layer):
    """The keypoint detector's convolutions, fed at the hourglass's own resolution."""

    def __init__(self, kp_detector: KPDetector):
        super().__init__()
        self.net = kp_detector

    def forward(self, x):
        features = self.net.predictor(x)
        heads = [self.net.kp(features)]
        if self.net.jacobian is not None:
            heads.append(self.net.jacobian(features))
        return heads


class _GeneratorConvs(nn.Layer):
    """Encoder -> bottleneck -> decoder (warping keeps channels) and the dense-motion convolutions."""

    def __init__(self, generator: OcclusionAwareGenerator):
        super().__init__()
        self.net = generator

    def forward(self, source, motion_input=None):
        g = self.net
        out = g.bottleneck(g.split_skip(g.encode(source))[0])
        for block in g.up_blocks:
            out = block(out)
        heads = [g.final(out)] + ([g.skip_mask(out)] if g.pixel_skip else [])
        motion = g.dense_motion_network
        if motion is not None:
            features = motion.hourglass(motion_input)
            heads.append(motion.mask(features))
            if motion.occlusion is not None:
                heads.append(motion.occlusion(features))
        return heads


def _side(min_side: int, depth: int, scale: float = 1.0) -> int:
    """Smallest power-of-two image side whose ``scale`` copy survives ``depth`` halvings."""
    side = 64
    while side * scale < max(min_side, 2 ** depth):
        side *= 2
    return side


def _trace_inputs(net: nn.Layer) -> tuple[nn.Layer, list]:
    if isinstance(net, KPDetector):
        side = int(_side(8, len(net.predictor.encoder.down_blocks), net.scale_factor) * net.scale_factor)
        return _KeypointConvs(net), [1, net.num_channels, side, side]
    if isinstance(net, OcclusionAwareGenerator):
        channels = net.num_channels
        motion = net.dense_motion_network
        if motion is None:
            side = _side(8, len(net.down_blocks))
            return _GeneratorConvs(net), [[1, channels, side, side]]
        side = _side(8, max(len(net.down_blocks), len(motion.hourglass.encoder.down_blocks)), motion.scale_factor)
        small = int(side * motion.scale_factor)
        return _GeneratorConvs(net), [[1, channels, side, side],
                                      [1, (motion.num_kp + 1) * (channels + 1), small, small]]
    raise PpfomError(f"cannot prune a {type(net).__name__}: give a keypoint detector or a generator")


def _remaining(plan, params: dict[str, paddle.Tensor]) -> int:
    """Learned parameters left if ``plan`` were applied."""
    total = 0
    for name, p in params.items():
        shape = list(p.shape)
        for mask in plan.masks.get(name, []):
            shape[mask.dims] = int(np.count_nonzero(mask.mask))
        total += int(np.prod(shape))
    return total


def prune(nets: nn.Layer | list[nn.Layer], ratio: float, criterion: str = "l1_norm") -> dict[str, tuple[int, int]]:
    """Remove about ``ratio`` of the learned parameters of ``nets`` (together) in place.

    One filter ratio for every coupled group of every network; returns
    ``{'<network>.<conv>': (filters before, after)}`` for the convolutions that shrank.
    """
    nets = [nets] if isinstance(nets, nn.Layer) else list(nets)
    if criterion not in _CLASSES:
        raise PpfomError(f"pruning criterion '{criterion}' is not known: use one of {', '.join(_CLASSES)}")
    if not 0 <= ratio < 1:
        raise PpfomError(f"pruning ratio {ratio} is outside [0, 1): give the fraction of parameters to remove")
    slim = _paddleslim_dygraph()
    pruners = [_pruner(slim, net, criterion) for net in nets]
    before = [{n: int(p.shape[0]) for n, p in net.named_parameters()} for net in nets]
    filters = _filter_ratio(pruners, nets, ratio)
    report = {}
    for i, (net, (pruner, masters)) in enumerate(zip(nets, pruners)):
        if filters > 0 and masters:
            pruner.prune_vars({m: filters for m in masters}, [0])
        _drop_backups(net)
        _sync_widths(net)
        report.update({f"{type(net).__name__}.{n}": (before[i][n], int(p.shape[0]))
                       for n, p in net.named_parameters()
                       if len(p.shape) == 4 and before[i][n] != int(p.shape[0])})
    return report


def _pruner(slim, net: nn.Layer, criterion: str):
    """PaddleSlim's pruner over ``net``'s convolutions, and the groups it found."""
    wrapper, inputs = _trace_inputs(net)
    was_training = net.training
    net.eval()
    with _old_ir(), nearest_as_resize_op(), contextlib.redirect_stdout(sys.stderr):
        pruner = getattr(slim, _CLASSES[criterion])(wrapper, inputs)
    net.train(was_training)
    return pruner, [c.master_name for c in pruner.collections]


def _learned(net: nn.Layer) -> dict[str, paddle.Tensor]:
    return {p.name: p for n, p in net.named_parameters() if not n.endswith(("_mean", "_variance"))}


def _filter_ratio(pruners: list, nets: list[nn.Layer], ratio: float) -> float:
    """Bisect the filter ratio that removes ``ratio`` of all the networks' parameters."""
    params = [_learned(net) for net in nets]
    total = sum(int(np.prod(p.shape)) for group in params for p in group.values())
    if ratio == 0:
        return 0.0

    def removed(r: float) -> float:
        left = sum(_remaining(pruner.prune_vars({m: r for m in masters}, [0], apply=None), group)
                   if masters else sum(int(np.prod(p.shape)) for p in group.values())
                   for (pruner, masters), group in zip(pruners, params))
        return 1 - left / total

    most = removed(0.95)
    if most < ratio - 0.01:
        raise PpfomError(f"pruning ratio {ratio} is more than filter pruning can remove here "
                         f"(at most {most:.2f} of the parameters): ask for less")
    low, high = 0.0, 0.95
    for _ in range(12):
        mid = (low + high) / 2
        low, high = (mid, high) if removed(mid) < ratio else (low, mid)
    return high


@contextlib.contextmanager
def _old_ir():
    guard = getattr(getattr(paddle, "pir_utils", None), "OldIrGuard", None)
    with guard() if guard is not None else contextlib.nullcontext():
        yield


def _drop_backups(net: nn.Layer) -> None:
    """PaddleSlim keeps full-size ``<param>_backup`` buffers for undoing; a pruned model has no use for them."""
    for layer in net.sublayers(include_self=True):
        for name in [b for b in layer._buffers if b.endswith("_backup")]:
            del layer._buffers[name]


def _sync_widths(net: nn.Layer) -> None:
    """Keep the layers' recorded widths (repr, export) in step with their pruned weights."""
    for layer in net.sublayers(include_self=True):
        if isinstance(layer, nn.Conv2D):
            out_c, in_per_group = (int(d) for d in layer.weight.shape[:2])
            layer._out_channels = out_c
            layer._in_channels = in_per_group * layer._groups
        elif isinstance(layer, nn.layer.norm._BatchNormBase):
            layer._num_features = int(layer.weight.shape[0])
