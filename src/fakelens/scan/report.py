"""A self-contained HTML report (images inlined, no CDN): each file's verdict, its top face crops
with Grad-CAM heat maps, and the frames that drove the verdict."""

from __future__ import annotations

import base64
import html
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from fakelens.models.detector import Detector
from fakelens.models.scorer import threshold_text
from fakelens.records import FileRecord
from fakelens.scan.explain import grad_cam, overlay
from fakelens.scan.scanner import FileResult

_COLOURS = {"fake": "#c62828", "real": "#2e7d32", "no_face": "#6d6d6d", "error": "#ef6c00"}

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;background:#fafafa}
h1{margin-bottom:.2em} .meta{color:#555;margin-bottom:1.5em}
.file{background:#fff;border:1px solid #ddd;border-radius:8px;padding:1em;margin-bottom:1em}
.badge{color:#fff;padding:.15em .6em;border-radius:4px;font-weight:600;text-transform:uppercase}
.faces{display:flex;flex-wrap:wrap;gap:1em;margin-top:.8em}
.ev{display:flex;gap:.5em;align-items:flex-start;border:1px solid #eee;border-radius:6px;padding:.4em}
figure{margin:0;text-align:center;font-size:.85em;color:#444} img{border-radius:4px;display:block}
.err{color:#ef6c00} table{border-collapse:collapse} td,th{padding:.2em .8em;text-align:left}
"""


def _img(arr: np.ndarray, width: int | None = None) -> str:
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(arr[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 85])
    w = f' width="{width}"' if width else ""
    return f'<img src="data:image/jpeg;base64,{base64.b64encode(buf.tobytes()).decode()}"{w} alt="">'


def render_section(result: FileResult, detector: Detector | None) -> str:
    """One file's HTML (verdict, crops, heat maps); rendered as each file finishes so a long batch
    keeps only HTML text in memory, not images."""
    r = result.record
    colour = _COLOURS.get(r.verdict, "#333")
    score = "" if r.score is None else f" &middot; score <b>{r.score:.3f}</b>"
    parts = [
        '<div class="file">',
        f'<span class="badge" style="background:{colour}">{html.escape(r.verdict)}</span> '
        f"<b>{html.escape(r.file)}</b>{score}",
        f'<div class="meta">{r.kind} &middot; {r.faces} face(s) in {r.frames} frame(s), '
        f"{r.faceless_frames} frame(s) without a face &middot; rule: {html.escape(r.rule or '-')}</div>",
    ]
    if r.error:
        parts.append(f'<div class="err">{html.escape(r.error)}</div>')
    if result.evidence:
        parts.append('<div class="faces">')
        for ev in result.evidence:
            f = ev.face
            where = f"frame {f.frame} ({f.time_s:.2f} s)" if r.kind == "video" else "image"
            heat = ""
            if detector is not None:
                cam = grad_cam(detector, ev.crop, r.kind)
                caption = "where the evidence is" if cam.max() > 0 else "no region raised the score"
                heat = (
                    f"<figure>{_img(overlay(ev.crop, cam), 160)}<figcaption>{caption}</figcaption></figure>"
                )
            parts.append(
                '<div class="ev">'
                f"<figure>{_img(ev.frame, 240)}<figcaption>{where}, face {f.face}</figcaption></figure>"
                f"<figure>{_img(ev.crop, 160)}<figcaption>score {f.score:.3f}</figcaption></figure>{heat}</div>"
            )
        parts.append("</div>")
    parts.append("</div>")
    return "\n".join(parts)


def write_report(
    sections: list[tuple[FileRecord, str]], out: str | Path, detector: Detector | None = None
) -> Path:
    """Write the report from (record, rendered section) pairs; most suspicious first, errors last."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    order = {"fake": 0, "real": 1, "no_face": 2, "error": 3}
    sections = sorted(sections, key=lambda x: (order.get(x[0].verdict, 9), -(x[0].score or 0)))
    counts = Counter(rec.verdict for rec, _ in sections)
    model = html.escape(detector.name) if detector else "?"
    threshold = threshold_text(detector) if detector else "?"
    summary = " &middot; ".join(f"{k}: {counts.get(k, 0)}" for k in ("fake", "real", "no_face", "error"))
    body = "\n".join(html_text for _, html_text in sections)
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>fakelens report</title>"
        f"<style>{_CSS}</style></head><body><h1>fakelens report</h1>"
        f"<div class='meta'>model <b>{model}</b> &middot; threshold {threshold} &middot; {len(sections)} file(s): "
        f"{summary}<br>A score is p(fake). Heat maps (Grad-CAM) show which parts of a face pushed the score "
        f"up; they explain the model, not the forgery.</div>{body}</body></html>"
    )
    out.write_text(page, encoding="utf-8", errors="backslashreplace")
    return out
