"""Every refusal is the documented 4xx with a one-line JSON error, temp files are removed, and the
server stays healthy afterwards: through TestClient and through raw sockets on loopback."""

from __future__ import annotations

import dataclasses
import io
import socket
import struct
import time
import zipfile
import zlib

import pytest

from fakelens.serve import create_app

BOUNDARY = "fakelensboundary"


def _multipart(content: bytes, name: str = "photo.png", field: str = "file", close: bool = True) -> bytes:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    return head + content + (f"\r\n--{BOUNDARY}--\r\n".encode() if close else b"")


def _post(client, body: bytes, ctype: str = f"multipart/form-data; boundary={BOUNDARY}", url="/v1/scan"):
    return client.post(url, content=body, headers={"content-type": ctype})


def _assert_refused(r, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["message"] and "\n" not in err["message"]


@pytest.fixture()
def check_clean(client, settings):
    """After the test: health still OK and no upload left on disk."""
    yield
    assert client.get("/healthz").json()["status"] == "ok"
    assert not settings.tmp_dir.exists() or not any(settings.tmp_dir.iterdir())


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header declares the size and whose pixel data is a few bytes (a "bomb")."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("photo.jpg", b"not really")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("body", "ctype", "status", "code"),
    [
        (b"garbage without any boundary", None, 400, "malformed_multipart"),
        (_multipart(b"\x89PNG\r\n\x1a\nabc", close=False), None, 400, "malformed_multipart"),
        (b"", "multipart/form-data", 400, "malformed_multipart"),
        (b'{"file": "x"}', "application/json", 415, "not_multipart"),
        (_multipart(b"data", field="other"), None, 400, "missing_file"),
        (_multipart(b""), None, 400, "empty_file"),
        (
            _multipart(b"just some text, honestly\n" * 4, name="photo.jpg"),
            None,
            415,
            "unsupported_media_type",
        ),
        (_multipart(_zip(), name="photo.jpg"), None, 415, "unsupported_media_type"),
        (_multipart(_png_header(100, 100)), None, 422, "unreadable_media"),
        (_multipart(_png_header(200_000, 200_000)), None, 413, "too_many_pixels"),
        (_multipart(_multipart(b"x") * 2 + _multipart(b"y")[len(f"--{BOUNDARY}") :]), None, 400, None),
    ],
    ids=[
        "no-boundary-in-body",
        "truncated",
        "no-boundary-param",
        "json",
        "no-file-field",
        "empty",
        "text-named-jpg",
        "zip-named-jpg",
        "corrupt-png",
        "pixel-bomb",
        "garbled",
    ],
)
def test_bad_uploads_are_refused(client, check_clean, body, ctype, status, code):
    r = _post(client, body, ctype or f"multipart/form-data; boundary={BOUNDARY}")
    if code is None:  # any clear 4xx will do
        assert 400 <= r.status_code < 500 and r.json()["error"]["code"]
    else:
        _assert_refused(r, status, code)


def test_two_files_are_refused(client, check_clean, demo_dir):
    data = (demo_dir / "astronaut.png").read_bytes()
    body = _multipart(data, close=False) + b"\r\n" + _multipart(data)
    _assert_refused(_post(client, body), 400, "too_many_files")


def test_upload_over_the_limit_is_refused_while_streaming(client, check_clean, settings):
    limit = settings.max_upload_bytes
    chunks = [_multipart(b"\x89PNG\r\n\x1a\n", close=False)] + [b"\0" * 65536] * (limit // 65536 + 2)
    r = client.post(
        "/v1/scan",
        content=iter(chunks),
        headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    _assert_refused(r, 413, "upload_too_large")


def test_too_many_pixels(settings, tiny_detector, demo_dir):
    from fastapi.testclient import TestClient

    with TestClient(create_app(dataclasses.replace(settings, max_pixels=100_000), tiny_detector)) as c:
        r = c.post("/v1/scan", files={"file": ("a.png", (demo_dir / "astronaut.png").read_bytes())})
        _assert_refused(r, 413, "too_many_pixels")
        r = c.post("/v1/scan", files={"file": ("a.mp4", (demo_dir / "astronaut-pan.mp4").read_bytes())})
        _assert_refused(r, 413, "too_many_pixels")  # 384 x 384 frames
        assert c.get("/healthz").status_code == 200
    assert not any(settings.tmp_dir.iterdir())


def test_too_long_video(settings, tiny_detector, demo_dir):
    from fastapi.testclient import TestClient

    with TestClient(create_app(dataclasses.replace(settings, max_video_s=1.0), tiny_detector)) as c:
        r = c.post("/v1/scan", files={"file": ("a.mp4", (demo_dir / "astronaut-pan.mp4").read_bytes())})
        _assert_refused(r, 413, "video_too_long")
        assert "3.0 s" in r.json()["error"]["message"]
    assert not any(settings.tmp_dir.iterdir())


def test_unknown_job_route_and_parameter(client, check_clean):
    _assert_refused(client.get("/v1/jobs/0123456789abcdef"), 404, "job_not_found")
    _assert_refused(client.get("/v1/nothing"), 404, "not_found")
    _assert_refused(client.get("/v1/scan"), 405, "method_not_allowed")
    _assert_refused(
        client.post("/v1/scan?evidence=maybe", files={"file": ("a", b"x")}), 422, "invalid_request"
    )


# -- raw sockets against a live server on 127.0.0.1 ------------------------------------------------


def _raw(server, head: bytes, body: bytes = b"", read: bool = True, wait_s: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait_s) as s:
        s.sendall(head + body)
        if not read:
            return b""
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def _head(length: int, path: str = "/v1/scan") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def _healthy(server) -> bool:
    import httpx

    return httpx.get(f"{server.url}/healthz", timeout=10).json()["status"] == "ok"


def test_huge_declared_size_is_refused_before_the_body(live_server, settings):
    reply = _raw(live_server, _head(50 * 2**30))  # 50 GB declared, nothing sent
    assert reply.startswith(b"HTTP/1.1 413") and b'"upload_too_large"' in reply
    assert _healthy(live_server)


def test_truncated_upload_then_hang_up(live_server, settings, demo_dir, monkeypatch):
    import fakelens.serve.app as app_module

    removed = []
    original = app_module.remove_upload_dir
    monkeypatch.setattr(app_module, "remove_upload_dir", lambda d: (original(d), removed.append(d)))
    body = _multipart((demo_dir / "astronaut.png").read_bytes())
    _raw(live_server, _head(len(body)), body[: len(body) // 2], read=False)  # client vanishes mid-body
    deadline = time.monotonic() + 10
    while not removed and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(removed) == 1 and not removed[0].exists() and not any(settings.tmp_dir.iterdir())
    assert _healthy(live_server)


def test_malformed_and_wrong_type_over_the_wire(live_server, settings):
    reply = _raw(live_server, _head(11), b"hello world")
    assert reply.startswith(b"HTTP/1.1 400") and b'"malformed_multipart"' in reply
    zip_body = _multipart(_zip(), name="x.jpg")
    reply = _raw(live_server, _head(len(zip_body)), zip_body)
    assert reply.startswith(b"HTTP/1.1 415") and b'"unsupported_media_type"' in reply
    assert _healthy(live_server) and not any(settings.tmp_dir.iterdir())


def test_slow_upload_times_out(settings, tiny_detector, make_live_server):
    app = create_app(dataclasses.replace(settings, request_timeout_s=0.5), tiny_detector)
    with make_live_server(app) as server:
        reply = _raw(server, _head(10_000), _multipart(b"\x89PNG", close=False))  # then stalls
        assert reply.startswith(b"HTTP/1.1 408") and b'"upload_timeout"' in reply
        assert _healthy(server)
    assert not any(settings.tmp_dir.iterdir())


def test_oversized_part_headers_are_refused(client, check_clean):
    head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"\r\nX-Pad: {"a" * 100_000}\r\n\r\n'
    _assert_refused(
        _post(client, head.encode() + b"x\r\n--" + BOUNDARY.encode() + b"--\r\n"), 400, "malformed_multipart"
    )


def test_image_scan_timeout_is_504_and_the_upload_is_removed(settings, tiny_detector, demo_dir, idle_health):
    import threading

    from fastapi.testclient import TestClient

    app = create_app(dataclasses.replace(settings, request_timeout_s=0.5), tiny_detector)
    gate = threading.Event()
    with TestClient(app) as c:
        busy = app.state.jobs.submit(lambda j: gate.wait(10) and {}, 10)  # the worker is taken
        r = c.post("/v1/scan", files={"file": ("a.png", (demo_dir / "astronaut.png").read_bytes())})
        _assert_refused(r, 504, "timeout")
        gate.set()
        busy.future.result(10)
        deadline = time.monotonic() + 10  # the abandoned scan is skipped and its folder removed
        while any(settings.tmp_dir.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not any(settings.tmp_dir.iterdir())
        assert c.get("/healthz").json() == idle_health


def _chunked_head(path: str = "/v1/scan") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n"
    ).encode()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def test_chunked_body_over_the_limit_is_refused_before_it_ends(settings, tiny_detector, make_live_server):
    """No Content-Length and no end: the 413 must come while the body is still streaming in."""
    app = create_app(dataclasses.replace(settings, max_upload_mb=0.25), tiny_detector)
    with make_live_server(app) as server:
        limit = app.state.settings.max_upload_bytes
        body = _chunk(_multipart(b"\x89PNG\r\n\x1a\n", close=False))
        body += b"".join(_chunk(b"\0" * 16384) for _ in range(limit // 16384 + 1))
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(_chunked_head() + body)  # ...and never the closing chunk
            reply = s.recv(65536)
        assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
        assert _healthy(server)
    assert not any(settings.tmp_dir.iterdir())


def test_uploads_in_flight_are_bounded(settings, tiny_detector, make_live_server, demo_dir):
    """With max_queue uploads streaming in, the next request is refused before it writes a byte."""
    import httpx

    app = create_app(
        dataclasses.replace(settings, max_queue=1, upload_grace_s=60), tiny_detector
    )  # stalls stay
    with make_live_server(app) as server:
        stalled = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        try:
            stalled.sendall(_head(100_000) + _multipart(b"\x89PNG", close=False))
            deadline = time.monotonic() + 10
            while httpx.get(f"{server.url}/healthz").json()["uploading"] != 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            photo = {"file": ("a.png", (demo_dir / "astronaut.png").read_bytes())}
            r = httpx.post(f"{server.url}/v1/scan", files=photo, timeout=10)
            _assert_refused(r, 429, "busy")
            assert r.headers["retry-after"] == "1"
        finally:
            stalled.close()  # the server sees the disconnect and removes that upload
        deadline = time.monotonic() + 10
        while httpx.get(f"{server.url}/healthz").json()["uploading"] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert httpx.post(f"{server.url}/v1/scan", files=photo, timeout=30).status_code == 200
    assert not any(settings.tmp_dir.iterdir())
