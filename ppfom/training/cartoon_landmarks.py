"""A landmark detector for the synthetic cartoon faces, for the keypoint-distance metric.

FOM's average keypoint distance (AKD) runs one landmark detector on the
generated and on the real frame and compares the two. Face detectors for
photos do not see cartoon faces, so this small CNN is trained on renderings
of :mod:`ppfom.synthetic`, whose five landmarks are known exactly (with blur
and noise, so it also reads the slightly soft frames a generator makes).
Its own error against the true landmarks is reported next to the AKD.
"""
from __future__ import annotations

import os

import cv2
import numpy as np
import paddle
from paddle import nn

from .. import synthetic

SIZE = 64
ASSET = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets",
                     "cartoon_landmarks64.pdparams")


class CartoonLandmarkNet(nn.Layer):
    """64x64 RGB in [0, 1] -> five (x, y) landmarks in pixels."""

    def __init__(self):
        super().__init__()
        layers, cin = [], 3
        for cout in (16, 32, 64, 64):
            layers += [nn.Conv2D(cin, cout, 3, padding=1), nn.BatchNorm2D(cout), nn.ReLU(),
                       nn.Conv2D(cout, cout, 3, stride=2, padding=1), nn.ReLU()]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(64 * 4 * 4, 128), nn.ReLU(),
                                  nn.Linear(128, 2 * len(synthetic.LANDMARKS)))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        out = self.head(self.features(x))
        return (out.reshape([x.shape[0], -1, 2]) + 0.5) * SIZE


def _random_batch(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    images, marks = [], []
    for _ in range(n):
        ident = synthetic.random_identity(rng)
        pose = {k: float(v[0]) for k, v in synthetic.random_motion(rng, 1).items()}
        pose["eyes"] = float(rng.uniform(0.1, 1.0))
        image = synthetic.render(ident, pose, SIZE).astype(np.float32)
        if rng.random() < 0.5:
            image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 1.2))
        image = np.clip(image + rng.normal(0, rng.uniform(0, 6), image.shape), 0, 255)
        images.append(image.transpose(2, 0, 1) / 255.0)
        marks.append(synthetic.landmarks(ident, pose, SIZE))
    return np.stack(images).astype(np.float32), np.stack(marks).astype(np.float32)


def train(steps: int = 2000, batch: int = 32, seed: int = 0, log_every: int = 100) -> CartoonLandmarkNet:
    """Fit the detector on freshly rendered faces (no dataset needed; every batch is new)."""
    paddle.seed(seed)
    rng = np.random.default_rng(seed)
    net = CartoonLandmarkNet()
    sched = paddle.optimizer.lr.CosineAnnealingDecay(1e-3, T_max=steps)
    opt = paddle.optimizer.Adam(sched, parameters=net.parameters())
    for step in range(steps):
        images, marks = _random_batch(rng, batch)
        loss = paddle.abs(net(paddle.to_tensor(images)) - paddle.to_tensor(marks)).mean()
        loss.backward()
        opt.step()
        opt.clear_grad()
        sched.step()
        if log_every and step % log_every == 0:
            print(f"step {step} L1 {float(loss):.3f} px", flush=True)
    net.eval()
    return net


def load(path: str = ASSET) -> CartoonLandmarkNet:
    net = CartoonLandmarkNet()
    net.set_state_dict(paddle.load(path))
    net.eval()
    return net


@paddle.no_grad()
def detect(net: CartoonLandmarkNet, images: np.ndarray) -> np.ndarray:
    """NCHW float32 [0, 1] frames of any size -> (N, 5, 2) landmarks in those frames' pixels."""
    h, w = images.shape[2:]
    if (h, w) != (SIZE, SIZE):
        images = np.stack([cv2.resize(im.transpose(1, 2, 0), (SIZE, SIZE), interpolation=cv2.INTER_AREA)
                           .transpose(2, 0, 1) for im in images])
    marks = net(paddle.to_tensor(np.ascontiguousarray(images, dtype=np.float32))).numpy()
    return marks * np.array([w / SIZE, h / SIZE], np.float32)


if __name__ == "__main__":
    import sys

    model = train(steps=int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
    paddle.save(model.state_dict(), sys.argv[2] if len(sys.argv) > 2 else ASSET)
    check_images, check_marks = _random_batch(np.random.default_rng(999), 256)
    err = np.linalg.norm(detect(model, check_images) - check_marks, axis=-1).mean()
    print(f"held-out mean landmark error {err:.3f} px")
