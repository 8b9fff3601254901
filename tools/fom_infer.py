"""Animate a photo with graphs exported by tools/export_model.py (Paddle Inference or onnxruntime).

    python tools/fom_infer.py --model_path inference_model --source_path face.jpg \
        --driving_path drive.mp4 --output_path infer_output/fom/ [--backend onnxruntime]
"""
import sys

from ppfom.exported.infer_cli import main

if __name__ == "__main__":
    sys.exit(main())
