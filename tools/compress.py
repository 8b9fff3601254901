"""Compress FOM: ``python tools/compress.py {train,prune,export} --config-file configs/firstorder_vox_mobile_256.yaml``.

See ppfom/compression/cli.py for the subcommands and README.md ("Compression") for the procedure.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Load PIL's zlib before Paddle's: Paddle 2.6 wheels bring an older zlib that breaks PNG decoding if first.
import PIL.Image  # noqa: F401

from ppfom.compression.cli import main

if __name__ == "__main__":
    sys.exit(main())
