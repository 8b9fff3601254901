"""Several processes (``python -m paddle.distributed.launch``): who am I, and agreeing on gradients.

Gradients are averaged with one all-reduce per step over a flat buffer
instead of wrapping the models in ``paddle.DataParallel``: the generator and
discriminator steps share layers and skip unused ones (zero loss weights),
which DataParallel's hooks handle poorly, and an explicit average works the
same with gloo on CPUs and NCCL on GPUs.
"""
from __future__ import annotations

import paddle
import paddle.distributed as dist
from paddle import nn


def world_size() -> int:
    return dist.get_world_size()


def rank() -> int:
    return dist.get_rank()


def init() -> None:
    """Join the process group when launched with several processes."""
    if world_size() > 1:
        dist.init_parallel_env()


def use_sync_batchnorm(layer: nn.Layer) -> nn.Layer:
    """SyncBatchNorm when several GPU processes train; it has no CPU kernel, and names stay the same."""
    if world_size() > 1 and paddle.device.is_compiled_with_cuda() and "gpu" in paddle.device.get_device():
        return nn.SyncBatchNorm.convert_sync_batchnorm(layer)
    return layer


def broadcast_parameters(layers: list[nn.Layer]) -> None:
    """Start every process from rank 0's weights (and BatchNorm statistics)."""
    if world_size() == 1:
        return
    for layer in layers:
        for tensor in layer.state_dict().values():
            dist.broadcast(tensor, src=0)


def average_gradients(params: list) -> None:
    """Replace each gradient by its mean over processes (one all-reduce for all of them)."""
    n = world_size()
    if n == 1:
        return
    with_grad = [p for p in params if p.grad is not None]
    if not with_grad:
        return
    flat = paddle.concat([p.grad.reshape([-1]) for p in with_grad])
    dist.all_reduce(flat)
    flat = flat / n
    offset = 0
    for p in with_grad:
        size = int(p.grad.numel())
        p.grad.set_value(flat[offset:offset + size].reshape(p.grad.shape))
        offset += size


def mean_over_processes(values: dict[str, float]) -> dict[str, float]:
    """Loss values averaged over processes, for the log."""
    if world_size() == 1 or not values:
        return values
    keys = sorted(values)
    t = paddle.to_tensor([values[k] for k in keys], dtype="float32")
    dist.all_reduce(t)
    return dict(zip(keys, (t / world_size()).numpy().tolist()))
