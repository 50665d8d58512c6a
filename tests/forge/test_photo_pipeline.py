"""The photo pipeline: every class through one chain, so the container cannot be learned."""

import cv2
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fakelens.forge.photo_pipeline import PhotoPipeline, jpeg


def _picture(rng: np.random.Generator, n: int = 160) -> np.ndarray:
    """A photo-like picture: smooth shading, a few soft-edged shapes, sensor noise."""
    img = cv2.resize(rng.uniform(0, 255, (6, 6, 3)).astype(np.float32), (n, n), interpolation=cv2.INTER_CUBIC)
    for _ in range(6):
        centre = tuple(int(v) for v in rng.integers(0, n, 2))
        axes = tuple(int(v) for v in rng.integers(8, n // 3, 2))
        colour = tuple(float(v) for v in rng.uniform(0, 255, 3))
        cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
    img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.6, 1.5)))
    img += rng.normal(0, rng.uniform(2, 6), img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _container_features(img: np.ndarray) -> np.ndarray:
    """What a JPEG-forensics classifier reads: per-frequency share of near-zero 8x8 DCT
    coefficients, blockiness across the 8 px grid, overall fine detail."""
    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32) - 128
    h, w = g.shape[0] // 8 * 8, g.shape[1] // 8 * 8
    blocks = g[:h, :w].reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3).reshape(-1, 8, 8)
    zeros = (np.abs(np.stack([cv2.dct(b) for b in blocks]).reshape(-1, 64)) < 1).mean(0)
    dx, dy = np.abs(np.diff(g, axis=1)), np.abs(np.diff(g, axis=0))
    grid = [dx[:, 7::8].mean() / (dx.mean() + 1e-6), dy[7::8].mean() / (dy.mean() + 1e-6)]
    detail = np.log(np.abs(cv2.Laplacian(g, cv2.CV_32F)).mean() + 1e-3)
    return np.r_[zeros, grid, detail]


def _png_vs_jpeg_auc(images: list[np.ndarray], labels: np.ndarray) -> float:
    return _auc(_container_features, images, labels)


@pytest.mark.parametrize("source_quality", [75, 95])  # UTKFace's and LFW's JPEG quality
def test_png_vs_jpeg_is_chance_after_the_pipeline(source_quality):
    rng = np.random.default_rng(source_quality)
    n = 200
    pictures = [_picture(rng) for _ in range(2 * n)]
    labels = np.r_[np.zeros(n), np.ones(n)]  # 0: kept as PNG (lossless), 1: stored as JPEG
    stored = [p if y == 0 else jpeg(p, source_quality) for p, y in zip(pictures, labels, strict=True)]
    assert _png_vs_jpeg_auc(stored, labels) > 0.95  # the classifier does read the container
    pipe = PhotoPipeline()
    processed = [pipe(img, rng) for img in stored]
    assert _png_vs_jpeg_auc(processed, labels) < 0.6


def test_one_draw_processes_a_pair_identically_and_keeps_the_size():
    rng = np.random.default_rng(0)
    pipe = PhotoPipeline()
    img = _picture(rng, 224)
    params = pipe.draw(rng)
    a, b = pipe.apply(img, params), pipe.apply(img.copy(), params)
    assert a.shape == img.shape and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, img)  # a PNG is never passed through untouched


def test_draws_cover_the_ranges():
    rng = np.random.default_rng(1)
    draws = [PhotoPipeline().draw(rng) for _ in range(400)]
    scales = [d["scale"] for d in draws]
    assert 0.5 <= min(scales) < 0.6 and 1.4 < max(scales) <= 1.5
    qualities = [q for d in draws for q in d["qualities"]]
    assert min(qualities) >= 50 and max(qualities) <= 100
    assert 0.2 < np.mean([len(d["qualities"]) == 2 for d in draws]) < 0.4
    assert 0.4 < np.mean([d["capture_quality"] is not None for d in draws]) < 0.6
    assert {d["down_kernel"] for d in draws} == {"area", "linear", "cubic", "lanczos"}


def _h264_features(img: np.ndarray) -> np.ndarray:
    """The JPEG features plus what an H.264 frame shows: blockiness on the 4 px transform grid, the
    16 px macroblock grid, and chroma detail relative to luma (4:2:0 halves it)."""
    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    dx = np.abs(np.diff(g, axis=1))
    grids = [dx[:, k - 1 :: k].mean() / (dx.mean() + 1e-6) for k in (4, 16)]
    cr = cv2.cvtColor(img, cv2.COLOR_RGB2YCrCb)[..., 1].astype(np.float32)
    chroma = np.log(np.abs(cv2.Laplacian(cr, cv2.CV_32F)).mean() + 1e-3) - np.log(
        np.abs(cv2.Laplacian(g, cv2.CV_32F)).mean() + 1e-3
    )
    return np.r_[_container_features(img), grids, chroma]


def _auc(features, images, labels) -> float:
    x = np.stack([features(i) for i in images])
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return float(cross_val_score(clf, x, labels, cv=5, scoring="roc_auc").mean())


def test_video_frames_vs_png_is_near_chance_with_a_video_share():
    """Real video frames (H.264) beside generated PNGs: with no video share the pipeline leaves
    H.264's look as a cue; with one, both classes meet H.264 and JPEG and the cue weakens (it does not
    vanish: the real frames carry their first coding beneath the pipeline's)."""
    from fakelens.forge.perturb import perturb_video_frames

    rng = np.random.default_rng(3)
    n = 150
    pictures = [_picture(rng) for _ in range(2 * n)]
    labels = np.r_[np.zeros(n), np.ones(n)]  # 0: a video frame (CRF 18-40), 1: kept as PNG
    crfs = rng.integers(18, 41, 2 * n)
    stored = [
        perturb_video_frames([p], c)[0] if y == 0 else p
        for p, y, c in zip(pictures, labels, crfs, strict=True)
    ]
    assert _auc(_h264_features, stored, labels) > 0.95
    jpeg_only = [PhotoPipeline()(img, rng) for img in stored]
    with_video = [PhotoPipeline(video_share=0.5)(img, rng) for img in stored]
    before, after = _auc(_h264_features, jpeg_only, labels), _auc(_h264_features, with_video, labels)
    print(f"H.264 frame vs PNG: {before:.3f} after the JPEG-only pipeline, {after:.3f} with video_share 0.5")
    assert before > 0.85 and after < before - 0.1  # 0.881 -> 0.748 when written (deterministic seeds)


def test_video_share_draws_h264_instead_of_jpeg():
    rng = np.random.default_rng(2)
    draws = [PhotoPipeline(video_share=0.5).draw(rng) for _ in range(400)]
    video = [d for d in draws if d["crfs"] is not None]
    assert 0.4 < len(video) / len(draws) < 0.6
    assert all(not d["qualities"] and d["capture_quality"] is None for d in video)
    assert all(18 <= c <= 40 for d in video for c in d["crfs"])
    img = _picture(rng, 224)
    out = PhotoPipeline().apply(img, video[0])
    assert out.shape == img.shape and not np.array_equal(out, img)
    # the JPEG-only pipeline draws exactly as before video_share existed (1220bd0's draw for seed 5)
    draw = PhotoPipeline().draw(np.random.default_rng(5))
    assert draw["crfs"] is None and draw["capture_quality"] is None and draw["qualities"] == [51]
    assert draw["down_kernel"] == "lanczos" and draw["back_kernel"] == "area"
    assert np.isclose(draw["scale"], 0.5254988399591075) and np.isclose(draw["trim"][0], 0.017148082805288494)
