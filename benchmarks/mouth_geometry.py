"""Where a cartoon model loses an opening mouth: in the keypoints, in the warp, or in the painting (issue #16).

Each identity is drawn twice at the demo's still pose, lips just apart (source) and mouth wide open
(driving); the model animates the one by the other (absolute keypoints: same identity, same pose). For
the mouth's shape (the lips and their dark inside, found by colour in 256-pixel renders) it prints the
spread (standard deviation) across and down, open over closed, three times:

- truth: the open mouth's own;
- keypoints: the relative jacobian of the keypoint nearest the mouth (J_open J_closed^-1, its diagonal);
- warp: where the deformation sends the source's mouth pixels (the output pixels that sample them).

and for the painting, the mean luminance of the result inside the true open mouth against the truth's
(1 = as dark as the truth; the source's lips are lighter than the inside of an open mouth).

    python benchmarks/mouth_geometry.py [--config C --weights W] [--identities 12]
"""
from __future__ import annotations

import sys

import cv2
import numpy as np
import paddle
from cartoon_probe import probe_setup

from ppfom import frames, synthetic
from ppfom.predictor import FirstOrderPredictor

INSIDE = np.array([60, 20, 30])  # synthetic.Face.features: the open mouth's inside
CLOSED, OPEN = 0.3, 0.95
FINE = 256  # the size the shapes are measured at


def mouth_mask(ident: synthetic.Identity, pose: dict, size: int) -> np.ndarray:
    """The lips and the mouth's inside: the blob of their colours (within 30) at the mouth's centre."""
    image = synthetic.render(ident, pose, size).astype(np.float64)
    marks = synthetic.landmarks(ident, pose, size)
    centre, half = (marks[3] + marks[4]) / 2, np.linalg.norm(marks[4] - marks[3])
    yy, xx = np.mgrid[0:size, 0:size]
    near = (np.abs(xx - centre[0]) < half) & (np.abs(yy - centre[1]) < half)
    close = [np.linalg.norm(image - np.asarray(colour, np.float64), axis=-1) < 30 for colour in (ident.lips, INSIDE)]
    mask = near & (close[0] | close[1])
    _, labels = cv2.connectedComponents(mask.astype(np.uint8))  # only the blob at the mouth's centre, not a
    return labels == labels[round(centre[1]), round(centre[0])]  # cheek or beard of the same colour


def spread(mask: np.ndarray) -> np.ndarray:
    """(across, down) standard deviation of a mask's pixels."""
    ys, xs = np.nonzero(mask)
    return np.array([xs.std(), ys.std()])


def luminance(image: np.ndarray) -> np.ndarray:
    return image[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def measure(pred: FirstOrderPredictor, ident: synthetic.Identity, size: int = 64) -> dict[str, np.ndarray]:
    closed, opened = dict(synthetic.STILL_POSE, mouth=CLOSED), dict(synthetic.STILL_POSE, mouth=OPEN)
    truth = spread(mouth_mask(ident, opened, FINE)) / spread(mouth_mask(ident, closed, FINE))
    source, driving = synthetic.render(ident, closed, size), synthetic.render(ident, opened, size)
    kp_net, generator = pred.kp_detector, pred.generator
    with paddle.no_grad():
        src, drv = paddle.to_tensor(frames.to_nchw(source[None])), paddle.to_tensor(frames.to_nchw(driving[None]))
        kp_s, kp_d = kp_net(src), kp_net(drv)
        out = generator(src, kp_d, kp_s)
        grid = generator.dense_motion_network(src, kp_d, kp_s)["deformation"].numpy()[0]
    mouth = (synthetic.landmarks(ident, closed, size)[3:5].mean(0) / (size - 1)) * 2 - 1
    k = int(np.argmin(np.linalg.norm(kp_s["value"].numpy()[0] - mouth, axis=-1)))
    jacobian = kp_d["jacobian"].numpy()[0, k] @ np.linalg.inv(kp_s["jacobian"].numpy()[0, k])
    source_mouth = mouth_mask(ident, closed, FINE)  # the warp followed at 256 pixels: a closed mouth is 2-3 rows at 64
    grid = cv2.resize(grid, (FINE, FINE), interpolation=cv2.INTER_LINEAR)
    sample = np.clip(np.round((grid + 1) / 2 * (FINE - 1)), 0, FINE - 1).astype(int)
    warped = source_mouth[sample[..., 1], sample[..., 0]]
    open_mask = mouth_mask(ident, opened, size)
    result = frames.to_uint8(out["prediction"].numpy())[0]
    return {"truth": truth, "keypoints": np.abs(np.diag(jacobian)), "warp": spread(warped) / spread(source_mouth),
            "paint": np.array([luminance(result)[open_mask].mean() / luminance(driving)[open_mask].mean()])}


def main(argv: list[str] | None = None) -> int:
    args, pred, identities = probe_setup(__doc__.splitlines()[0], argv)
    rows = [measure(pred, ident) for ident in identities]
    print(f"{args.weights}: mouth {CLOSED} -> {OPEN}, {args.identities} identities (seed {args.seed}); "
          "spread across x down, open / closed")
    for key in ("truth", "keypoints", "warp"):
        values = np.stack([r[key] for r in rows])
        print(f"  {key:9s} across {values[:, 0].mean():.2f} +- {values[:, 0].std():.2f}  "
              f"down {values[:, 1].mean():.2f} +- {values[:, 1].std():.2f}")
    paint = np.array([r["paint"][0] for r in rows])
    print(f"  paint     luminance inside the open mouth, result / truth {paint.mean():.2f} +- {paint.std():.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
