"""The models a live session can use, and loading each once.

The bundled demo model (64x64 cartoon faces, ``ppfom/assets``) is always there.
The mobile and vox-256 models need PaddleGAN's published weights, which a live
page must not download mid-session: they are offered when the file is in
``$PPFOM_HOME`` (where ``python -m ppfom`` downloads it) or given on the command
line, and listed as missing otherwise, with the fix.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..checkpoint import PUBLISHED_WEIGHTS, default_cache_dir
from ..config import RELEASED, config_dir, load_config
from ..errors import PpfomError

log = logging.getLogger("ppfom.live")
ASSETS = Path(__file__).resolve().parent.parent / "assets"
DEMO = "demo"


@dataclass(frozen=True)
class ModelEntry:
    """One choice on the page: where its config and weights are, and whether they exist."""

    name: str
    label: str
    config: str
    weights: str
    image_size: int

    @property
    def available(self) -> bool:
        return os.path.isfile(self.weights)

    def describe(self) -> dict[str, Any]:
        """What the page shows: the label, and why a model cannot be chosen."""
        missing = None if self.available else (
            f"weights missing: put {os.path.basename(self.weights)} in {os.path.dirname(self.weights)} "
            "or start with --weight_path")
        return {"name": self.name, "label": self.label, "available": self.available, "missing": missing,
                "image_size": self.image_size}


def _published(key: str, given: str | None) -> str:
    if given:
        return given
    return os.path.join(default_cache_dir(), os.path.basename(PUBLISHED_WEIGHTS[key]))


def default_entries(mobile_weights: str | None = None, vox_weights: str | None = None,
                    custom: tuple[str, str, int] | None = None) -> list[ModelEntry]:
    """demo, mobile and vox-256 (published weights in $PPFOM_HOME unless given), plus a ``custom``
    (config, weights, image size) model when the server was started with one."""
    entries = [ModelEntry(DEMO, "demo (bundled, 64x64 cartoon faces)", str(ASSETS / "synthetic64.yaml"),
                          str(ASSETS / "synthetic64.pdparams"), 64),
               ModelEntry("mobile", "mobile (vox, 256)", str(config_dir() / RELEASED["vox_mobile256"]),
                          _published("vox_mobile256", mobile_weights), 256),
               ModelEntry("vox256", "vox-256", str(config_dir() / RELEASED["vox256"]),
                          _published("vox256", vox_weights), 256)]
    if custom is not None:
        config, weights, size = custom
        entries.append(ModelEntry("custom", f"{Path(weights).name} (the server's model)", config, weights, size))
    return entries


@dataclass
class LoadedModel:
    """A model's networks in eval mode, with what exporting them for a backend needs."""

    entry: ModelEntry
    cfg: dict
    kp_detector: Any
    generator: Any
    backend: str = "auto"

    @property
    def image_size(self) -> int:
        return self.entry.image_size

    def animator(self, relative: bool, adapt_scale: bool):
        """A fresh animator (exported graphs are cached on disk, so only the first costs an export)."""
        import paddle

        from ..animator import create_animator

        return create_animator(self.backend, self.kp_detector, self.generator, relative, adapt_scale,
                               cfg=self.cfg, image_size=(self.image_size,) * 2, batch_size=1,
                               device=paddle.get_device())


class LiveModels:
    """The catalog plus the loaded networks, each model read once per process."""

    def __init__(self, entries: list[ModelEntry] | None = None, backend: str = "auto"):
        self.entries = {e.name: e for e in (entries or default_entries())}
        self.backend = backend
        self._loaded: dict[str, LoadedModel] = {}
        self._lock = threading.Lock()

    def describe(self) -> list[dict[str, Any]]:
        return [e.describe() for e in self.entries.values()]

    def default(self) -> str:
        """The best available model: custom, then vox-256, mobile, demo."""
        for name in ("custom", "vox256", "mobile"):
            if name in self.entries and self.entries[name].available:
                return name
        return DEMO

    def load(self, name: str) -> LoadedModel:
        """The model called ``name``; one-line errors for unknown names and missing weights."""
        with self._lock:
            if name in self._loaded:
                return self._loaded[name]
        entry = self.entries.get(name)
        if entry is None:
            raise PpfomError(f"model '{name[:40]}' is unknown: choose one of {', '.join(self.entries)}")
        if not entry.available:
            raise PpfomError(f"model {name}: {entry.describe()['missing']}")
        with self._lock:
            if name not in self._loaded:
                from ..weights import load_networks

                cfg = load_config(entry.config)
                kp, gen = load_networks(cfg, entry.weights, inference=True)
                self._loaded[name] = LoadedModel(entry, cfg, kp, gen, self.backend)
            return self._loaded[name]

    def is_loaded(self, name: str) -> bool:
        with self._lock:
            return name in self._loaded

    def warm(self, name: str | None = None) -> threading.Thread:
        """Load ``name`` (default: :meth:`default`) and build an animator in the background, so the
        first live frame does not pay for reading weights and exporting graphs. Errors are left to
        the session that chooses the model, which reports them."""
        def work() -> None:
            try:
                self.load(name or self.default()).animator(relative=True, adapt_scale=True)
            except Exception as err:  # noqa: BLE001 - reported again, in one line, when the model is chosen
                log.info("warming the live model failed: %s", err)

        thread = threading.Thread(target=work, name="ppfom-live-warm", daemon=True)
        thread.start()
        return thread

    def add(self, model: LoadedModel) -> None:
        """Put an already built model in the catalog (benchmarks: seeded weights)."""
        with self._lock:
            self.entries[model.entry.name] = model.entry
            self._loaded[model.entry.name] = model
