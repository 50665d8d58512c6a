"""Still-photo animation: one real frame warped to follow another clip's landmark motion.

Talking-head and reenactment tools (FOMM, SadTalker, LivePortrait) drive a single source image with a
driving video: keypoint motion *relative to the driving clip's first frame* is added to the source's
keypoints (FOMM's ``relative`` mode, scaled by ``sqrt(source hull area / driving hull area)``,
``adapt_movement_scale``) and the source is warped to the moved keypoints. Texture never changes -
skin, hair, lighting and camera noise are the source's, frozen - while geometry moves; that, and the
stretching where the warp has to invent what the source does not show, is what detectors can learn.

Differences from those tools: the warp is a piecewise-affine mesh over the 68 dlib landmarks, 10
forehead points, 2 cheek points and 8 fixed anchors outside the image (one Delaunay triangulation of
the *source*, kept for every frame so the mesh never re-triangulates between frames), not a learned
dense motion field plus an inpainting generator; nothing is synthesised where the source shows
nothing (an opening mouth stretches the lips, a blink squashes the eye); a frame's motion is scaled
down until no mesh triangle folds over, and clamped to ``max_shift`` x face size per point. All
randomness (motion gain, interpolation) comes from one ``numpy.random.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fakelens.forge.masks import forehead_points


@dataclass(frozen=True)
class AnimateConfig:
    gain: tuple[float, float] = (0.8, 1.25)  # motion amplitude multiplier, drawn once per clip
    max_shift: float = 0.12  # largest displacement of a landmark, fraction of the source face size
    interpolations: tuple[int, ...] = (cv2.INTER_LINEAR, cv2.INTER_CUBIC)
    moved_px: float = 1.0  # displacement (pixels) at which a pixel counts as fully moved in the mask


@dataclass(frozen=True)
class AnimatedFrame:
    """One animated frame: ``fake`` (uint8 HxWx3), ``mask`` (float32 HxW in [0, 1]: displacement of
    the warp at that pixel over ``moved_px``, zero exactly where ``fake`` equals the source),
    ``target`` (the source crop, the real it pairs with) and ``landmarks`` ((68, 2) where the source's
    landmarks were moved to)."""

    fake: np.ndarray
    mask: np.ndarray
    target: np.ndarray
    landmarks: np.ndarray


def _face_size(lm: np.ndarray) -> float:
    return float(max(np.ptp(lm[:, 0]), np.ptp(lm[:, 1]), 1.0))


def _hull_area(lm: np.ndarray) -> float:
    return float(cv2.contourArea(cv2.convexHull(np.asarray(lm, np.float32))))


def transfer_motion(
    source_lm: np.ndarray, driving_lms, gain: float = 1.0, max_shift: float | None = None
) -> list[np.ndarray]:
    """Source landmarks moved by each driving frame's motion relative to driving frame 0 (FOMM's
    relative transfer), scaled to the source face's size, times ``gain``; each point's displacement
    clamped to ``max_shift`` x source face size."""
    src = np.asarray(source_lm, np.float32)
    drv = [np.asarray(d, np.float32) for d in driving_lms]
    if not drv:
        return []
    scale = np.sqrt(_hull_area(src) / max(_hull_area(drv[0]), 1e-6)) * gain
    limit = None if max_shift is None else max_shift * _face_size(src)
    out = []
    for d in drv:
        move = (d - drv[0]) * scale
        if limit is not None:
            norm = np.linalg.norm(move, axis=1, keepdims=True)
            move = move * np.minimum(1.0, limit / np.maximum(norm, 1e-9))
        out.append((src + move).astype(np.float32))
    return out


def _mesh_points(lm: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Landmarks, forehead points, 2 cheek points (between the lower eyelid and the jaw: without them
    the mesh ties the mouth corners to the eyes) and 8 fixed anchors a quarter of the image outside it
    (aligned crops put the chin near the bottom edge: anchors on the edge would stop it moving down)."""
    h, w = shape
    cheeks = np.stack([(lm[41] + lm[2]) / 2, (lm[46] + lm[14]) / 2])
    m = 0.25 * max(h, w)
    x0, x1, y0, y1 = -m, w - 1 + m, -m, h - 1 + m
    border = np.array(
        [[x0, y0], [w / 2, y0], [x1, y0], [x1, h / 2], [x1, y1], [w / 2, y1], [x0, y1], [x0, h / 2]],
        np.float32,
    )
    return np.concatenate([lm, forehead_points(lm), cheeks, border]).astype(np.float32)


def _signed_areas(pts: np.ndarray, tri: np.ndarray) -> np.ndarray:
    a, b, c = pts[tri[:, 0]], pts[tri[:, 1]], pts[tri[:, 2]]
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


def _unfolded(src: np.ndarray, dst: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """``dst`` pulled back towards ``src`` by the largest motion fraction (bisection, 1/256 steps)
    at which every mesh triangle keeps its orientation and a tenth of its area."""
    base = _signed_areas(src, tri)

    def ok(alpha: float) -> bool:
        return bool(
            np.all(_signed_areas(src + alpha * (dst - src), tri) * np.sign(base) > 0.1 * np.abs(base))
        )

    if ok(1.0):
        return dst.astype(np.float32)
    lo, hi = 0.0, 1.0
    for _ in range(8):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return (src + lo * (dst - src)).astype(np.float32)


def mesh_maps(src: np.ndarray, dst: np.ndarray, tri: np.ndarray, shape: tuple[int, int]):
    """Backward ``cv2.remap`` maps of the mesh (triangles ``tri`` over both point sets) that moves
    ``src`` onto ``dst``; triangles with no moved vertex map exactly to themselves."""
    h, w = shape
    index = np.full((h, w), -1, np.int32)
    moved = np.linalg.norm(dst - src, axis=1) > 0
    affines = np.zeros((len(tri), 2, 3), np.float64)
    affines[:, 0, 0] = affines[:, 1, 1] = 1.0
    for k, t in enumerate(tri):
        cv2.fillConvexPoly(index, np.round(dst[t]).astype(np.int32), int(k))
        if moved[t].any():
            affines[k] = cv2.getAffineTransform(dst[t].astype(np.float32), src[t].astype(np.float32))
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    m = affines[np.maximum(index, 0)]
    map_x = m[..., 0, 0] * xs + m[..., 0, 1] * ys + m[..., 0, 2]
    map_y = m[..., 1, 0] * xs + m[..., 1, 1] * ys + m[..., 1, 2]
    outside = index < 0  # rounding gaps at the image border: sample in place
    map_x[outside], map_y[outside] = xs[outside], ys[outside]
    return map_x.astype(np.float32), map_y.astype(np.float32)


def _source_mesh(pts: np.ndarray) -> np.ndarray:
    """Delaunay triangles of the source's mesh points; a point repeating an earlier one (closed lips
    often give the same pixel twice) is left out of the mesh and its motion ignored."""
    from scipy.spatial import Delaunay

    near = np.abs(pts[:, None] - pts[None]).max(-1) <= 0.5
    keep = [i for i in range(len(pts)) if not near[i, :i].any()]
    tri = Delaunay(pts[keep]).simplices
    return np.asarray(keep)[tri]


def animate_still(
    source_crop: np.ndarray,
    source_lms: np.ndarray,
    driving_lms,
    rng: np.random.Generator,
    config: AnimateConfig | None = None,
) -> list[AnimatedFrame]:
    """Warp one aligned RGB uint8 crop (with (68, 2) landmarks) to follow each of ``driving_lms``
    (a sequence of (68, 2) landmarks from a driving clip, motion taken relative to its first frame):
    one frame per driving frame, the first one (no motion) equal to the source."""
    cfg = config or AnimateConfig()
    src_img = np.asarray(source_crop)
    shape = src_img.shape[:2]
    src_lm = np.asarray(source_lms, np.float32)
    if src_lm.shape != (68, 2) or any(np.shape(d) != (68, 2) for d in driving_lms):
        raise ValueError("expected (68, 2) source landmarks and a sequence of (68, 2) driving landmarks")
    gain = float(rng.uniform(*cfg.gain))
    interp = cfg.interpolations[int(rng.integers(len(cfg.interpolations)))]
    src_pts = _mesh_points(src_lm, shape)
    tri = _source_mesh(src_pts)
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    frames = []
    for lm in transfer_motion(src_lm, driving_lms, gain, cfg.max_shift):
        dst_pts = _unfolded(src_pts, _mesh_points(lm, shape), tri)
        map_x, map_y = mesh_maps(src_pts, dst_pts, tri, shape)
        disp = np.hypot(map_x - xs, map_y - ys)
        disp[disp < 1 / 64] = 0  # below remap's 1/32 px resolution: the pixel is copied unchanged
        fake = cv2.remap(src_img, map_x, map_y, interp, borderMode=cv2.BORDER_REFLECT)
        fake[disp == 0] = src_img[disp == 0]
        mask = np.clip(disp / cfg.moved_px, 0, 1).astype(np.float32)
        frames.append(AnimatedFrame(fake=fake, mask=mask, target=src_img, landmarks=dst_pts[:68].copy()))
    return frames


@dataclass(frozen=True)
class PortraitConfig:
    sizes: tuple[int, ...] = (256, 512)  # the output sizes of SadTalker/LivePortrait-style tools
    crf: tuple[int, int] = (18, 32)  # their mp4 output, inclusive
    animate: AnimateConfig = AnimateConfig()


def animate_portrait(
    portrait_crop: np.ndarray,
    portrait_lms: np.ndarray,
    driving_lms,
    rng: np.random.Generator,
    config: PortraitConfig | None = None,
) -> list[np.ndarray]:
    """A talking-head video of a *generated* face: a GAN or diffusion portrait (aligned crop, (68, 2)
    landmarks) animated by a real clip's landmark motion (:func:`animate_still`), rendered at one of
    ``sizes`` and coded as one H.264 clip at one CRF, then brought back to the crop's size. Returns
    the frames (uint8 RGB, the crop's shape), the first one unmoved.

    Why: talking-head generators paint every frame's face with a generator, so their faces carry a
    generator's texture; :func:`animate_still` on a real frame keeps a camera's texture. A generated
    portrait moved this way gives video samples with a synthetic texture and real motion (no audio,
    no learned renderer: the texture is the portrait's, frozen, as in :func:`animate_still`). The clip
    is coded at 25 fps whatever the driving frames' spacing: sparse driving frames give jerkier motion
    and heavier P-frames than a tool's output. Aligned crops are square; other shapes are stretched."""
    from fakelens.forge.perturb import perturb_video_frames

    cfg = config or PortraitConfig()
    h, w = np.asarray(portrait_crop).shape[:2]
    moved = [f.fake for f in animate_still(portrait_crop, portrait_lms, driving_lms, rng, cfg.animate)]
    size = int(cfg.sizes[int(rng.integers(len(cfg.sizes)))])
    crf = int(rng.integers(cfg.crf[0], cfg.crf[1] + 1))
    big = [cv2.resize(f, (size, size), interpolation=cv2.INTER_CUBIC) for f in moved]
    coded = perturb_video_frames(big, crf, preset="veryfast", tune="zerolatency", threads=1)
    return [np.ascontiguousarray(cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA)) for f in coded]
