"""Soak: a 2000-frame driving video through the mobile model in constant memory.

Marked slow (minutes); CI runs it. Peak memory of the whole demo process for
2000 frames must stay within 1.5x of a 100-frame run, and the result must have
every frame and the driving audio.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import paddle
import pytest

from media import has_audio, moving_square_frames, write_video
from ppfom.config import RELEASED, build_generator, build_kp_detector, config_dir, load_config

ROOT = Path(__file__).resolve().parent.parent
IMAGE_SIZE = 128  # the mobile architecture at half resolution keeps the soak to a few minutes

# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent through fork and exec, so a
# child of a big pytest process would report the parent's peak.
RUN = """
import json, sys
from ppfom.cli import main
code = main(sys.argv[1:])
peak = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")][0].split()[1]
print(json.dumps({"code": code, "peak_kb": int(peak)}))
"""


@pytest.fixture(scope="module")
def mobile_weights(tmp_path_factory) -> str:
    cfg = load_config(config_dir() / RELEASED["vox_mobile256"])
    paddle.seed(0)
    path = tmp_path_factory.mktemp("weights") / "mobile-seeded.pdparams"
    paddle.save({"kp_detector": build_kp_detector(cfg).state_dict(),
                 "generator": build_generator(cfg).state_dict()}, str(path))
    return str(path)


def _demo(tmp_path: Path, weights: str, frames: int) -> tuple[dict, Path]:
    source = tmp_path / "face.png"
    imageio.imwrite(source, np.full((96, 96, 3), 120, np.uint8))
    driving = write_video(tmp_path / f"drive{frames}.mp4", moving_square_frames(frames, (64, 64)),
                          fps=25, audio_seconds=frames / 25)
    out = tmp_path / f"out{frames}"
    args = ["--config", str(config_dir() / RELEASED["vox_mobile256"]), "--weight_path", weights,
            "--mobile_net", "--image_size", str(IMAGE_SIZE), "--batch_size", "4", "--relative",
            "--source_image", str(source), "--driving_video", driving, "--output", str(out)]
    run = subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True,
                         timeout=1500, check=False, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["code"] == 0, run.stderr[-2000:]
    return result, out / "result.mp4"


@pytest.mark.slow
def test_2000_frames_in_the_memory_of_100(tmp_path, mobile_weights):
    short, _ = _demo(tmp_path, mobile_weights, 100)
    long, video = _demo(tmp_path, mobile_weights, 2000)
    ratio = long["peak_kb"] / short["peak_kb"]
    print(f"peak RSS: 100 frames {short['peak_kb'] / 1024:.0f} MB, 2000 frames {long['peak_kb'] / 1024:.0f} MB "
          f"(x{ratio:.2f})")
    assert ratio <= 1.5
    import imageio_ffmpeg
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(video))
    assert frames == 2000
    assert has_audio(video)
