"""A local web page for ppfom: upload a photo and a driving video, pick options, download the result.

``python -m ppfom.web`` serves it on http://127.0.0.1:7860/. Standard library only:
:mod:`.server` answers HTTP, :mod:`.multipart` streams uploads to disk, :mod:`.jobs`
runs them one at a time in temporary folders, and ``static/`` holds the page.
"""
from .jobs import Options, Predictors
from .server import create_server, is_loopback

__all__ = ["Options", "Predictors", "create_server", "is_loopback"]
