"""The API's happy paths: the same records as the CLI, video jobs, models, health, OpenAPI."""

from __future__ import annotations

import dataclasses
import json
import time

from fakelens.records import FaceRecord, FileRecord, to_json
from fakelens.scan.scanner import Scanner
from fakelens.serve.schemas import FaceRecordOut, FileRecordOut


def _upload(path, name=None):
    return {"file": (name or path.name, path.read_bytes(), "application/octet-stream")}


def test_image_scan_returns_the_cli_records(client, demo_dir, tiny_detector, settings):
    r = client.post("/v1/scan", files=_upload(demo_dir / "astronaut.png", "../../etc/passwd"))
    assert r.status_code == 200, r.text
    body = r.json()
    cli = Scanner(tiny_detector).scan_file(demo_dir / "astronaut.png")
    expected_file = json.loads(to_json(dataclasses.replace(cli.record, file="passwd")))
    for key in ("kind", "verdict", "score", "faces", "frames", "faceless_frames", "model", "rule"):
        assert body["file"][key] == expected_file[key], key
    assert body["file"]["file"] == "passwd"  # the client's name is a label, never a path
    assert [f["box"] for f in body["faces"]] == [list(f.box) for f in cli.faces]
    assert [f["score"] for f in body["faces"]] == [round(f.score, 6) for f in cli.faces]
    assert body["evidence"] is None
    assert not any(settings.tmp_dir.iterdir())  # the upload's folder is gone


def test_evidence_has_crops_and_heat_maps(client, demo_dir):
    body = client.post("/v1/scan?evidence=true", files=_upload(demo_dir / "astronaut.png")).json()
    ev = body["evidence"]
    assert len(ev) == 1 and ev[0]["face"]["score"] == body["faces"][0]["score"]
    import base64

    for key in ("frame_jpeg", "crop_jpeg", "heatmap_jpeg"):
        assert base64.b64decode(ev[0][key])[:3] == b"\xff\xd8\xff"


def test_video_runs_as_a_job(client, demo_dir, settings):
    r = client.post("/v1/scan", files=_upload(demo_dir / "astronaut-pan.mp4", "clip"))
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["location"] == f"/v1/jobs/{job['id']}" and job["status"] in ("queued", "running")
    deadline = time.monotonic() + 60
    while job["status"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.1)
        job = client.get(f"/v1/jobs/{job['id']}").json()
    assert job["status"] == "done", job
    assert job["progress"] == 1.0 and job["expires_at"] > job["finished_at"]
    rec = job["result"]["file"]
    assert rec["kind"] == "video" and rec["file"] == "clip" and rec["frames"] == settings.num_frames
    assert len(job["result"]["faces"]) == rec["faces"] > 0
    assert not any(settings.tmp_dir.iterdir())


def test_finished_jobs_expire(settings, tiny_detector, demo_dir):
    from fastapi.testclient import TestClient

    from fakelens.serve import create_app

    app = create_app(dataclasses.replace(settings, job_ttl_s=0.01, num_frames=2), tiny_detector)
    with TestClient(app) as c:
        job_id = c.post("/v1/scan", files=_upload(demo_dir / "astronaut-pan.mp4")).json()["id"]
        app.state.jobs.get(job_id).future.result(timeout=30)
        time.sleep(0.05)
        r = c.get(f"/v1/jobs/{job_id}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "job_not_found"


def test_models_and_health(client):
    m = client.get("/v1/models").json()
    assert m["loaded"] == "tiny" and m["backend"] == "torch"
    assert any(row["loaded"] for row in m["models"]) and any(row["default"] for row in m["models"])
    assert client.get("/healthz").json() == {
        "status": "ok",
        "model": "tiny",
        "backend": "torch",
        "queued": 0,
        "jobs": 0,
    }


def test_openapi_documents_each_refusal(client):
    spec = client.get("/openapi.json").json()
    scan = spec["paths"]["/v1/scan"]["post"]
    assert {"200", "202", "400", "408", "413", "415", "422", "429", "504"} <= set(scan["responses"])
    assert "multipart/form-data" in scan["requestBody"]["content"]
    assert "404" in spec["paths"]["/v1/jobs/{job_id}"]["get"]["responses"]


def test_record_models_mirror_the_records():
    """The OpenAPI record models must not drift from the dataclasses the CLI writes."""
    for model, record in ((FaceRecordOut, FaceRecord), (FileRecordOut, FileRecord)):
        assert list(model.model_fields) == [f.name for f in dataclasses.fields(record)]


def test_page_and_assets_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="file"' in page.text
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200
    for text in (page.text, client.get("/static/app.js").text):  # no CDN: nothing from elsewhere
        assert "http://" not in text and "https://" not in text
