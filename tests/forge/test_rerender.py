from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from fakelens.faces.landmarks import landmarks68
from fakelens.forge.rerender import RerenderConfig, decode_like, draw_render, rerender_frame


@pytest.fixture(scope="module")
def face(face_pipeline, astronaut):
    crop = face_pipeline.extract(astronaut)[0].crop
    return crop, landmarks68(crop, face_pipeline.config.crop)


def _noise_energy(image: np.ndarray) -> float:
    """Fine-grain energy: the image minus its 3x3 median (sensor noise, grain, pores)."""
    g = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.abs(g - cv2.medianBlur(g.astype(np.uint8), 3)).mean())


def _look(**kw):
    return dataclasses.replace(draw_render(np.random.default_rng(0)), **kw)


def _edge_recall(image: np.ndarray, reference: np.ndarray) -> float:
    """Share of ``reference``'s Canny edges with an edge of ``image`` within 2 px."""

    def edges(x):
        return cv2.Canny(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), 80, 160) > 0

    near = cv2.dilate(edges(image).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    return float(near[edges(reference)].mean())


def test_decoding_removes_camera_grain_but_keeps_edges(face):
    crop, _ = face
    rng = np.random.default_rng(1)
    grainy = np.clip(crop.astype(np.float32) + rng.normal(0, 6, crop.shape), 0, 255).astype(np.uint8)
    out = decode_like(grainy, _look(enhance=0.0, render_share=0.6, smooth_colour=30.0))
    assert _noise_energy(out) < 0.5 * _noise_energy(grainy)  # the grain is gone
    blurred = cv2.GaussianBlur(grainy, (0, 0), 2.5)  # a plain blur that removes as much grain
    assert _noise_energy(blurred) < 0.5 * _noise_energy(grainy)
    assert _edge_recall(out, crop) > 0.6 and _edge_recall(out, crop) > _edge_recall(blurred, crop) + 0.1


def test_the_enhancer_sharpens(face):
    crop, _ = face
    plain = decode_like(crop, _look(enhance=0.0))
    sharp = decode_like(crop, _look(enhance=0.8))
    lap = [cv2.Laplacian(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), cv2.CV_32F).var() for x in (plain, sharp)]
    assert lap[1] > 1.3 * lap[0]


def test_whole_looks_redraw_everything_pasted_ones_keep_the_still_outside(face):
    crop, lm = face
    moved = np.roll(crop, 3, axis=1)  # stands in for an animated frame
    fake, mask = rerender_frame(moved, lm, crop, _look(paste=False))
    assert mask.shape == crop.shape[:2] and mask.min() == 1.0 and not np.array_equal(fake, moved)
    fake, mask = rerender_frame(moved, lm, crop, _look(paste=True, feather=0.05))
    outside = mask == 0
    assert outside.mean() > 0.05 and np.array_equal(fake[outside], crop[outside])
    inside = mask > 0.99
    assert inside[lm[30, 1].astype(int), lm[30, 0].astype(int)]  # the nose tip is redrawn
    assert np.abs(fake[inside].astype(int) - crop[inside].astype(int)).mean() > 1


def test_one_look_per_draw_is_seeded():
    a, b = (draw_render(np.random.default_rng(7)) for _ in range(2))
    assert a == b
    looks = [draw_render(np.random.default_rng(s)) for s in range(40)]
    assert {lk.paste for lk in looks} == {True, False} and len({lk.render_share for lk in looks}) == 40
    fixed = RerenderConfig(render_share=(0.5, 0.5), enhance_p=0.0, paste_p=1.0)
    assert all(draw_render(np.random.default_rng(s), fixed).render_share == 0.5 for s in range(5))
    assert all(draw_render(np.random.default_rng(s), fixed).paste for s in range(5))
