"""ppfom: the First Order Motion Model in PaddlePaddle.

Frames at the edges of the package (files, the predictor's inputs and
outputs) are HxWx3 uint8 RGB; inside, networks see NCHW float32 in [0, 1]
(see :mod:`ppfom.frames`).
"""
# PIL before Paddle: Paddle 2.6 wheels load an older zlib that breaks PIL's PNG decoding if it comes first.
import PIL.Image  # noqa: F401  (isort: skip)

from .errors import PpfomError, PpfomWarning
from .modules import KPDetector, MultiScaleDiscriminator, OcclusionAwareGenerator
from .motion_transfer import normalize_kp
from .predictor import FirstOrderPredictor

__version__ = "0.1.0"

__all__ = [
    "FirstOrderPredictor",
    "KPDetector",
    "MultiScaleDiscriminator",
    "OcclusionAwareGenerator",
    "PpfomError",
    "PpfomWarning",
    "__version__",
    "normalize_kp",
]
