"""Fixtures for the server tests: a fast untrained detector, an app with small limits, and a live
uvicorn server on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import torch

from fakelens.faces import FaceConfig
from fakelens.models import create_model
from fakelens.models.detector import Detector, Preprocess
from fakelens.serve import ServeSettings, create_app


@pytest.fixture(scope="session")
def tiny_detector():
    """Scan mechanics do not depend on the model's skill; the tiny CNN keeps the tests fast."""
    torch.manual_seed(0)
    return Detector(create_model("tiny-cnn"), Preprocess(64), FaceConfig(), threshold=0.5, name="tiny")


@pytest.fixture()
def settings(tmp_path):
    return ServeSettings(max_upload_mb=2, max_video_s=60, request_timeout_s=20, tmp_dir=tmp_path / "uploads")


@pytest.fixture()
def idle_health() -> dict:
    """What ``/healthz`` says of an idle server running the tiny detector on torch."""
    return {"status": "ok", "model": "tiny", "backend": "torch", "queued": 0, "jobs": 0, "uploading": 0}


@pytest.fixture()
def client(settings, tiny_detector):
    from fastapi.testclient import TestClient

    with TestClient(create_app(settings, tiny_detector)) as c:
        yield c


class LiveServer:
    """uvicorn in a thread on 127.0.0.1; stopped by setting ``should_exit``. The listening socket is
    bound here and handed over, so no other process can take the port in between."""

    def __init__(self, app):
        import uvicorn

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.sock.close()
        assert not self.thread.is_alive(), "the test server did not stop"


@pytest.fixture()
def live_server(settings, tiny_detector):
    with LiveServer(create_app(settings, tiny_detector)) as server:
        yield server


@pytest.fixture()
def make_live_server():
    """``with make_live_server(app) as server:`` for tests that need their own settings."""
    return LiveServer
