"""Live animation: a camera drives a photo, one frame in, one animated frame out.

The pieces, each its own module, shared by the web page's WebSocket
(``ppfom.web``) and ``tools/live.py``:

* :mod:`.models`: which models exist here (bundled demo always; mobile and vox-256 when
  their weights are on disk) and loading them once.
* :mod:`.follow`: the square of the camera frame the model sees (around the face,
  RetinaFace every few frames, smoothed; else the centre square).
* :mod:`.session`: the photo's keypoints once, the reference pose, frame -> frame.
* :mod:`.slot`: "latest frame wins": a frame arriving while one waits replaces it.
* :mod:`.runner`: the worker thread that takes from the slot and animates.
* :mod:`.camera`: frames from a video file at its own rate, or an OpenCV camera.
"""
from .models import LiveModels, ModelEntry
from .runner import LiveRunner, Result
from .session import LiveSession
from .slot import LatestSlot

__all__ = ["LatestSlot", "LiveModels", "LiveRunner", "LiveSession", "ModelEntry", "Result"]
