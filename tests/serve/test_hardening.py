"""Issue 15's API findings: slow bodies cannot lock scanning out, a timed-out scan stops working,
and no answer shows a server path."""

from __future__ import annotations

import copy
import dataclasses
import socket
import time

import httpx

from fakelens.serve import create_app

BOUNDARY = "fakelensboundary"


def _stall(port: int, source: str = "127.0.0.1") -> socket.socket:
    """A connection that sends headers and the start of a body, then nothing."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    head = (
        f"POST /v1/scan HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n"
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n\x89PNG'
    ).encode()
    s.sendall(head)
    return s


def _reply(s: socket.socket) -> bytes:
    """One whole HTTP response: headers, then Content-Length bytes (they may come in pieces)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ),
        0,
    )
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def _wait_uploading(url: str, n: int) -> None:
    deadline = time.monotonic() + 10
    while httpx.get(f"{url}/healthz").json()["uploading"] != n and time.monotonic() < deadline:
        time.sleep(0.02)
    assert httpx.get(f"{url}/healthz").json()["uploading"] == n


def test_one_slow_client_cannot_take_every_upload_slot(settings, tiny_detector, make_live_server, demo_dir):
    # a long grace: the stalled uploads must outlast the test even on a loaded machine
    slow_ok = dataclasses.replace(settings, max_queue=8, max_uploads_per_client=2, upload_grace_s=60)
    app = create_app(slow_ok, tiny_detector)
    photo = {"file": ("a.png", (demo_dir / "astronaut.png").read_bytes())}
    with make_live_server(app) as server:
        stalled = [_stall(server.port, "127.0.0.2") for _ in range(2)]
        try:
            _wait_uploading(server.url, 2)
            third = _stall(server.port, "127.0.0.2")  # the same client's third upload: refused at once
            reply = _reply(third)
            third.close()
            assert reply.startswith(b"HTTP/1.1 429") and b"this client already has 2 uploads" in reply
            r = httpx.post(f"{server.url}/v1/scan", files=photo, timeout=30)  # another client scans
            assert r.status_code == 200 and r.json()["file"]["verdict"] in ("real", "fake")
        finally:
            for s in stalled:
                s.close()


def test_a_trickling_body_is_dropped_after_the_grace_period(settings, tiny_detector, make_live_server):
    app = create_app(dataclasses.replace(settings, upload_grace_s=0.5, request_timeout_s=30), tiny_detector)
    with make_live_server(app) as server:
        t0 = time.monotonic()
        s = _stall(server.port)
        reply = _reply(s)
        s.close()
        assert reply.startswith(b"HTTP/1.1 408") and b'"upload_too_slow"' in reply
        assert time.monotonic() - t0 < 10  # not the 30 s request timeout
        _wait_uploading(server.url, 0)
    assert not any(settings.tmp_dir.iterdir())


def test_a_timed_out_image_scan_stops_before_scoring(settings, tiny_detector, demo_dir, monkeypatch):
    """The worker used to finish an abandoned scan, so the next request timed out behind it."""
    from fastapi.testclient import TestClient

    from fakelens.faces.pipeline import FacePipeline

    detector = copy.copy(tiny_detector)
    scored = []
    detector.predict_proba = lambda crops: scored.append(len(crops)) or tiny_detector.predict_proba(crops)
    detect_all = FacePipeline.detect_all

    def slow(self, image, **kwargs):
        time.sleep(1.0)  # past the request's timeout
        return detect_all(self, image, **kwargs)

    monkeypatch.setattr(FacePipeline, "detect_all", slow)
    app = create_app(dataclasses.replace(settings, request_timeout_s=0.5), detector)
    with TestClient(app) as c:
        r = c.post("/v1/scan", files={"file": ("a.png", (demo_dir / "astronaut.png").read_bytes())})
        assert r.status_code == 504
        deadline = time.monotonic() + 10
        while any(settings.tmp_dir.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not any(settings.tmp_dir.iterdir()) and scored == []  # abandoned before the model ran


def test_models_name_no_server_paths(client, tmp_path):
    body = client.get("/v1/models").json()
    assert body["video_threshold"] == body["threshold"]  # the tiny detector has no video threshold
    for row in body["models"]:
        assert "path" not in row and row["source"] in ("shipped", "checkpoint")
        assert not any(isinstance(v, str) and "/" in v for v in row.values())
