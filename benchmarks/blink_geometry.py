"""Whether a cartoon model closes the source's eyes when the driving face blinks (issue #16).

Each identity is drawn twice at the demo's still pose, eyes open (0.9, the source) and half closed
(0.45, the driving frame); the model animates the one by the other (absolute keypoints: same identity,
same pose). Prints how much of the eyes' white stays visible, closed over open:

- truth: in the half-closed frame itself;
- warp: where the deformation sends the source's eye white (the output pixels that sample it);
- result: in the animated frame;

and the vertical relative jacobian (J_closed J_open^-1) of the keypoint whose share of the motion mask
is largest at each eye (the one that moves it). A model that ignores blinks prints about 1 for all but
the truth.

    python benchmarks/blink_geometry.py [--config C --weights W] [--identities 12]
"""
from __future__ import annotations

import sys

import cv2
import numpy as np
import paddle
from cartoon_probe import probe_setup

from ppfom import frames, synthetic
from ppfom.predictor import FirstOrderPredictor

WHITE = np.array([250, 250, 250])  # synthetic: the eyes' white
OPEN, CLOSED = 0.9, 0.45
FINE = 256  # the size the warp is followed at


def eye_white(image: np.ndarray, ident: synthetic.Identity, pose: dict) -> np.ndarray:
    """Pixels of the eyes' white colour (within 40) in boxes around the two eyes."""
    size = image.shape[0]
    marks = synthetic.landmarks(ident, pose, size)
    half = np.linalg.norm(marks[1] - marks[0]) * 0.4
    yy, xx = np.mgrid[0:size, 0:size]
    near = np.zeros((size, size), bool)
    for eye in marks[:2]:
        near |= (np.abs(xx - eye[0]) < half) & (np.abs(yy - eye[1]) < half)
    return near & (np.linalg.norm(image[..., :3].astype(np.float64) - WHITE, axis=-1) < 40)


def measure(pred: FirstOrderPredictor, ident: synthetic.Identity, size: int = 64) -> dict[str, float]:
    opened, closed = dict(synthetic.STILL_POSE, eyes=OPEN), dict(synthetic.STILL_POSE, eyes=CLOSED)
    fine_open = eye_white(synthetic.render(ident, opened, FINE), ident, opened)
    fine_closed = eye_white(synthetic.render(ident, closed, FINE), ident, opened)
    source, driving = synthetic.render(ident, opened, size), synthetic.render(ident, closed, size)
    with paddle.no_grad():
        src, drv = paddle.to_tensor(frames.to_nchw(source[None])), paddle.to_tensor(frames.to_nchw(driving[None]))
        kp_s, kp_d = pred.kp_detector(src), pred.kp_detector(drv)
        out = pred.generator(src, kp_d, kp_s)
        motion = pred.generator.dense_motion_network(src, kp_d, kp_s)
        grid, mask = motion["deformation"].numpy()[0], motion["mask"].numpy()[0]
    grid = cv2.resize(grid, (FINE, FINE), interpolation=cv2.INTER_LINEAR)
    sample = np.clip(np.round((grid + 1) / 2 * (FINE - 1)), 0, FINE - 1).astype(int)
    warped = fine_open[sample[..., 1], sample[..., 0]]
    result = frames.to_uint8(out["prediction"].numpy())[0]
    stretch = []
    for x, y in np.round(synthetic.landmarks(ident, opened, size)[:2]).astype(int):
        k = int(np.argmax(mask[1:, y, x]))  # channel 0 is the background's
        stretch.append((kp_d["jacobian"].numpy()[0, k] @ np.linalg.inv(kp_s["jacobian"].numpy()[0, k]))[1, 1])
    white_source = eye_white(source, ident, opened).sum()
    return {"truth": fine_closed.sum() / fine_open.sum(), "warp": warped.sum() / fine_open.sum(),
            "result": eye_white(result, ident, opened).sum() / white_source,
            "truth at 64": eye_white(driving, ident, opened).sum() / white_source,
            "keypoints": float(np.mean(np.abs(stretch)))}


def main(argv: list[str] | None = None) -> int:
    args, pred, identities = probe_setup(__doc__.splitlines()[0], argv)
    rows = [measure(pred, ident) for ident in identities]
    print(f"{args.weights}: eyes {OPEN} -> {CLOSED}, {args.identities} identities (seed {args.seed}); "
          "eye white visible, closed / open")
    for key in ("truth", "warp", "truth at 64", "result", "keypoints"):
        values = np.array([r[key] for r in rows])
        label = "keypoints (vertical stretch)" if key == "keypoints" else key
        print(f"  {label:28s} {values.mean():.2f} +- {values.std():.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
