"""The FOM networks, one concept per module; see ``ppfom/__init__.py`` for the public names."""
from .dense_motion import DenseMotionNetwork
from .discriminator import MultiScaleDiscriminator
from .generator import OcclusionAwareGenerator
from .keypoint_detector import KPDetector

__all__ = ["DenseMotionNetwork", "KPDetector", "MultiScaleDiscriminator", "OcclusionAwareGenerator"]
