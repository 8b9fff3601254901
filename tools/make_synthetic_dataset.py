"""Write a small cartoon-face video dataset (and demo inputs) without downloading anything.

    python tools/make_synthetic_dataset.py data/synthetic                 # train/ test/ landmarks/
    python tools/make_synthetic_dataset.py data/synthetic --layout mp4    # .mp4 files instead of frame folders
    python tools/make_synthetic_dataset.py data/varied --style varied     # patterned backgrounds, hair, glasses...
    python tools/make_synthetic_dataset.py samples --demo                 # cartoon_source.png + cartoon_driving.mp4
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppfom.synthetic import make_dataset, make_demo_inputs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("root", help="output folder")
    p.add_argument("--size", type=int, default=64, help="frame size in pixels (square)")
    p.add_argument("--train-identities", type=int, default=24)
    p.add_argument("--test-identities", type=int, default=6)
    p.add_argument("--clips", type=int, default=3, help="clips per identity")
    p.add_argument("--frames", type=int, default=32, help="frames per clip")
    p.add_argument("--layout", default="folder", choices=["folder", "mp4", "gif", "mov", "png"],
                   help="folder of numbered PNGs, a video file, or a PNG strip per clip")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--style", default="plain", choices=["plain", "varied"],
                   help="plain: one-colour backgrounds and faces; varied: patterned backgrounds, face shapes, "
                        "hair styles, brows, glasses, hats, earrings")
    p.add_argument("--demo", action="store_true", help="write a demo source image and driving video instead")
    args = p.parse_args(argv)
    if args.demo:
        source, driving = make_demo_inputs(args.root, size=args.size, style=args.style)
        print(f"wrote {source} and {driving}")
        return 0
    written = make_dataset(args.root, size=args.size, identities=(args.train_identities, args.test_identities),
                           clips_per_identity=args.clips, num_frames=args.frames, layout=args.layout,
                           seed=args.seed, style=args.style)
    print(f"wrote {len(written['train'])} training and {len(written['test'])} test clips under {args.root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
