"""The API's happy paths: the same records as the CLI, video jobs, models, health, OpenAPI."""

from __future__ import annotations

import dataclasses
import json
import threading
import time

from fakelens.records import FaceRecord, FileRecord, to_json
from fakelens.scan import scan_paths
from fakelens.scan.scanner import FileResult, Scanner
from fakelens.serve import service
from fakelens.serve.schemas import FaceRecordOut, FileRecordOut
from fakelens.serve.uploads import Upload


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


def test_records_equal_the_cli_jsonl(client, demo_dir, tiny_detector, tmp_path):
    """``fakelens scan --out x.jsonl`` and ``POST /v1/scan`` give the same records, bar name and time."""
    out = tmp_path / "scan.jsonl"
    scan_paths([demo_dir / "astronaut.png"], out, model=tiny_detector, progress=False)
    cli = [json.loads(line) for line in out.read_text().splitlines()]
    r = client.post("/v1/scan", files=_upload(demo_dir / "astronaut.png"))
    api = [*r.json()["faces"], r.json()["file"]]
    assert len(cli) == len(api) >= 2 and cli[-1]["verdict"] in ("real", "fake")
    for c, a in zip(cli, api, strict=True):
        assert a["file"] == "astronaut.png" and c["file"] == str(demo_dir / "astronaut.png")
        drop = {"file", "seconds"}
        assert {k: v for k, v in a.items() if k not in drop} == {k: v for k, v in c.items() if k not in drop}


def test_content_decides_the_kind_not_the_name_or_type(client, demo_dir):
    png = {"file": ("notes.txt", (demo_dir / "astronaut.png").read_bytes(), "text/plain")}
    r = client.post("/v1/scan", files=png)
    assert r.status_code == 200 and r.json()["file"]["kind"] == "image", r.text
    mp4 = {"file": ("photo.png", (demo_dir / "astronaut-pan.mp4").read_bytes(), "image/png")}
    r = client.post("/v1/scan", files=mp4)
    assert r.status_code == 202, r.text
    client.app.state.jobs.get(r.json()["id"]).future.result(timeout=60)


def test_images_are_decoded_by_the_one_worker(client, demo_dir, monkeypatch):
    """A queued image holds no pixels, and the detector only ever runs on the worker thread."""
    threads = []
    original = service.load_image
    monkeypatch.setattr(
        service,
        "load_image",
        lambda *a, **k: (threads.append(threading.current_thread().name), original(*a, **k))[1],
    )
    assert client.post("/v1/scan", files=_upload(demo_dir / "astronaut.png")).status_code == 200
    assert threads == ["fakelens-scan"]


def test_error_records_do_not_leak_server_paths(tmp_path):
    upload = Upload(tmp_path / "fakelens-serve-x" / "upload", "clip.mp4", 10, b"")
    rec = FileRecord(
        str(upload.path), "video", "error", None, 0, 3, 0, f"cannot read '{upload.path}': bad packet"
    )
    out = service.result_json(FileResult(rec), upload, None)
    assert out["file"]["file"] == "clip.mp4" and out["file"]["error"] == "cannot read 'clip.mp4': bad packet"
    assert str(tmp_path) not in json.dumps(out)


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


def test_models_and_health(client, idle_health):
    m = client.get("/v1/models").json()
    assert m["loaded"] == "tiny" and m["backend"] == "torch"
    assert any(row["loaded"] for row in m["models"]) and any(row["default"] for row in m["models"])
    assert client.get("/healthz").json() == idle_health


def test_openapi_documents_each_refusal(client):
    spec = client.get("/openapi.json").json()
    scan = spec["paths"]["/v1/scan"]["post"]
    assert {"200", "202", "400", "408", "413", "415", "422", "429", "504"} <= set(scan["responses"])
    assert "multipart/form-data" in scan["requestBody"]["content"]
    assert {"500", "503"} <= set(scan["responses"])
    assert (
        "Retry-After" in scan["responses"]["429"]["headers"]
        and "Location" in scan["responses"]["202"]["headers"]
    )
    job = spec["paths"]["/v1/jobs/{job_id}"]["get"]["responses"]
    assert "404" in job
    # every refusal is documented as the ErrorOut body the handlers send, not FastAPI's default
    assert "HTTPValidationError" not in json.dumps(spec)
    for op in (scan, spec["paths"]["/v1/jobs/{job_id}"]["get"]):
        for code, resp in op["responses"].items():
            if code.startswith(("4", "5")):
                assert resp["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut"), code


def test_record_models_mirror_the_records():
    """The OpenAPI record models must not drift from the dataclasses the CLI writes."""
    for model, record in ((FaceRecordOut, FaceRecord), (FileRecordOut, FileRecord)):
        assert list(model.model_fields) == [f.name for f in dataclasses.fields(record)]


def test_page_and_assets_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="file"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]  # no inline or foreign script
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200
    for text in (page.text, client.get("/static/app.js").text):  # no CDN: nothing from elsewhere
        assert "http://" not in text and "https://" not in text
