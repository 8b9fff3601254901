"""A local web page for ppfom: upload a photo and a driving video, or animate a photo live from a webcam.

``python -m ppfom.web`` serves it on http://127.0.0.1:7860/ (Starlette on uvicorn):
:mod:`.server` answers HTTP, :mod:`.uploads` streams uploads to disk, :mod:`.jobs`
runs them one at a time in temporary folders, :mod:`.live_socket` is the live page's
WebSocket over :mod:`ppfom.live`, and ``static/`` holds the pages.
"""
from .jobs import Options, Predictors
from .live_socket import LiveHub
from .server import create_server, is_loopback

__all__ = ["LiveHub", "Options", "Predictors", "create_server", "is_loopback"]
