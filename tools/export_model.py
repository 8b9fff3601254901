"""Export a checkpoint for Paddle Inference / ONNX, with PaddleGAN's flags.

    python tools/export_model.py --config-file configs/firstorder_vox_256.yaml \
        --load vox-cpk.pdparams --inputs_size "1,3,256,256;1,3,256,256;1,10,2;1,10,2,2" \
        --output_dir inference_model [--onnx]
"""
import sys

from ppfom.exported.export_cli import main

if __name__ == "__main__":
    sys.exit(main())
