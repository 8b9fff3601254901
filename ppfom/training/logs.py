"""Where training reports: a progress bar with the losses, a log file, VisualDL when installed."""
from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Self

log = logging.getLogger("ppfom.training")


def setup_logging(output_dir: str, rank: int = 0) -> None:
    """Messages to stderr and to ``output_dir/train.log`` (rank 0 only writes the file)."""
    log.setLevel(logging.INFO)
    log.propagate = False
    if log.handlers:
        return
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    console = logging.StreamHandler()
    console.setFormatter(fmt)
    log.addHandler(console)
    if rank == 0:
        os.makedirs(output_dir, exist_ok=True)
        handler = logging.FileHandler(os.path.join(output_dir, "train.log"))
        handler.setFormatter(fmt)
        log.addHandler(handler)


class ProgressLog:
    """tqdm bar whose postfix shows the latest losses; every ``log_now`` step goes to the log too."""

    def __init__(self, output_dir: str, start: int, end: int, enabled: bool = True, bar: bool = True):
        self.output_dir, self.start, self.end = output_dir, start, end
        self.enabled, self.show_bar = enabled, bar
        self.bar = self.writer = None

    def __enter__(self) -> Self:
        if not self.enabled:
            return self
        if self.show_bar:
            from tqdm import tqdm

            self.bar = tqdm(total=self.end, initial=self.start, unit="it", desc="training", dynamic_ncols=True)
        try:
            from visualdl import LogWriter
        except ImportError:
            log.info("VisualDL is not installed: losses go to train.log only")
        else:
            self.writer = LogWriter(logdir=os.path.join(self.output_dir, "visualdl"))
        return self

    def update(self, it: int, values: dict[str, float], lr: float, log_now: bool) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix({k: f"{v:.3f}" for k, v in values.items()}, refresh=False)
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(f"train/{key}", value, it)
        if log_now:
            text = " ".join(f"{k}={v:.4f}" for k, v in values.items())
            log.info("iter %d/%d lr %.2e %s", it, self.end, lr, text)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()
