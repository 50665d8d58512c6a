"""A failing model is the server's fault: a 500 naming the client's file, and the worker lives on."""

from __future__ import annotations


def test_model_failure_is_a_500_and_the_worker_goes_on(
    client, demo_dir, tiny_detector, settings, monkeypatch
):
    def fail(crops):
        raise RuntimeError("CUDA error: device-side assert triggered")

    upload = {"file": ("photo.png", (demo_dir / "astronaut.png").read_bytes(), "image/png")}
    with monkeypatch.context() as m:
        m.setattr(tiny_detector, "predict_proba", fail)
        r = client.post("/v1/scan", files=upload)
    assert r.status_code == 500, r.text
    error = r.json()["error"]
    assert error["code"] == "model_failure"
    assert (
        error["message"]
        == "model failure while scanning 'photo.png': RuntimeError: CUDA error: device-side assert triggered"
    )
    assert str(settings.tmp_dir) not in r.text  # the server's temp path is not for clients
    r = client.post("/v1/scan", files=upload)  # the same worker serves the next request
    assert r.status_code == 200 and r.json()["file"]["verdict"] in ("real", "fake"), r.text
