"""The reader and writer threads: order, bounded look-ahead, and errors from either side stopping the run."""
from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from media import children, children_gone, moving_square_frames, write_video
from ppfom import FirstOrderPredictor, PpfomError
from ppfom import predictor as module
from ppfom.pipeline import Behind, Prefetch
from small_model import SMALL_WEIGHTS


def _pipeline_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("ppfom-")]


# ---------------------------------------------------------------- the two queues


def test_prefetch_keeps_order_and_reads_a_bounded_amount_ahead():
    made, closed = [], []

    def items():
        try:
            for i in range(20):
                made.append(i)
                yield i
        finally:
            closed.append(threading.current_thread().name)

    got, ahead = [], []
    with Prefetch(items(), depth=2) as prefetch:
        for item in prefetch:
            time.sleep(0.01)  # a slow consumer: the thread fills the queue meanwhile
            ahead.append(len(made) - len(got))
            got.append(item)
    assert got == list(range(20))
    assert max(ahead) <= 2 + 2  # queued, in the thread's hands, and the one just taken
    assert closed == ["ppfom-read"]


def test_prefetch_raises_the_threads_error_after_the_items_before_it():
    def items():
        yield 1
        yield 2
        raise ValueError("damaged after 2")

    got = []
    with pytest.raises(ValueError, match="damaged after 2"), Prefetch(items()) as prefetch:
        for item in prefetch:
            got.append(item)  # noqa: PERF402 - list() would lose the items before the error
    assert got == [1, 2]
    assert _pipeline_threads() == []


def test_prefetch_stopped_early_closes_its_source_in_the_thread():
    closed = []

    def endless():
        try:
            while True:
                yield np.zeros(1000)
        finally:
            closed.append(threading.current_thread().name)

    with Prefetch(endless()) as prefetch:
        next(iter(prefetch))
    assert closed == ["ppfom-read"] and _pipeline_threads() == []


def test_behind_keeps_order_and_finishes_on_a_clean_exit():
    done = []
    with Behind(lambda item: (time.sleep(0.002), done.append((item, threading.current_thread().name)))) as out:
        for i in range(30):
            out.put(i)
    assert done == [(i, "ppfom-write") for i in range(30)]


@pytest.mark.parametrize("error", [ValueError("disk full"), KeyboardInterrupt()])
def test_behind_raises_the_threads_error_in_the_caller(error):
    done = []

    def work(item):
        if item == 3:
            raise error
        done.append(item)

    with pytest.raises(type(error)), Behind(work) as out:
        for i in range(1000):
            out.put(i)
    assert done == [0, 1, 2] and _pipeline_threads() == []


def test_behind_drops_queued_items_when_the_caller_fails():
    done = []
    with pytest.raises(RuntimeError), Behind(lambda item: (time.sleep(0.05), done.append(item))) as out:
        for i in range(3):
            out.put(i)
        raise RuntimeError("networks failed")
    assert done == sorted(done) and len(done) < 3 and _pipeline_threads() == []


def test_a_second_ctrl_c_while_stopping_waits_for_the_thread_then_is_raised(monkeypatch):
    done = []
    out = Behind(lambda item: (time.sleep(0.3), done.append(item)))
    join, impatient = out._thread.join, [KeyboardInterrupt()]

    def interrupted_join(timeout=None):
        if impatient:
            raise impatient.pop()
        return join(timeout)

    monkeypatch.setattr(out._thread, "join", interrupted_join)
    with pytest.raises(KeyboardInterrupt), out:
        out.put(1)
        time.sleep(0.05)  # the thread is inside work(1)
        raise RuntimeError("networks failed")
    assert done == [1] and _pipeline_threads() == []


def test_depth_zero_runs_inline():
    names = []
    with Prefetch(iter([1, 2]), depth=0) as prefetch, Behind(lambda item: names.append(
            threading.current_thread().name), depth=0) as out:
        for item in prefetch:
            out.put(item)
    assert names == [threading.current_thread().name] * 2


# ---------------------------------------------------------------- in the demo


def _predictor(config_file, out_dir, **kw) -> FirstOrderPredictor:
    return FirstOrderPredictor(output=str(out_dir), weight_path=SMALL_WEIGHTS, config=config_file, image_size=64,
                               relative=True, adapt_scale=True, backend="dygraph", crop_driving="off", **kw)


def _truncated(tmp_path: Path) -> str:
    """A faststart mp4 cut at 60%: its header and first frames decode, then ffmpeg reports damage."""
    rng = np.random.default_rng(0)
    full = tmp_path / "full.mp4"
    gen = imageio_ffmpeg.write_frames(str(full), (64, 48), fps=25, quality=None, macro_block_size=1,
                                      ffmpeg_log_level="error", output_params=["-crf", "10", "-movflags", "+faststart"])
    gen.send(None)
    for _ in range(40):
        gen.send(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    gen.close()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: int(full.stat().st_size * 0.6)])
    return str(cut)


@pytest.fixture
def written(monkeypatch) -> list[tuple[int, str]]:
    """(frames, thread name) of every batch handed to the video writer."""
    calls: list[tuple[int, str]] = []
    write = module.VideoWriter.write

    def recording(self, batch):
        calls.append((len(batch), threading.current_thread().name))
        return write(self, batch)

    monkeypatch.setattr(module.VideoWriter, "write", recording)
    return calls


@pytest.mark.parametrize("error", [PpfomError("ffmpeg stopped while writing"), KeyboardInterrupt()])
def test_an_error_in_the_writer_thread_stops_the_run_and_leaves_nothing(tmp_path, config_file, source_png,
                                                                        monkeypatch, error):
    driving = write_video(tmp_path / "long.mp4", moving_square_frames(40))
    names = []
    write = module.VideoWriter.write

    def failing(self, batch):
        names.append(threading.current_thread().name)
        if len(names) == 2:
            raise error
        return write(self, batch)

    monkeypatch.setattr(module.VideoWriter, "write", failing)
    before, out = set(children()), tmp_path / "out"
    with pytest.raises(type(error)):
        _predictor(config_file, out, batch_size=2).run(source_png, driving)
    assert names == ["ppfom-write"] * 2, "nothing is written after the error"
    assert os.listdir(out) == [] and _pipeline_threads() == []
    assert children_gone(before), "ffmpeg was left running"


def test_a_damaged_video_in_the_reader_thread_stops_the_run(tmp_path, config_file, source_png, written):
    before, out = set(children()), tmp_path / "out"
    with pytest.raises(PpfomError, match="truncated or corrupt after frame") as err:
        _predictor(config_file, out, batch_size=3).run(source_png, _truncated(tmp_path))
    assert any(entry.name == "_fill" for entry in err.traceback), "raised in the reader thread"
    decoded = int(re.search(r"after frame (\d+)", str(err.value)).group(1))
    assert len(written) <= decoded // 3, "no batch after the damage"  # queued batches are dropped
    assert os.listdir(out) == [] and _pipeline_threads() == []
    assert children_gone(before), "ffmpeg was left running"


def test_ctrl_c_in_the_reader_thread_stops_the_run(tmp_path, config_file, source_png, monkeypatch, written):
    driving = write_video(tmp_path / "long.mp4", moving_square_frames(40))
    names = []
    driving_input = FirstOrderPredictor.driving_input

    def interrupted(self, batch):
        names.append(threading.current_thread().name)
        if len(names) == 3:
            raise KeyboardInterrupt
        return driving_input(self, batch)

    monkeypatch.setattr(FirstOrderPredictor, "driving_input", interrupted)
    before, out = set(children()), tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        _predictor(config_file, out, batch_size=2).run(source_png, driving)
    assert names == ["ppfom-read"] * 3
    assert len(written) <= 2 and os.listdir(out) == [] and _pipeline_threads() == []
    assert children_gone(before), "ffmpeg was left running"


def test_threads_or_not_the_same_frames_in_the_same_order(tmp_path, config_file, source_png, monkeypatch):
    driving = write_video(tmp_path / "drive.mp4", moving_square_frames(11))
    runs: dict[bool, list] = {True: [], False: []}
    write = module.VideoWriter.write
    monkeypatch.setattr(module.VideoWriter, "write", lambda self, batch: (
        runs[pred.overlap].append((batch.copy(), threading.current_thread().name)), write(self, batch))[1])
    for overlap in runs:
        pred = _predictor(config_file, tmp_path / str(overlap), batch_size=4)
        pred.overlap = overlap
        pred.run(source_png, driving)
    assert [len(b) for b, _ in runs[True]] == [len(b) for b, _ in runs[False]] == [4, 4, 3]
    assert {name for _, name in runs[True]} == {"ppfom-write"}
    assert {name for _, name in runs[False]} == {threading.current_thread().name}
    for (threaded, _), (inline, _) in zip(runs[True], runs[False]):
        assert np.array_equal(threaded, inline)
