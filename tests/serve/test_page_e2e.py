"""End to end in headless Chromium: the page at / uploads a photo through its file input and shows
the server's verdict and face score. Debian's chromium (CI installs it); no browser download."""

from __future__ import annotations

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


def _chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs chromium (apt-get install -y chromium) for the page test")
        pytest.skip("no chromium binary (apt-get install -y chromium)")
    return path


def test_page_scans_a_photo(settings, tiny_detector, demo_dir, tmp_path, make_live_server):
    chromium = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    photo = demo_dir / "astronaut.png"
    with make_live_server(create_app(settings, tiny_detector)) as server, sync_playwright() as pw:
        import httpx

        api = httpx.post(f"{server.url}/v1/scan", files={"file": (photo.name, photo.read_bytes())}).json()
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.goto(server.url + "/")
            page.wait_for_function("document.getElementById('model').textContent === 'tiny'")
            page.set_input_files("#file", str(photo))
            page.wait_for_selector("#result:not([hidden])", timeout=30_000)
            verdict = page.inner_text("#verdict").strip().lower()
            face_labels = page.locator(".face-score").all_inner_texts()
            page.wait_for_selector(".ev img", timeout=10_000)
            heat_maps = page.locator("#evidence img[alt='heat map']").count()
            page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
        finally:
            browser.close()
    assert verdict == api["file"]["verdict"]
    assert face_labels == [f"face 0: {api['faces'][0]['score']:.3f}"]
    assert heat_maps == 1
    assert not any(settings.tmp_dir.iterdir())
