"""The live page in headless Chromium with a fake camera playing a clip this test makes (.y4m).

Checks what a user would see: animated frames arrive, they change as the clip
moves, and the page's own frame rate and latency counters. Skipped like
test_web_browser.py when chromium, chromedriver or selenium are missing.
Set PPFOM_SCREENSHOT_DIR to keep a screenshot of the running page.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import cv2
import imageio.v2 as imageio
import numpy as np
import pytest
from faces_media import astronaut
from headless_chromium import chromium
from webclient import serving, small_predictors

from ppfom.live import LiveModels
from ppfom.web import LiveHub

FPS = 15


def write_y4m(path: Path, frames: np.ndarray, fps: int = FPS) -> None:
    """RGB frames (N, H, W, 3) as a YUV4MPEG2 4:2:0 clip, the format Chromium's fake camera plays."""
    _, height, width, _ = frames.shape
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        out.writelines(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes() for frame in frames)


def nodding_clip(count: int = 2 * FPS) -> np.ndarray:
    """The astronaut's head turning and tilting (a rotation, which no crop cancels), 320x240."""
    face = cv2.resize(astronaut()[30:330, 100:400], (220, 220), interpolation=cv2.INTER_AREA)
    frames = np.full((count, 240, 320, 3), 60, np.uint8)
    for i in range(count):
        angle = 18 * np.sin(2 * np.pi * i / count)
        turn = cv2.getRotationMatrix2D((110, 110), angle, 1.0 + 0.08 * np.cos(2 * np.pi * i / count))
        frames[i, 10:230, 50:270] = cv2.warpAffine(face, turn, (220, 220), borderMode=cv2.BORDER_REFLECT)
    return frames


@pytest.fixture
def camera_browser(tmp_path, monkeypatch):
    clip = tmp_path / "camera.y4m"
    write_y4m(clip, nodding_clip())
    fake_camera = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                   f"--use-file-for-fake-video-capture={clip}")
    with chromium(tmp_path / "profile", monkeypatch, fake_camera) as driver:
        yield driver


def test_live_page_animates_the_fake_camera(camera_browser, param_manifest, tmp_path, record_property):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser = camera_browser
    imageio.imwrite(tmp_path / "photo.png", astronaut())
    hub = LiveHub(LiveModels(backend="dygraph"))
    with serving(small_predictors(param_manifest, tmp_path), live=hub) as server:
        browser.get(server.url + "live")
        live = lambda: browser.execute_script("return window.ppfomLive")
        WebDriverWait(browser, 60, 0.1).until(lambda _: "ready" in live()["status"])
        browser.find_element(By.ID, "photo").send_keys(str(tmp_path / "photo.png"))
        start = browser.find_element(By.ID, "start")
        WebDriverWait(browser, 30, 0.1).until(lambda _: start.is_enabled())
        start.click()
        WebDriverWait(browser, 30, 0.1).until(lambda _: live()["frames"] >= 3)
        browser.find_element(By.ID, "reference").click()  # "set the reference pose now"
        time.sleep(6)
        stats = live()
        _screenshot(browser, tmp_path)
    record_property("live_stats", {k: stats[k] for k in ("frames", "fps", "latencyMedian", "latencyP95", "dropped")})
    print(f"live page: {stats['frames']} frames, {stats['fps']:.1f} frames/s, median latency "
          f"{stats['latencyMedian']:.0f} ms, 95% {stats['latencyP95']:.0f} ms, {stats['dropped']} dropped")
    assert not stats["errors"], stats["errors"]
    assert stats["frames"] >= 10 and stats["fps"] > 1
    assert 0 < stats["latencyMedian"] < 2000  # bounded: late frames are dropped, not queued
    means = np.array(stats["means"])
    assert np.ptp(means[-20:]) > 1.0  # the animated photo moves with the camera's clip


def _screenshot(browser, folder: Path) -> None:
    path = folder / "live.png"
    browser.save_screenshot(str(path))
    keep = os.environ.get("PPFOM_SCREENSHOT_DIR")
    if keep:
        shutil.copy(path, Path(keep) / "ppfom-live.png")
