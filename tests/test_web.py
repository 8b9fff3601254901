"""The web page's server (python -m ppfom.web), driven over HTTP on 127.0.0.1 with the small model."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from webclient import inputs, multipart, request, serving, small_predictors, upload, wait

from media import read_video
from ppfom.web import Options, is_loopback
from ppfom.web.jobs import Busy, JobQueue

EVIL_NAMES = ["../../etc/passwd.png", "/etc/passwd.png", "..%2F..%2Fpasswd.png", "..\\..\\passwd.png",
              "%2e%2e/%2e%2e/passwd.png", "passwd.png\x00.txt.png"]


@pytest.fixture(scope="module")
def predictors(param_manifest, tmp_path_factory):
    return small_predictors(param_manifest, tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> tuple[bytes, bytes]:
    return inputs(tmp_path_factory.mktemp("media"))


@pytest.fixture
def server(predictors):
    with serving(predictors, max_upload_mb=1) as server:
        yield server


def _files(media, source_name="photo.png", driving_name="drive.mp4"):
    photo, video = media
    return [("source", source_name, "image/png", photo), ("driving", driving_name, "video/mp4", video)]


def _all_files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_a_job_runs_with_progress_and_serves_an_mp4(server, media):
    status, job = upload(server, {"relative": "on", "adapt_scale": "on", "batch_size": "4"}, _files(media))
    assert status == 202 and job["state"] == "queued"
    seen = wait(server, job["id"])
    final = seen[-1]
    assert final["state"] == "done", final["message"]
    assert final["percent"] == 100 and final["done"] == final["total"] == 9
    assert all(s["percent"] is None or 0 <= s["percent"] <= 100 for s in seen)
    status, data, headers = request(server, "GET", final["download"])
    assert status == 200 and headers["Content-Type"] == "video/mp4" and data[4:8] == b"ftyp"
    path = Path(server.jobs.root) / "check.mp4"
    path.write_bytes(data)
    video, fps = read_video(path)
    assert video.shape == (9, 80, 72, 3) and fps == pytest.approx(12.5)


@pytest.mark.filterwarnings("ignore:no face found")
def test_progress_callback_counts_frames(predictors, tmp_path, media):
    photo, video = media
    (tmp_path / "p.png").write_bytes(photo)
    (tmp_path / "v.mp4").write_bytes(video)
    predictor = predictors(Options(batch_size=4))
    predictor.output = str(tmp_path / "out")
    calls = []
    predictor.run(str(tmp_path / "p.png"), str(tmp_path / "v.mp4"), progress=lambda d, t: calls.append((d, t)))
    assert calls == [(4, 9), (8, 9), (9, 9)]


def test_predictor_is_built_once_per_option_set(predictors):
    assert predictors(Options()) is predictors(Options())
    assert predictors(Options(batch_size=2)) is not predictors(Options())


def test_upload_over_the_limit_is_refused_before_reading(server):
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(b"POST /api/jobs HTTP/1.1\r\nHost: %s:%d\r\nX-Requested-With: ppfom\r\n"
                     b"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: %d\r\n\r\n"
                     % (host.encode(), port, 5 * 2**30))
        answer = b""
        while chunk := conn.recv(4096):  # answered, and closed, without a byte of the 5 GB body sent
            answer += chunk
    answer = answer.decode()
    assert answer.startswith("HTTP/1.1 413") and "the limit is 1 MB" in answer
    assert os.listdir(server.jobs.root) == []


def test_a_body_that_is_not_multipart_is_refused(server):
    status, data, _ = request(server, "POST", "/api/jobs", b"garbage",
                              {"X-Requested-With": "ppfom", "Content-Type": "multipart/form-data; boundary=x"})
    assert status == 400 and "multipart form" in json.loads(data)["error"] and os.listdir(server.jobs.root) == []


def test_a_body_without_content_length_is_refused(server):
    status, _, _ = request(server, "POST", "/api/jobs", None,
                           {"X-Requested-With": "ppfom", "Transfer-Encoding": "chunked"})
    assert status == 411 and os.listdir(server.jobs.root) == []


@pytest.mark.parametrize("name", EVIL_NAMES)
def test_path_like_filenames_never_leave_the_job_folder(server, media, tmp_path, name, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, job = upload(server, {}, _files(media, name, name.replace(".png", ".mp4")))
    assert status == 202, job
    assert wait(server, job["id"])[-1]["state"] == "done"
    (folder,) = Path(server.jobs.root).iterdir()
    assert _all_files(folder) == {"source.png", "driving.mp4", "result.mp4"}
    naive = [folder / name, Path(name), folder / name.replace("\\", "/"), Path("/etc/passwd.png")]
    assert not any(p.exists() for p in naive)  # where a joined or opened filename would have gone
    assert _all_files(tmp_path) == set()  # nor anything in the working directory


@pytest.mark.parametrize("name", ["passwd", "../../etc/passwd", "/etc/passwd", "photo.png/..", "photo.txt"])
def test_names_without_an_accepted_extension_are_refused(server, media, name):
    status, body = upload(server, {}, _files(media, source_name=name))
    assert status == 415 and "photo" in body["error"]
    assert os.listdir(server.jobs.root) == []


@pytest.mark.parametrize("path", [
    "/api/jobs/../../../../etc/passwd", "/api/jobs/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/api/jobs//etc/passwd", "/api/jobs/..%2F..%2Fetc%2Fpasswd/result.mp4", "/../../etc/passwd",
    "/app.js/../../../etc/passwd", "/static/../jobs.py", "/index.html", "/api/jobs/AAAAAAAAAAAAAAAAAAAAAA",
    "/api/jobs/AAAAAAAAAAAAAAAAAAAAAA/result.mp4", "/api/jobs/AAAAAAAAAAAAAAAAAAAAAA/source.png",
])
def test_unknown_jobs_and_paths_are_404(server, path):
    status, data, _ = request(server, "GET", path)
    assert status == 404, path
    assert b"root:" not in data and json.loads(data)["error"]


def test_a_jobs_inputs_cannot_be_downloaded_by_name(server, media):
    _, job = upload(server, {}, _files(media))
    wait(server, job["id"])
    for name in ("source.png", "driving.mp4", "../result.mp4", "result.mp4/../source.png"):
        assert request(server, "GET", f"/api/jobs/{job['id']}/{name}")[0] == 404


def test_binds_localhost_only(server):
    assert server.server_address[0] == "127.0.0.1" and is_loopback("localhost") and not is_loopback("0.0.0.0")
    port = server.server_address[1]
    others = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    for address in others - {"127.0.0.1"}:
        with pytest.raises(OSError), socket.create_connection((address, port), timeout=2):
            pass


def test_other_host_names_and_cross_site_posts_are_refused(server, media):
    assert request(server, "GET", "/", headers={"Host": "evil.example:80"})[0] == 403
    body, ctype = multipart({}, _files(media))
    status, _, _ = request(server, "POST", "/api/jobs", body, {"Content-Type": ctype})
    assert status == 403 and os.listdir(server.jobs.root) == []


def test_page_and_config_are_served(server):
    status, page, headers = request(server, "GET", "/")
    assert status == 200 and b'<input type="file" id="source"' in page
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    status, script, _ = request(server, "GET", "/app.js")
    assert status == 200 and b"/api/jobs" in script
    config = json.loads(request(server, "GET", "/api/config")[1])
    assert config["max_upload_mb"] == 1 and config["defaults"]["relative"] is True


@pytest.mark.parametrize("fields, files, expected", [
    ({}, lambda m: m[:1], "choose a driving video"),
    ({"batch_size": "0"}, lambda m: m, "batch_size"),
    ({"ratio": "x"}, lambda m: m, "ratio"),
    ({}, lambda m: [m[0], ("driving", "d.mp4", "video/mp4", b"")], "empty"),
    ({}, lambda m: [m[0], ("driving", "d.mp4", "text/html", b"x")], "text/html"),
    ({}, lambda m: m + [("extra", "x.png", "image/png", b"x")], "unexpected"),
    ({"relative": "x" * 5000}, lambda m: m, "multipart form"),
])
def test_bad_forms_are_refused_and_leave_nothing(server, media, fields, files, expected):
    status, body = upload(server, fields, files(_files(media)))
    assert status in (400, 415) and expected in body["error"] and "\n" not in body["error"]
    assert os.listdir(server.jobs.root) == []


def test_a_bad_video_fails_the_job_with_one_line_naming_no_server_path(server, media):
    status, job = upload(server, {}, [_files(media)[0], ("driving", "d.mp4", "video/mp4", b"not a video" * 99)])
    assert status == 202
    final = wait(server, job["id"])[-1]
    assert final["state"] == "error" and "video" in final["message"]
    assert "\n" not in final["message"] and server.jobs.root.as_posix() not in final["message"]
    assert request(server, "GET", f"/api/jobs/{job['id']}/result.mp4")[0] == 409


def test_finished_jobs_expire_and_closing_deletes_everything(predictors, media):
    with serving(predictors, ttl=0.2) as server:
        _, job = upload(server, {}, _files(media))
        wait(server, job["id"])
        time.sleep(0.3)
        upload(server, {}, _files(media))  # filing a job expires old ones
        assert request(server, "GET", f"/api/jobs/{job['id']}")[0] == 404
        root = server.jobs.root
        assert len(os.listdir(root)) == 1
    assert not root.exists()


def test_uploads_with_near_boundaries_arrive_byte_for_byte(server, media):
    data = b"\r\n--ppfom\r\n--x\r\n\r\n--" * 5000  # near-boundaries everywhere, over several reads
    status, job = upload(server, {"relative": "on"}, [_files(media)[0], ("driving", "a.mp4", "video/mp4", data)])
    assert status == 202, job
    wait(server, job["id"])  # it fails as a video; its file stays until it expires
    (folder,) = Path(server.jobs.root).iterdir()
    assert (folder / "driving.mp4").read_bytes() == data and (folder / "source.png").read_bytes() == media[0]


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ppfom.web", "--port", "0", "--cpu", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_command_serves_until_sigterm_and_deletes_uploads(predictors):
    proc = _start("--config", predictors.model["config"], "--weight_path", predictors.model["weight_path"],
                  "--image_size", "64", "--max_upload_mb", "5")
    try:
        line = proc.stdout.readline()
        assert line.startswith("ppfom web page: http://127.0.0.1:"), proc.stderr.read()
        url = line.split()[3]
        with urllib.request.urlopen(url + "api/config", timeout=10) as response:
            assert json.load(response)["max_upload_mb"] == 5
        roots_before = set(Path(tempfile.gettempdir()).glob("ppfom-web-*"))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        proc.kill()
        proc.wait()
    assert "deleted" in proc.stderr.read()
    assert set(Path(tempfile.gettempdir()).glob("ppfom-web-*")) < roots_before  # its folder is gone


def test_command_with_missing_weights_is_one_line(tmp_path, predictors):
    proc = _start("--config", predictors.model["config"], "--weight_path", str(tmp_path / "nothing.pdparams"),
                  "--image_size", "64")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "nothing.pdparams" in lines[0]


def test_form_options_reach_the_predictor_and_waiting_jobs_are_bounded():
    options = Options.from_form({"multi_person": "on", "face_enhancement": "on", "find_best_frame": "on",
                                 "ratio": "0.5", "batch_size": "3"})
    kwargs = options.predictor_kwargs()
    assert kwargs == {"relative": False, "adapt_scale": False, "batch_size": 3, "find_best_frame": True,
                      "multi_person": True, "face_enhancement": True, "ratio": 0.5, "crop_driving": "off"}
    assert Options.from_form({"crop_driving": "on"}).predictor_kwargs()["crop_driving"] == "auto"
    jobs = JobQueue(lambda options: None, max_waiting=1)
    try:
        jobs.new()
        with pytest.raises(Busy):
            jobs.new()
    finally:
        jobs.close()
    assert not jobs.root.exists()


def test_streamed_bodies_are_counted_against_their_declared_length():
    import asyncio

    from ppfom.web.uploads import Refused, capped

    chunks = iter([{"type": "http.request", "body": b"x" * 600, "more_body": True}] * 2)

    async def receive():
        return next(chunks)

    async def read_twice():
        limited = capped(receive, 1000)
        await limited()
        with pytest.raises(Refused, match="longer than it said"):
            await limited()

    asyncio.run(read_twice())


def test_web_cli_without_weights_offline_points_at_the_demo(tmp_path, monkeypatch, capsys):
    from ppfom.web.__main__ import main as web_main

    def offline(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setenv("PPFOM_HOME", str(tmp_path))
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    assert web_main(["--port", "0"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: could not download vox-cpk.pdparams") and "--demo" in err
    assert len(err.splitlines()) == 1
