"""Animation jobs for the web page: one temporary folder each, one worker thread for all.

Uploads are large and animation is slow, so a request only files a job and returns;
a single worker runs the jobs in order (the model is loaded once, and a CPU has no room
for two at a time) while the page polls the job's status. Each job's files live in
its own ``mkdtemp`` folder under the server's root temporary folder, at names chosen
here: nothing a user sends ever becomes a path. Finished jobs are deleted after a
time to live, and everything when the server stops.
"""
from __future__ import annotations

import logging
import queue
import secrets
import shutil
import tempfile
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PpfomError

log = logging.getLogger("ppfom.web")

RESULT = "result.mp4"
ID_BYTES = 16  # job ids are secrets.token_urlsafe(16): 22 characters of [A-Za-z0-9_-]


@dataclass(frozen=True)
class Options:
    """What a user picks on the page; hashable, so that predictors are kept per option set."""

    relative: bool = True
    adapt_scale: bool = True
    batch_size: int = 1
    find_best_frame: bool = False
    multi_person: bool = False
    face_enhancement: bool = False
    crop_driving: bool = True
    ratio: float = 0.4

    @classmethod
    def from_form(cls, form: dict[str, str]) -> Options:
        """Options from the page's form fields: a checkbox is on when present (HTML sends only those)."""
        flags = {name: form.get(name, "").lower() in ("on", "1", "true", "yes")
                 for name in ("relative", "adapt_scale", "find_best_frame", "multi_person", "face_enhancement",
                              "crop_driving")}
        batch_size = _number(form, "batch_size", int, 1, 1, 64)
        ratio = _number(form, "ratio", float, 0.4, 0.05, 1.0)
        return cls(batch_size=batch_size, ratio=ratio, **flags)

    def predictor_kwargs(self) -> dict[str, Any]:
        kwargs = asdict(self)
        kwargs["crop_driving"] = "auto" if self.crop_driving else "off"
        return kwargs


def _number(form: dict[str, str], name: str, kind: type, default: float, low: float, high: float):
    text = form.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        raise PpfomError(f"{name} '{text[:20]}' is not a number") from None
    if not low <= value <= high:
        raise PpfomError(f"{name} {value} must be between {low} and {high}")
    return value


class Predictors:
    """A FirstOrderPredictor per option set, built on first use and kept, so that the model is
    read once per server and option set, not once per job."""

    def __init__(self, keep: int = 4, **model: Any):
        self.model = model  # config, weight_path, image_size, mobile_net, ...
        self.keep = keep
        self._cache: OrderedDict[Options, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, options: Options):
        from ..predictor import FirstOrderPredictor

        with self._lock:
            if options not in self._cache:
                self._cache[options] = FirstOrderPredictor(**self.model, **options.predictor_kwargs())
                while len(self._cache) > self.keep:
                    self._cache.popitem(last=False)
            self._cache.move_to_end(options)
            return self._cache[options]


@dataclass
class Job:
    """One upload pair and its result, in ``folder``; the page sees it through :meth:`status`."""

    id: str
    folder: Path
    created: float = field(default_factory=time.monotonic)
    options: Options | None = None
    inputs: dict[str, Path] = field(default_factory=dict)  # "source"/"driving" -> file in folder
    state: str = "uploading"  # -> queued -> running -> done | error
    done: int = 0
    total: int | None = None
    message: str = ""
    notes: list[str] = field(default_factory=list)
    finished: float | None = None

    @property
    def result(self) -> Path:
        return self.folder / RESULT

    def advance(self, done: int, total: int | None) -> None:
        """The predictor's progress callback: frames written so far, of ``total`` (an estimate)."""
        self.done, self.total = done, total

    def status(self) -> dict[str, Any]:
        percent = None
        if self.state == "done":
            percent = 100
        elif self.total:
            percent = min(99, 100 * self.done // self.total)  # frame counts are estimates
        status = {"id": self.id, "state": self.state, "done": self.done, "total": self.total,
                  "percent": percent, "message": self.message, "notes": self.notes}
        if self.state == "done":
            status["download"] = f"/api/jobs/{self.id}/{RESULT}"
        return status

    def user_message(self, err: Exception) -> str:
        """The error's one line, with this server's temporary paths named as what they hold."""
        text = str(err).splitlines()[0] if str(err) else type(err).__name__
        for name, path in self.inputs.items():
            text = text.replace(str(path), "the uploaded " + ("photo" if name == "source" else "video"))
        return text.replace(str(self.folder), "the job folder")


class Busy(Exception):
    """Too many jobs waiting already (an HTTP 503): each holds uploads of up to the size limit."""


class JobQueue:
    """Jobs by id, their folders, and the worker thread that runs them one at a time."""

    def __init__(self, predictors: Callable[[Options], Any], ttl: float = 3600.0, max_waiting: int = 4):
        self.predictors = predictors
        self.ttl = ttl
        self.max_waiting = max_waiting
        self.root = Path(tempfile.mkdtemp(prefix="ppfom-web-"))
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="ppfom-web-worker", daemon=True)
        self._worker.start()

    def new(self) -> Job:
        """A job in its own new folder, ready to receive uploads."""
        self.expire()
        with self._lock:
            waiting = sum(job.state in ("uploading", "queued") for job in self._jobs.values())
            if waiting >= self.max_waiting:
                raise Busy(f"{waiting} jobs are waiting already: try again when one has finished")
            job = Job(secrets.token_urlsafe(ID_BYTES), Path(tempfile.mkdtemp(prefix="job-", dir=self.root)))
            self._jobs[job.id] = job
        return job

    def submit(self, job: Job, options: Options) -> None:
        job.options, job.state = options, "queued"
        self._queue.put(job)

    def discard(self, job: Job) -> None:
        """Forget a job whose upload failed, with its files."""
        with self._lock:
            self._jobs.pop(job.id, None)
        shutil.rmtree(job.folder, ignore_errors=True)

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def expire(self) -> None:
        """Delete jobs finished more than ``ttl`` seconds ago."""
        now = time.monotonic()
        with self._lock:
            old = [job for job in self._jobs.values() if job.finished is not None and now - job.finished > self.ttl]
        for job in old:
            self.discard(job)

    def close(self) -> None:
        """Stop the worker after its current job and delete every job's files."""
        self._queue.put(None)
        self._worker.join(timeout=5)
        with self._lock:
            self._jobs.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def _work(self) -> None:
        while True:
            try:
                job = self._queue.get(timeout=60)
            except queue.Empty:
                self.expire()
                continue
            if job is None:
                return
            self._run(job)

    def _run(self, job: Job) -> None:
        from ..predictor import PpfomWarning

        job.state = "running"
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", PpfomWarning)
                predictor = self.predictors(job.options)
                predictor.output, predictor.filename = str(job.folder), RESULT
                predictor.run(str(job.inputs["source"]), str(job.inputs["driving"]), progress=job.advance)
            job.notes = [job.user_message(w.message) for w in caught if issubclass(w.category, PpfomWarning)]
            job.state = "done"
        except PpfomError as err:
            job.message, job.state = job.user_message(err), "error"
        except Exception:  # a bug: the page gets one line, the server's log the traceback
            log.exception("job %s failed", job.id)
            job.message, job.state = "internal error while animating: see the server's log", "error"
        finally:
            job.finished = time.monotonic()
