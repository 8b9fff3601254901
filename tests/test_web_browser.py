"""The web page in a real headless Chromium: pick files, animate, download (Debian's chromium + Selenium).

Skipped when chromium, chromedriver or selenium are missing; .ci/run installs them.
"""
from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
from headless_chromium import chromium
from webclient import inputs, serving, small_predictors

from media import read_video


@pytest.fixture
def browser(tmp_path, monkeypatch):
    with chromium(tmp_path / "profile", monkeypatch) as driver:
        yield driver


def test_page_animates_uploaded_files_and_offers_the_download(browser, param_manifest, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    photo, video = inputs(tmp_path)
    (tmp_path / "face.png").write_bytes(photo)
    (tmp_path / "drive.mp4").write_bytes(video)
    with serving(small_predictors(param_manifest, tmp_path)) as server:
        browser.get(server.url)
        browser.find_element(By.ID, "source").send_keys(str(tmp_path / "face.png"))
        browser.find_element(By.ID, "driving").send_keys(str(tmp_path / "drive.mp4"))
        browser.find_element(By.CSS_SELECTOR, "input[name=batch_size]").clear()
        browser.find_element(By.CSS_SELECTOR, "input[name=batch_size]").send_keys("4")
        browser.find_element(By.ID, "start").click()
        status = browser.find_element(By.ID, "status")
        WebDriverWait(browser, 45, poll_frequency=0.1).until(
            lambda _: status.get_attribute("data-state") in ("done", "error"))
        error = browser.find_element(By.ID, "error").text
        assert status.get_attribute("data-state") == "done", error
        assert browser.find_element(By.ID, "bar").get_attribute("value") == "100"
        href = browser.find_element(By.ID, "download").get_attribute("href")
        browser.save_screenshot(str(tmp_path / "page.png"))
        with urllib.request.urlopen(href, timeout=30) as response:
            assert response.headers["Content-Type"] == "video/mp4"
            result = tmp_path / "result.mp4"
            result.write_bytes(response.read())
    frames, _ = read_video(result)
    assert frames.shape == (9, 80, 72, 3)
    assert Path(tmp_path / "page.png").stat().st_size > 0
