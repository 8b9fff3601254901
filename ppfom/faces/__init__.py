"""Faces in the source photo: detect, crop, paste back, enhance, pick the best driving frame.

Cropping and pasting are numpy/OpenCV utilities testable without any network;
detectors and the GPEN enhancer are separate modules loaded only when used.
"""
from .crop import Crop, choose_crops, cut, expand
from .detector import DETECTORS, Face, FaceDetector, create_detector
from .paste import Paster, feather_mask

__all__ = ["DETECTORS", "Crop", "Face", "FaceDetector", "Paster", "choose_crops", "create_detector", "cut",
           "expand", "feather_mask"]
