"""End to end in headless Chromium: the page at / uploads a photo through its file input and shows
the server's verdict and face score, shows a refusal as an error, and treats the client's file
name as text; a clip goes through a polled job. Debian's chromium (CI installs it); no browser
download. Under CI=true a missing browser or Playwright fails the test instead of skipping it."""

from __future__ import annotations

import dataclasses
import os
import shutil

import pytest

from fakelens.serve import create_app

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if path is None:
        if _in_ci():
            pytest.fail("CI needs chromium (apt-get install -y chromium) for the page test")
        pytest.skip("no chromium binary (apt-get install -y chromium)")
    return path


def _browser():
    """(chromium path, playwright's sync_playwright), or a skip (a failure under CI=true)."""
    chromium = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if _in_ci():
            raise
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    return chromium, sync_playwright


def test_page_scans_a_photo(settings, tiny_detector, demo_dir, tmp_path, make_live_server):
    chromium, sync_playwright = _browser()
    photo = demo_dir / "astronaut.png"
    evil = "<img src=x onerror=window.pwned=1>&amp;.png"  # the server echoes the client's file name
    problems: list[str] = []
    with make_live_server(create_app(settings, tiny_detector)) as server, sync_playwright() as pw:
        import httpx

        api = httpx.post(f"{server.url}/v1/scan", files={"file": (photo.name, photo.read_bytes())}).json()
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on(
                "console",
                lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
            )
            page.goto(server.url + "/")
            page.wait_for_selector("#model:text-is('tiny')")  # no wait_for_function: CSP forbids eval
            upload = {"name": evil, "mimeType": "image/png", "buffer": photo.read_bytes()}
            page.set_input_files("#file", files=[upload])
            page.wait_for_selector("#result:not([hidden]), #error:not([hidden])", timeout=30_000)
            assert page.is_hidden("#error"), page.inner_text("#error")
            verdict = page.inner_text("#verdict").strip().lower()
            shown_name = page.inner_text("#filename")
            face_labels = page.locator(".face-score").all_inner_texts()
            page.wait_for_selector(".ev img", timeout=10_000)
            heat_maps = page.locator("#evidence img[alt='heat map']").count()
            injected = page.evaluate(
                "window.pwned === undefined && !document.querySelector('img[src=\"x\"]')"
            )
            page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
            # a refusal (text that calls itself a photo) is shown as an error, the old result hidden
            text = {"name": "notes.png", "mimeType": "image/png", "buffer": b"not a picture at all\n" * 8}
            page.set_input_files("#file", files=[text])
            page.wait_for_selector("#error:not([hidden])", timeout=30_000)
            error = page.inner_text("#error")
            result_hidden = page.is_hidden("#result")
        finally:
            browser.close()
    assert not problems, problems
    assert verdict == api["file"]["verdict"] and verdict in ("real", "fake")
    assert shown_name == evil and injected  # shown as text, never parsed as HTML
    assert face_labels == [f"face 0: {api['faces'][0]['score']:.3f}"]
    assert heat_maps == 1
    assert "unsupported_media_type" in error and "415" in error and result_hidden
    assert not any(settings.tmp_dir.iterdir())


def test_page_scans_a_video_through_a_job(settings, tiny_detector, demo_dir, make_live_server):
    """A clip is answered 202; the page polls the job, then shows the file verdict and frame evidence."""
    chromium, sync_playwright = _browser()
    clip = demo_dir / "astronaut-pan.mp4"
    fast = dataclasses.replace(settings, num_frames=4)
    with make_live_server(create_app(fast, tiny_detector)) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.goto(server.url + "/")
            page.wait_for_selector("#model:text-is('tiny')")
            upload = {"name": clip.name, "mimeType": "video/mp4", "buffer": clip.read_bytes()}
            with page.expect_response(lambda r: "/v1/jobs/" in r.url) as first_poll:
                page.set_input_files("#file", files=[upload])
            polled = first_poll.value.json()
            page.wait_for_selector("#result:not([hidden]), #error:not([hidden])", timeout=60_000)
            assert page.is_hidden("#error"), page.inner_text("#error")
            verdict = page.inner_text("#verdict").strip().lower()
            details = page.inner_text("#details")
            frame_captions = page.locator("#evidence figcaption").all_inner_texts()
            stage_hidden = page.is_hidden("#stage")
        finally:
            browser.close()
    assert polled["status"] in ("queued", "running", "done")
    assert verdict in ("real", "fake")
    assert details.startswith("video · ") and "in 4 frame(s)" in details
    assert any(c.startswith("frame ") for c in frame_captions)  # evidence names the frame and time
    assert stage_hidden  # boxes are drawn on photos only
    assert not any(settings.tmp_dir.iterdir())


def test_missing_chromium_fails_under_ci_and_skips_locally(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.setattr(os.path, "exists", lambda _path: False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        _chromium()
    for value in ("", "false"):
        monkeypatch.setenv("CI", value)
        with pytest.raises(pytest.skip.Exception):
            _chromium()
