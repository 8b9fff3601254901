"""Convert the original PyTorch first-order-model checkpoint to PaddleGAN's format.

Usage: python tools/convert_torch_checkpoint.py vox-cpk.pth.tar vox-cpk.pdparams

Needs torch (pip install torch). The networks are renamed as described in
ppfom/torch_checkpoint.py; optimizer states and the epoch counter are dropped.
"""

from __future__ import annotations

import argparse
import os
import sys

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_MANIFEST = os.path.join(_REPO, "tests", "data", "ppgan_param_manifest.json")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="PyTorch checkpoint, e.g. vox-cpk.pth.tar")
    parser.add_argument("destination", help="output .pdparams file")
    parser.add_argument(
        "--manifest",
        default=None,
        help="JSON manifest of PaddleGAN's names and shapes to check the result "
        f"against (e.g. {os.path.relpath(_MANIFEST)}); no check if omitted",
    )
    parser.add_argument("--arch", default="vox256", help="architecture in the manifest (default vox256)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the conversion; a user error prints one line and returns 1."""
    args = _parser().parse_args(argv)
    # Runs from a source checkout without installing ppfom.
    sys.path.insert(0, _REPO)
    from ppfom.errors import PpfomError
    from ppfom.torch_checkpoint import convert_file, read_manifest

    try:
        expected = read_manifest(args.manifest, args.arch) if args.manifest else None
        converted = convert_file(args.source, args.destination, expected)
    except PpfomError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{net} {len(state)} entries" for net, state in converted.items())
    print(f"wrote {args.destination}: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
