"""Write a small cartoon-face video dataset (and demo inputs) without downloading anything.

    python tools/make_synthetic_dataset.py data/synthetic                 # train/ test/ landmarks/
    python tools/make_synthetic_dataset.py data/synthetic --layout mp4    # .mp4 files instead of frame folders
    python tools/make_synthetic_dataset.py data/varied --style varied     # patterned backgrounds, hair, glasses...
    python tools/make_synthetic_dataset.py samples --demo                 # cartoon_source.png + cartoon_driving.mp4
    python tools/make_synthetic_dataset.py samples --demo --faces 3       # cartoon_group.png + cartoon_portrait.mp4
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppfom.synthetic import STYLES, make_dataset, make_demo_inputs, make_group_inputs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("root", help="output folder")
    p.add_argument("--size", type=int, default=None,
                   help="frame size in pixels (square; default 64, with --faces 128 per face)")
    p.add_argument("--train-identities", type=int, default=24)
    p.add_argument("--test-identities", type=int, default=6)
    p.add_argument("--clips", type=int, default=3, help="clips per identity")
    p.add_argument("--frames", type=int, default=32, help="frames per clip")
    p.add_argument("--layout", default="folder", choices=["folder", "mp4", "gif", "mov", "png"],
                   help="folder of numbered PNGs, a video file, or a PNG strip per clip")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--style", default="plain", choices=STYLES,
                   help="plain: one-colour backgrounds and faces; varied: patterned backgrounds, face shapes, "
                        "hair styles, brows, glasses, hats, earrings; portrait: varied faces with human skin, "
                        "a neck and shoulders, that RetinaFace detects")
    p.add_argument("--demo", action="store_true", help="write a demo source image and driving video instead")
    p.add_argument("--faces", type=int, default=1,
                   help="with --demo: more than 1 writes a group photo of portrait faces for --multi_person")
    args = p.parse_args(argv)
    if args.faces < 1:
        p.error(f"--faces {args.faces}: use 1 or more")
    if args.faces > 1 and not args.demo:
        p.error("--faces is for the demo inputs: add --demo")
    if args.demo and args.faces > 1:
        source, driving = make_group_inputs(args.root, faces=args.faces, size=args.size or 128)
        print(f"wrote {source} and {driving}")
        return 0
    args.size = args.size or 64
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
